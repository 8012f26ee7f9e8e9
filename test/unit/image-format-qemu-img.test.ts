import { strict as assert } from 'node:assert';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

import { AbortError } from '../../lib/errors';
import { QEMU_IMG_INFO_LIMITS, QemuImgFailed, QemuImgMissing, qemuImgConvert, qemuImgInfo, parseQemuImgInfo, rbdTargetString } from '../../lib/image-format';
import { MiB, entries, isAlive, processesWith, qemuImg, scratchDir, sha256, sha256File, writeRawWithData } from '../helpers/image-files';

/** A fake qemu-img: a shell script with the given body. */
function fakeQemuImg(file: string, body: string): string {
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

describe('image-format qemu-img wrapper', () => {
  const scratch = scratchDir('qemu-img');
  const f = scratch.file;
  let raw: Buffer;
  before(() => {
    raw = writeRawWithData(f('data.raw'), 8 * MiB);
    for (const [fmt, opts] of [['qcow2', []], ['vmdk', []], ['vpc', []], ['vhdx', []], ['vdi', []]] as Array<[string, string[]]>) {
      qemuImg('convert', '-f', 'raw', '-O', fmt, ...opts, f('data.raw'), f(`data.${fmt}`));
    }
  });
  after(() => scratch.cleanup());

  describe('qemuImgInfo', () => {
    it('parses qemu-img info --output=json', async () => {
      const info = await qemuImgInfo(f('data.qcow2'));
      assert.equal(info.format, 'qcow2');
      assert.equal(info.virtualSize, 8 * MiB);
      assert.equal(info.clusterSize, 65536);
      assert.equal(info.backingFile, null);
      assert.equal(info.dataFile, null);
      assert.equal(info.encrypted, false);
      assert.equal(info.formatSpecific?.type, 'qcow2');
      const vmdk = await qemuImgInfo(f('data.vmdk'));
      assert.deepEqual([vmdk.format, vmdk.createType], ['vmdk', 'monolithicSparse']);
    });

    it('with format, opens the file as that format (-f)', async () => {
      assert.equal((await qemuImgInfo(f('data.qcow2'), { format: 'raw' })).format, 'raw');
      await assert.rejects(qemuImgInfo(f('data.raw'), { format: 'qcow2' }), (e: unknown) => {
        assert.ok(e instanceof QemuImgFailed);
        assert.equal(e.code, 'ERR_QEMU_IMG_FAILED');
        assert.equal(e.exitCode, 1);
        assert.match(e.stderr, /qcow2/);
        assert.deepEqual(e.args.slice(0, 4), ['info', '--output=json', '-f', 'qcow2']);
        return true;
      });
    });

    it('runs under the address-space and CPU limits', async () => {
      const fake = fakeQemuImg(f('limits-qemu-img'), 'printf \'{"format":"raw","virtual-size":%s,"actual-size":%s}\' "$(ulimit -v)" "$(ulimit -t)"');
      const info = await qemuImgInfo(f('data.raw'), { qemuImgPath: fake });
      assert.equal(info.virtualSize * 1024, QEMU_IMG_INFO_LIMITS.addressSpaceBytes);
      assert.equal(info.actualSize, QEMU_IMG_INFO_LIMITS.cpuSeconds);
    });

    it('a missing qemu-img is QemuImgMissing', async () => {
      await assert.rejects(qemuImgInfo(f('data.raw'), { qemuImgPath: f('no-such-qemu-img') }), (e: unknown) => {
        assert.ok(e instanceof QemuImgMissing);
        assert.equal(e.code, 'ERR_QEMU_IMG_MISSING');
        assert.equal(e.name, 'QemuImgMissing');
        return true;
      });
      const savedPath = process.env.PATH;
      process.env.PATH = f('empty-path');
      try {
        await assert.rejects(qemuImgInfo(f('data.raw')), { name: 'QemuImgMissing', code: 'ERR_QEMU_IMG_MISSING' });
      } finally {
        process.env.PATH = savedPath;
      }
    });

    it('a failing or garbled qemu-img is QemuImgFailed with its status and stderr', async () => {
      const failing = fakeQemuImg(f('failing-qemu-img'), 'echo "qemu-img: boom" >&2; exit 3');
      await assert.rejects(qemuImgInfo(f('data.raw'), { qemuImgPath: failing }), (e: unknown) => {
        assert.ok(e instanceof QemuImgFailed);
        assert.equal(e.exitCode, 3);
        assert.equal(e.signal, null);
        assert.equal(e.stderr, 'qemu-img: boom\n');
        assert.match(e.message, /^qemu-img info exited with status 3: qemu-img: boom$/);
        return true;
      });
      const garbled = fakeQemuImg(f('garbled-qemu-img'), 'echo not json');
      await assert.rejects(qemuImgInfo(f('data.raw'), { qemuImgPath: garbled }), { name: 'QemuImgFailed', code: 'ERR_QEMU_IMG_FAILED', message: 'qemu-img info printed output that is not JSON' });
      await assert.rejects(qemuImgInfo(f('missing.img')), { name: 'QemuImgFailed', exitCode: 1 });
    });

    it('an abort kills qemu-img and rejects with AbortError', async () => {
      // A fractional duration no other process uses marks our sleep in /proc.
      const marker = `29.${process.pid}${Date.now() % 100000}`;
      const slow = fakeQemuImg(f('slow-qemu-img'), `exec sleep ${marker}`);
      const ac = new AbortController();
      let pid = 0;
      const timer = setInterval(() => {
        [pid] = processesWith(marker);
        if (pid) {
          clearInterval(timer);
          ac.abort();
        }
      }, 20);
      const started = Date.now();
      await assert.rejects(qemuImgInfo(f('data.raw'), { qemuImgPath: slow, signal: ac.signal }), (e: unknown) => {
        assert.ok(e instanceof AbortError);
        assert.equal(e.code, 'ABORT_ERR');
        return true;
      });
      clearInterval(timer);
      assert.ok(pid > 0);
      assert.equal(isAlive(pid), false, 'the child still runs');
      assert.ok(Date.now() - started < 20_000);
    });

    it('an already aborted signal starts nothing', async () => {
      const marker = f('never-started');
      const fake = fakeQemuImg(f('touch-qemu-img'), `touch ${marker}`);
      await assert.rejects(qemuImgInfo(f('data.raw'), { qemuImgPath: fake, signal: AbortSignal.abort() }), { name: 'AbortError' });
      assert.equal(existsSync(marker), false);
    });

    it('rejects bad arguments with Node codes', async () => {
      await assert.rejects(qemuImgInfo(42 as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      await assert.rejects(qemuImgInfo(f('data.raw'), { format: 'qed' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: "Expected one of raw, qcow2, vmdk, vpc, vhdx, vdi for options.format but received 'qed'" });
      await assert.rejects(qemuImgInfo(f('data.raw'), { signal: {} as never }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });

    it('parseQemuImgInfo refuses JSON without format or virtual-size', () => {
      assert.throws(() => parseQemuImgInfo('{"format":"raw"}'), { name: 'QemuImgFailed', message: 'qemu-img info printed JSON without format or virtual-size' });
      assert.throws(() => parseQemuImgInfo('[1]'), { name: 'QemuImgFailed' });
      const info = parseQemuImgInfo('{"format":"qcow2","virtual-size":5,"backing-filename":"b","format-specific":{"type":"qcow2","data":{"data-file":"d"}}}');
      assert.deepEqual([info.backingFile, info.dataFile], ['b', 'd']);
    });
  });

  describe('qemuImgConvert', () => {
    for (const fmt of ['qcow2', 'vmdk', 'vpc', 'vhdx', 'vdi']) {
      it(`${fmt} -> raw file equals the original bytes (up to the virtual size)`, async () => {
        const out = f(`out-${fmt}.raw`);
        await qemuImgConvert(f(`data.${fmt}`), out, { srcFormat: fmt, dstFormat: 'raw' });
        const got = readFileSync(out);
        assert.equal(sha256(got.subarray(0, raw.length)), sha256(raw));
        assert.ok(got.subarray(raw.length).every((b) => b === 0));
      });
    }

    it('raw -> qcow2, reports progress up to 100, and qemu-img reads it back', async () => {
      const seen: number[] = [];
      await qemuImgConvert(f('data.raw'), f('back.qcow2'), { srcFormat: 'raw', dstFormat: 'qcow2', onProgress: (done, total) => seen.push(done / total) });
      assert.ok(seen.length > 0 && seen[seen.length - 1] === 1, JSON.stringify(seen));
      qemuImg('convert', '-f', 'qcow2', '-O', 'raw', f('back.qcow2'), f('back.raw'));
      assert.equal(sha256File(f('back.raw')), sha256(raw));
    });

    it('a failing conversion is QemuImgFailed and removes the destination it created', async () => {
      const before = entries(scratch.dir);
      await assert.rejects(qemuImgConvert(f('data.raw'), f('bad.raw'), { srcFormat: 'qcow2', dstFormat: 'raw' }), (e: unknown) => {
        assert.ok(e instanceof QemuImgFailed);
        assert.equal(e.code, 'ERR_QEMU_IMG_FAILED');
        assert.equal(e.exitCode, 1);
        assert.match(e.stderr, /qcow2/);
        return true;
      });
      assert.deepEqual(entries(scratch.dir), before);
    });

    it('refuses an existing destination file and leaves it alone', async () => {
      writeFileSync(f('taken.raw'), 'mine');
      await assert.rejects(qemuImgConvert(f('data.qcow2'), f('taken.raw'), { srcFormat: 'qcow2', dstFormat: 'raw' }), { code: 'EEXIST' });
      assert.equal(readFileSync(f('taken.raw'), 'utf8'), 'mine');
    });

    it('an abort kills qemu-img, removes the destination and rejects with AbortError', async () => {
      const big = f('big.raw');
      const data = Buffer.alloc(128 * MiB, 7);
      for (let at = 0; at < data.length; at += 4096) data.writeUInt32LE(at, at);
      writeFileSync(big, data);
      const dst = f('aborted.qcow2');
      const before = entries(scratch.dir);
      const ac = new AbortController();
      let pid = 0;
      const pending = qemuImgConvert(big, dst, {
        srcFormat: 'raw',
        dstFormat: 'qcow2',
        signal: ac.signal,
        onProgress: () => {
          if (pid) return;
          [pid] = processesWith(dst);
          ac.abort(new Error('stop'));
        },
      });
      await assert.rejects(pending, (e: unknown) => {
        assert.ok(e instanceof AbortError);
        assert.equal(e.code, 'ABORT_ERR');
        assert.equal((e.cause as Error).message, 'stop');
        return true;
      });
      assert.ok(pid > 0, 'qemu-img was seen running');
      assert.equal(isAlive(pid), false, 'qemu-img still runs');
      assert.deepEqual(processesWith(dst), []);
      assert.deepEqual(entries(scratch.dir), before);
    });

    it('rejects bad arguments with Node codes, before starting anything', async () => {
      await assert.rejects(qemuImgConvert(f('data.raw'), f('x.raw'), {} as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(qemuImgConvert(f('data.raw'), f('x.raw'), { srcFormat: 'raw', dstFormat: 'vmdk' as never }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(qemuImgConvert(f('data.raw'), f('x.raw'), { srcFormat: 'raw', dstFormat: 'raw', parallel: 99 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(qemuImgConvert('', f('x.raw'), { srcFormat: 'raw', dstFormat: 'raw' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      await assert.rejects(qemuImgConvert(f('data.raw'), f('x.raw'), undefined as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      assert.equal(existsSync(f('x.raw')), false);
    });

    it('a relative path is a file, never a qemu protocol', async () => {
      const cwd = process.cwd();
      process.chdir(scratch.dir);
      try {
        writeFileSync(f('nbd:evil'), readFileSync(f('data.qcow2')));
        await qemuImgConvert('nbd:evil', 'json:{}', { srcFormat: 'qcow2', dstFormat: 'raw' });
        assert.equal(sha256(readFileSync(f('json:{}')).subarray(0, raw.length)), sha256(raw));
      } finally {
        process.chdir(cwd);
      }
    });
  });

  describe('rbdTargetString', () => {
    it('builds qemu rbd: filenames and escapes separators', () => {
      assert.equal(rbdTargetString({ pool: 'volumes', image: 'volume-1' }), 'rbd:volumes/volume-1');
      assert.equal(
        rbdTargetString({ pool: 'p', namespace: 'ns', image: 'a:b@c', snapshot: 's', id: 'cinder', confFile: '/etc/ceph/ceph.conf', keyring: '/k' }),
        'rbd:p/ns/a\\:b\\@c@s:id=cinder:conf=/etc/ceph/ceph.conf:keyring=/k',
      );
      assert.throws(() => rbdTargetString({ pool: '', image: 'x' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => rbdTargetString('rbd:p/x' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });
  });
});
