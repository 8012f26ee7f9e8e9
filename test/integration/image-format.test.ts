import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';

import { AbortError, Image, IoCtx, Rbd } from '../../lib';
import { ImageFormatMismatch, QemuImgFailed, qemuImgConvert, verifyImageFile, withTempDir, type RbdTarget } from '../../lib/image-format';
import { cliBuffer, confFile, uniqueName, withPool } from '../helpers/cluster';
import { MiB, entries, isAlive, processesWith, qemuImg, scratchDir, sha256, writeRawWithData } from '../helpers/image-files';

describe('image-format: qemu-img with rbd: targets (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_cluster, io) => {
    ioctx = io;
  });
  const scratch = scratchDir('image-format-rbd');
  const f = scratch.file;
  let raw: Buffer;
  const created: string[] = [];
  const target = (image: string): RbdTarget => ({ pool: 'rbd', image, confFile: confFile() });
  const newVolume = async (size: number): Promise<string> => {
    const name = uniqueName('imgfmt');
    await Rbd.create(ioctx, name, size);
    created.push(name);
    return name;
  };

  before(() => {
    raw = writeRawWithData(f('data.raw'), 16 * MiB);
    for (const fmt of ['qcow2', 'vmdk', 'vhdx', 'vpc', 'vdi']) qemuImg('convert', '-f', 'raw', '-O', fmt, f('data.raw'), f(`data.${fmt}`));
  });
  after(async () => {
    for (const name of created) await Rbd.remove(ioctx, name).catch(() => undefined);
    scratch.cleanup();
  });

  for (const fmt of ['qcow2', 'vmdk', 'vhdx', 'vpc', 'vdi']) {
    it(`${fmt} -> rbd volume: the volume equals qemu-img convert of the same file`, async () => {
      const checked = await verifyImageFile(f(`data.${fmt}`), { diskFormat: fmt === 'vpc' ? 'vhd' : fmt });
      const volume = await newVolume(checked.virtualSize);
      await qemuImgConvert(f(`data.${fmt}`), target(volume), { srcFormat: checked.qemuFormat, dstFormat: 'raw' });
      qemuImg('convert', '-f', fmt, '-O', 'raw', f(`data.${fmt}`), f(`ref-${fmt}.raw`));
      const exported = await cliBuffer('rbd', ['export', `rbd/${volume}`, '-']);
      assert.equal(sha256(exported), sha256(readFileSync(f(`ref-${fmt}.raw`))));
      assert.equal(sha256(exported.subarray(0, raw.length)), sha256(raw));
    });
  }

  it('rbd volume -> qcow2 file (copyVolumeToImage direction) reads back equal', async () => {
    const volume = await newVolume(16 * MiB);
    const image = await Image.open(ioctx, volume);
    try {
      await image.write(raw, 0);
    } finally {
      await image.close();
    }
    await qemuImgConvert(target(volume), f('from-volume.qcow2'), { srcFormat: 'raw', dstFormat: 'qcow2' });
    qemuImg('convert', '-f', 'qcow2', '-O', 'raw', f('from-volume.qcow2'), f('from-volume.raw'));
    assert.equal(sha256(readFileSync(f('from-volume.raw'))), sha256(raw));
  });

  it('a lying format is refused before anything is written to the volume, and no temp file remains', async () => {
    const volume = await newVolume(16 * MiB);
    const before = entries(scratch.dir);
    await assert.rejects(
      withTempDir(
        async (dir) => {
          writeFileSync(`${dir}/image`, readFileSync(f('data.qcow2')));
          const checked = await verifyImageFile(`${dir}/image`, { diskFormat: 'raw' });
          await qemuImgConvert(`${dir}/image`, target(volume), { srcFormat: checked.qemuFormat, dstFormat: 'raw' });
        },
        { parent: scratch.dir },
      ),
      (e: unknown) => e instanceof ImageFormatMismatch && e.code === 'ERR_IMAGE_FORMAT_MISMATCH',
    );
    assert.deepEqual(entries(scratch.dir), before);
    const exported = await cliBuffer('rbd', ['export', `rbd/${volume}`, '-']);
    assert.ok(exported.every((b) => b === 0), 'the volume was written');
  });

  it('a missing destination volume is QemuImgFailed (qemu never creates rbd images here)', async () => {
    const missing = uniqueName('imgfmt-missing');
    await assert.rejects(qemuImgConvert(f('data.qcow2'), target(missing), { srcFormat: 'qcow2', dstFormat: 'raw' }), (e: unknown) => {
      assert.ok(e instanceof QemuImgFailed);
      assert.equal(e.code, 'ERR_QEMU_IMG_FAILED');
      assert.notEqual(e.exitCode, 0);
      return true;
    });
    assert.ok(!(await Rbd.list(ioctx)).includes(missing));
  });

  it('an abort while converting into a volume kills qemu-img and rejects with AbortError', async () => {
    const big = f('big.raw');
    const data = Buffer.alloc(128 * MiB, 3);
    for (let at = 0; at < data.length; at += 4096) data.writeUInt32LE(at, at);
    writeFileSync(big, data);
    const volume = await newVolume(data.length);
    const ac = new AbortController();
    let pid = 0;
    await assert.rejects(
      qemuImgConvert(big, target(volume), {
        srcFormat: 'raw',
        dstFormat: 'raw',
        signal: ac.signal,
        onProgress: () => {
          if (pid) return;
          [pid] = processesWith(volume);
          ac.abort();
        },
      }),
      (e: unknown) => e instanceof AbortError && e.code === 'ABORT_ERR',
    );
    assert.ok(pid > 0, 'qemu-img was seen running');
    assert.equal(isAlive(pid), false);
    assert.deepEqual(processesWith(volume), []);
  });
});
