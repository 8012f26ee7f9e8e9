import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

import { detectBufferFormat, detectFileFormat, detectFormat, type DetectedImage } from '../../lib/image-format';
import { MiB, descriptor, qcow2Header, qemuImg, scratchDir, vhdFooter, vmdkWithDescriptor, writeRawWithData } from '../helpers/image-files';

describe('image-format inspector: files made by qemu-img', () => {
  const scratch = scratchDir('inspect');
  const f = scratch.file;
  before(() => {
    writeRawWithData(f('data.raw'), 8 * MiB);
    qemuImg('create', '-q', '-f', 'qcow2', f('empty.qcow2'), '64M');
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', f('data.raw'), f('data.qcow2'));
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', f('v2.qcow2'), '16M');
    qemuImg('create', '-q', '-f', 'qed', f('img.qed'), '16M');
    qemuImg('convert', '-f', 'raw', '-O', 'vmdk', f('data.raw'), f('sparse.vmdk'));
    qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', f('data.raw'), f('stream.vmdk'));
    qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', f('flat.vmdk'), '16M');
    qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', f('two.vmdk'), '16M');
    qemuImg('convert', '-f', 'raw', '-O', 'vpc', f('data.raw'), f('dynamic.vhd'));
    qemuImg('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed', f('data.raw'), f('fixed.vhd'));
    qemuImg('convert', '-f', 'raw', '-O', 'vhdx', f('data.raw'), f('data.vhdx'));
    qemuImg('convert', '-f', 'raw', '-O', 'vdi', f('data.raw'), f('data.vdi'));
    qemuImg('create', '-q', '-f', 'qcow2', '-b', f('empty.qcow2'), '-F', 'qcow2', f('backed.qcow2'));
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${f('external.raw')}`, f('datafile.qcow2'), '16M');
    qemuImg('create', '-q', '-f', 'luks', '--object', 'secret,id=s0,data=pw', '-o', 'key-secret=s0,iter-time=10', f('img.luks'), '16M');
  });
  after(() => scratch.cleanup());

  const cases: Array<[string, Partial<DetectedImage>]> = [
    ['data.raw', { format: 'raw', qemuFormat: 'raw', virtualSize: 8 * MiB, unsafe: [] }],
    ['empty.qcow2', { format: 'qcow2', qemuFormat: 'qcow2', virtualSize: 64 * MiB, unsafe: [] }],
    ['data.qcow2', { format: 'qcow2', virtualSize: 8 * MiB, unsafe: [] }],
    ['v2.qcow2', { format: 'qcow2', virtualSize: 16 * MiB, unsafe: [] }],
    ['img.qed', { format: 'qed', virtualSize: 16 * MiB, unsafe: [] }],
    ['sparse.vmdk', { format: 'vmdk', subformat: 'monolithicSparse', virtualSize: 8 * MiB, unsafe: [] }],
    ['stream.vmdk', { format: 'vmdk', subformat: 'streamOptimized', virtualSize: 8 * MiB, unsafe: [] }],
    ['flat.vmdk', { format: 'vmdk', subformat: 'monolithicFlat', unsafe: ['create-type', 'extent'] }],
    ['two.vmdk', { format: 'vmdk', subformat: 'twoGbMaxExtentSparse', unsafe: ['create-type', 'extent'] }],
    ['dynamic.vhd', { format: 'vpc', qemuFormat: 'vpc', subformat: 'dynamic', unsafe: [] }],
    ['fixed.vhd', { format: 'vpc', subformat: 'fixed', unsafe: [] }],
    ['data.vhdx', { format: 'vhdx', virtualSize: 8 * MiB, unsafe: [] }],
    ['data.vdi', { format: 'vdi', subformat: 'dynamic', virtualSize: 8 * MiB, unsafe: [] }],
    ['backed.qcow2', { format: 'qcow2', virtualSize: 64 * MiB, unsafe: ['backing-file'] }],
    ['datafile.qcow2', { format: 'qcow2', virtualSize: 16 * MiB, unsafe: ['data-file'] }],
    ['img.luks', { format: 'luks', subformat: 'luks1', virtualSize: 16 * MiB, unsafe: ['encrypted'] }],
  ];
  for (const [name, expected] of cases) {
    it(`${name} -> ${expected.format}${expected.unsafe?.length ? ` unsafe: ${expected.unsafe.join(', ')}` : ''}`, async () => {
      const found = await detectFileFormat(f(name));
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(found[key as keyof DetectedImage], value, `${name}: ${key} in ${JSON.stringify(found)}`);
    });
  }

  it('names the backing file and the data file it found (for messages)', async () => {
    assert.equal((await detectFileFormat(f('backed.qcow2'))).details.backingFile, f('empty.qcow2'));
    assert.equal((await detectFileFormat(f('datafile.qcow2'))).details.dataFile, f('external.raw'));
    assert.equal((await detectFileFormat(f('flat.vmdk'))).details.createType, 'monolithicFlat');
  });

  it('a vhd virtual size is the footer current size (qemu may round it by geometry)', async () => {
    const info = JSON.parse(qemuImg('info', '--output=json', '-f', 'vpc', f('fixed.vhd'))) as { 'virtual-size': number };
    assert.equal((await detectFileFormat(f('fixed.vhd'))).virtualSize, info['virtual-size']);
  });

  it('a Buffer head gives the same answer as the file for qcow2 and vmdk', async () => {
    for (const name of ['data.qcow2', 'sparse.vmdk', 'backed.qcow2', 'datafile.qcow2']) {
      const bytes = readFileSync(f(name));
      const fromBuffer = await detectBufferFormat(bytes.subarray(0, 1 * MiB), { size: bytes.length });
      assert.deepEqual(fromBuffer, await detectFileFormat(f(name)), name);
    }
  });

  it('a fixed vhd in a Buffer needs its tail; without it the footer is not seen', async () => {
    const bytes = readFileSync(f('fixed.vhd'));
    assert.equal((await detectBufferFormat(bytes.subarray(0, 4096), { size: bytes.length, tail: bytes.subarray(-512) })).format, 'vpc');
    assert.equal((await detectBufferFormat(bytes.subarray(0, 4096), { size: bytes.length })).format, 'raw');
  });

  it('a vhdx whose metadata region is beyond the given head is "incomplete", not safe', async () => {
    const bytes = readFileSync(f('data.vhdx'));
    const found = await detectBufferFormat(bytes.subarray(0, 1 * MiB), { size: bytes.length });
    assert.equal(found.format, 'vhdx');
    assert.deepEqual(found.unsafe, ['incomplete']);
  });

  it('works through a positional reader and asks only for header bytes', async () => {
    const bytes = readFileSync(f('data.qcow2'));
    let asked = 0;
    const found = await detectFormat(async (offset, length) => {
      asked += length;
      return bytes.subarray(offset, offset + length);
    }, bytes.length);
    assert.equal(found.format, 'qcow2');
    assert.ok(asked <= 2 * MiB, `read ${asked} bytes`);
  });
});

describe('image-format inspector: hostile and odd headers', () => {
  const detect = (bytes: Buffer): Promise<DetectedImage> => detectBufferFormat(bytes);

  it('qcow2 with a backing file offset is unsafe (backing-file)', async () => {
    const h = qcow2Header(MiB);
    h.write('/etc/shadow', 1024, 'latin1');
    h.writeBigUInt64BE(1024n, 8);
    h.writeUInt32BE(11, 16);
    const found = await detect(h);
    assert.deepEqual(found.unsafe, ['backing-file']);
    assert.equal(found.details.backingFile, '/etc/shadow');
  });

  it('qcow2 with only the external data file feature bit is unsafe (data-file)', async () => {
    const h = qcow2Header(MiB);
    h.writeBigUInt64BE(1n << 2n, 72);
    assert.deepEqual((await detect(h)).unsafe, ['data-file']);
  });

  it('qcow2 with only a data-file header extension (no bit) is unsafe (data-file)', async () => {
    const h = qcow2Header(MiB);
    h.writeUInt32BE(0x44415441, 104);
    h.writeUInt32BE(10, 108);
    h.write('/dev/sda1\0', 112, 'latin1');
    const found = await detect(h);
    assert.deepEqual(found.unsafe, ['data-file']);
    assert.equal(found.details.dataFile, '/dev/sda1\0');
  });

  it('qcow2 with unknown incompatible feature bits or the corrupt bit is unsafe', async () => {
    const h = qcow2Header(MiB);
    h.writeBigUInt64BE(1n << 40n, 72);
    assert.deepEqual((await detect(h)).unsafe, ['unknown-features']);
    h.writeBigUInt64BE(1n << 1n, 72);
    assert.deepEqual((await detect(h)).unsafe, ['corrupt']);
  });

  it('qcow2 with an encryption method is unsafe (encrypted); a bad cluster size is invalid-header', async () => {
    const h = qcow2Header(MiB);
    h.writeUInt32BE(2, 32);
    assert.deepEqual((await detect(h)).unsafe, ['encrypted']);
    const bad = qcow2Header(MiB);
    bad.writeUInt32BE(40, 20);
    assert.deepEqual((await detect(bad)).unsafe, ['invalid-header']);
  });

  it('qcow2 header extensions past the first cluster or overrunning it are handled without reading beyond', async () => {
    const big = qcow2Header(MiB);
    big.writeUInt32BE(21, 20); // 2 MiB clusters
    big.writeUInt32BE(1536 * 1024, 100); // header length past the 1 MiB read cap
    assert.deepEqual((await detect(Buffer.concat([big, Buffer.alloc(2 * MiB)]))).unsafe, []);
    const overrun = qcow2Header(MiB);
    overrun.writeUInt32BE(0x12345678, 104);
    overrun.writeUInt32BE(0xfffffff0, 108);
    assert.deepEqual((await detect(overrun)).unsafe, ['truncated']);
    overrun.writeUInt32BE(70000, 108);
    assert.deepEqual((await detect(Buffer.concat([overrun, Buffer.alloc(MiB)]))).unsafe, ['invalid-header']);
  });

  it('a qcow2 size beyond 2^53 is invalid-header with no virtual size', async () => {
    const h = qcow2Header(0);
    h.writeBigUInt64BE(1n << 60n, 24);
    const found = await detect(h);
    assert.deepEqual(found.unsafe, ['invalid-header']);
    assert.equal(found.virtualSize, null);
  });

  it('truncated headers are unsafe (truncated), never raw', async () => {
    assert.deepEqual(await detect(qcow2Header(MiB).subarray(0, 50)).then((d) => [d.format, d.unsafe]), ['qcow2', ['truncated']]);
    assert.deepEqual(await detect(vmdkWithDescriptor('x').subarray(0, 100)).then((d) => [d.format, d.unsafe]), ['vmdk', ['truncated']]);
    const vmdk = vmdkWithDescriptor(descriptor('monolithicSparse', 'RW 2048 SPARSE "a.vmdk"'));
    assert.deepEqual(await detect(vmdk.subarray(0, 700)).then((d) => [d.format, d.unsafe]), ['vmdk', ['truncated']]);
    const dyn = vhdFooter(3, MiB, 512n);
    assert.deepEqual(await detect(dyn).then((d) => [d.format, d.unsafe]), ['vpc', ['truncated']]);
    const vdi = Buffer.alloc(0x100);
    vdi.writeUInt32LE(0xbeda107f, 0x40);
    assert.deepEqual(await detect(vdi).then((d) => [d.format, d.unsafe]), ['vdi', ['truncated']]);
  });

  it('vmdk: monolithicSparse with one SPARSE extent in the file is safe', async () => {
    const found = await detect(vmdkWithDescriptor(descriptor('monolithicSparse', 'RW 2048 SPARSE "disk.vmdk"')));
    assert.deepEqual([found.format, found.subformat, found.virtualSize, found.unsafe], ['vmdk', 'monolithicSparse', MiB, []]);
  });

  it('vmdk: monolithicFlat, twoGbMaxExtentSparse and vmfs create types are refused (create-type)', async () => {
    for (const type of ['monolithicFlat', 'twoGbMaxExtentSparse', 'vmfs']) {
      const found = await detect(vmdkWithDescriptor(descriptor(type, 'RW 2048 SPARSE "disk.vmdk"')));
      assert.deepEqual(found.unsafe, ['create-type'], type);
      assert.equal(found.details.createType, type);
    }
  });

  it('vmdk: an extent naming a path, a FLAT extent, or two extents are refused (extent)', async () => {
    for (const extent of ['RW 2048 SPARSE "/etc/passwd"', 'RW 2048 FLAT "disk-flat.vmdk" 0', 'RW 1024 SPARSE "a.vmdk"\nRW 1024 SPARSE "b.vmdk"', 'RW 2048 SPARSE "..\\\\x"']) {
      assert.deepEqual((await detect(vmdkWithDescriptor(descriptor('monolithicSparse', extent)))).unsafe, ['extent'], extent);
    }
  });

  it('vmdk: a parent (delta disk) is a backing file; an unknown line or non-ASCII is refused (descriptor)', async () => {
    const child = await detect(vmdkWithDescriptor(descriptor('monolithicSparse', 'RW 2048 SPARSE "d.vmdk"', 'parentFileNameHint="/var/lib/base.vmdk"\n')));
    assert.deepEqual(child.unsafe, ['backing-file']);
    assert.equal(child.details.backingFile, '/var/lib/base.vmdk');
    const odd = await detect(vmdkWithDescriptor(descriptor('monolithicSparse', 'RW 2048 SPARSE "d.vmdk"', 'this is not a field\n')));
    assert.deepEqual(odd.unsafe, ['descriptor']);
    const binary = await detect(vmdkWithDescriptor(descriptor('monolithicSparse', 'RW 2048 SPARSE "d\u00e9.vmdk"')));
    assert.ok(binary.unsafe.includes('descriptor'));
  });

  it('a text-only vmdk descriptor is refused even when it claims monolithicSparse', async () => {
    const found = await detect(Buffer.from(descriptor('monolithicSparse', 'RW 2048 SPARSE "other.vmdk"'), 'latin1'));
    assert.equal(found.format, 'vmdk');
    assert.deepEqual(found.unsafe, ['extent']);
  });

  it('vhd: a differencing footer is unsafe; a fixed footer only at the end is vpc', async () => {
    const diff = Buffer.concat([vhdFooter(4, MiB, 512n), Buffer.from('cxsparse'), Buffer.alloc(1016)]);
    assert.deepEqual((await detect(diff)).unsafe, ['differencing', 'backing-file']);
    const fixed = Buffer.concat([Buffer.alloc(MiB), vhdFooter(2, MiB)]);
    const found = await detect(fixed);
    assert.deepEqual([found.format, found.subformat, found.virtualSize, found.unsafe], ['vpc', 'fixed', MiB, []]);
  });

  it('ISO 9660 is iso (raw to qemu); MBR and GPT stay raw', async () => {
    const iso = Buffer.alloc(0x9000);
    iso[0x8000] = 1;
    iso.write('CD001', 0x8001, 'latin1');
    const found = await detect(iso);
    assert.deepEqual([found.format, found.qemuFormat, found.unsafe], ['iso', 'raw', []]);
    const disk = Buffer.alloc(MiB);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    assert.deepEqual(await detect(disk).then((d) => [d.format, d.partitionTable]), ['raw', 'mbr']);
    disk[450] = 0xee;
    disk.write('EFI PART', 512, 'latin1');
    assert.deepEqual(await detect(disk).then((d) => [d.format, d.partitionTable, d.unsafe]), ['raw', 'gpt', []]);
  });

  it('bytes that match two formats are ambiguous (qcow2 + ISO, qcow2 + vhd footer)', async () => {
    const h = Buffer.concat([qcow2Header(MiB), Buffer.alloc(0x10000)]);
    h.write('CD001', 0x8001, 'latin1');
    const found = await detect(h);
    assert.deepEqual([found.format, found.unsafe, found.details.alsoMatches], ['qcow2', ['ambiguous'], 'iso']);
    const both = Buffer.concat([qcow2Header(MiB), vhdFooter(2, MiB)]);
    assert.deepEqual(await detect(both).then((d) => [d.format, d.unsafe, d.details.alsoMatches]), ['qcow2', ['ambiguous'], 'vpc']);
  });

  it('formats qemu knows but this layer never accepts are recognised, not taken for raw', async () => {
    const qcow1 = Buffer.alloc(512);
    qcow1.write('QFI\xfb', 0, 'latin1');
    qcow1.writeUInt32BE(1, 4);
    assert.equal((await detect(qcow1)).format, 'qcow');
    assert.equal((await detect(Buffer.concat([Buffer.from('WithoutFreeSpace'), Buffer.alloc(512)]))).format, 'parallels');
    assert.equal((await detect(Buffer.concat([Buffer.from('Bochs Virtual HD Image'), Buffer.alloc(512)]))).format, 'bochs');
    const dmg = Buffer.alloc(4096);
    dmg.write('koly', 4096 - 512, 'latin1');
    assert.equal((await detect(dmg)).format, 'dmg');
  });

  it('random bytes are raw, and an empty or tiny file is raw', async () => {
    for (let i = 0; i < 20; i++) {
      const bytes = randomBytes(64 * 1024);
      const found = await detect(bytes);
      assert.equal(found.format, 'raw', bytes.subarray(0, 16).toString('hex'));
      assert.equal(found.virtualSize, bytes.length);
    }
    assert.deepEqual(await detect(Buffer.alloc(0)).then((d) => [d.format, d.virtualSize]), ['raw', 0]);
    assert.equal((await detect(Buffer.from('QF'))).format, 'raw');
  });

  it('a file on disk with random bytes at the start is raw', async () => {
    const scratch = scratchDir('inspect-rand');
    try {
      const file = scratch.file('random.img');
      writeFileSync(file, Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(MiB)]));
      assert.equal((await detectFileFormat(file)).format, 'raw');
    } finally {
      scratch.cleanup();
    }
  });

  it('bad arguments are TypeError/RangeError with Node codes', async () => {
    await assert.rejects(detectFormat('x' as never, 10), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: "Expected a function for read but received 'x'" });
    await assert.rejects(detectFormat(async () => Buffer.alloc(0), -1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(detectFormat(async () => 'nope' as never, 10), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => detectBufferFormat('x' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => detectBufferFormat(Buffer.alloc(10), { size: 5 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(detectFileFormat(''), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(detectFileFormat('/'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(detectFileFormat('/nonexistent/file.img'), { code: 'ENOENT' });
  });
});
