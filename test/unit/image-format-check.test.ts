import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';

import {
  ImageFormatMismatch,
  ImageFormatUnsupported,
  ImageTooLarge,
  UnsafeImage,
  checkDetected,
  checkImage,
  detectFileFormat,
  normalizeDiskFormat,
  parseQemuImgInfo,
  qemuImgConvert,
  verifyImageFile,
  withTempDir,
  type QemuImgInfo,
} from '../../lib/image-format';
import { MiB, entries, qcow2Header, qemuImg, scratchDir, sha256, writeRawWithData } from '../helpers/image-files';

function info(json: Record<string, unknown>): QemuImgInfo {
  return parseQemuImgInfo(JSON.stringify({ 'virtual-size': MiB, ...json }));
}

function expectError(Class: Function, code: string, check?: (e: never) => void) {
  return (e: unknown): true => {
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${String(e)}`);
    assert.equal((e as { code: string }).code, code);
    assert.equal((e as Error).name, Class.name);
    check?.(e as never);
    return true;
  };
}

describe('image-format checks (Cinder rules)', () => {
  describe('normalizeDiskFormat', () => {
    it('maps announced formats; vhd is vpc; none means raw; others are unsupported', () => {
      assert.equal(normalizeDiskFormat('vhd'), 'vpc');
      assert.equal(normalizeDiskFormat('VPC'), 'vpc');
      assert.equal(normalizeDiskFormat(undefined), 'raw');
      assert.equal(normalizeDiskFormat(null), 'raw');
      assert.throws(() => normalizeDiskFormat('qed'), expectError(ImageFormatUnsupported, 'ERR_IMAGE_FORMAT_UNSUPPORTED', (e: ImageFormatUnsupported) => assert.equal(e.format, 'qed')));
      assert.throws(() => normalizeDiskFormat('toString'), { name: 'ImageFormatUnsupported' });
      assert.throws(() => normalizeDiskFormat(7), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });
  });

  describe('checkImage (qemu-img info output)', () => {
    it('accepts matching formats and sizes that fit', () => {
      checkImage(info({ format: 'qcow2', 'format-specific': { type: 'qcow2', data: {} } }), { diskFormat: 'qcow2', volumeSizeBytes: MiB });
      checkImage(info({ format: 'vpc' }), { diskFormat: 'vhd' });
      checkImage(info({ format: 'raw' }), {});
      checkImage(info({ format: 'raw' }), { diskFormat: 'iso' });
      checkImage(info({ format: 'vmdk', 'format-specific': { type: 'vmdk', data: { 'create-type': 'streamOptimized' } } }), { diskFormat: 'vmdk', volumeSizeBytes: 2n * BigInt(MiB) });
    });

    it('a format that lies is ImageFormatMismatch; no metadata must be raw', () => {
      assert.throws(
        () => checkImage(info({ format: 'qcow2' }), { diskFormat: 'raw' }),
        expectError(ImageFormatMismatch, 'ERR_IMAGE_FORMAT_MISMATCH', (e: ImageFormatMismatch) => {
          assert.equal(e.announced, 'raw');
          assert.equal(e.detected, 'qcow2');
          assert.equal(e.message, "Image format mismatch: the image was announced as 'raw' but its data is 'qcow2'");
        }),
      );
      assert.throws(() => checkImage(info({ format: 'qcow2' })), expectError(ImageFormatMismatch, 'ERR_IMAGE_FORMAT_MISMATCH', (e: ImageFormatMismatch) => assert.equal(e.announced, null)));
      assert.throws(() => checkImage(info({ format: 'vpc' }), { diskFormat: 'vhdx' }), { name: 'ImageFormatMismatch' });
    });

    it('a backing file, a data file, a bad vmdk create type or encryption is UnsafeImage', () => {
      const unsafe = (i: QemuImgInfo, diskFormat: string, reasons: string[]): void => {
        assert.throws(() => checkImage(i, { diskFormat }), expectError(UnsafeImage, 'ERR_IMAGE_UNSAFE', (e: UnsafeImage) => assert.deepEqual(e.reasons, reasons)));
      };
      unsafe(info({ format: 'qcow2', 'backing-filename': '/etc/passwd', 'format-specific': { type: 'qcow2', data: {} } }), 'qcow2', ['backing-file']);
      unsafe(info({ format: 'qcow2', 'format-specific': { type: 'qcow2', data: { 'data-file': '/dev/sda' } } }), 'qcow2', ['data-file']);
      unsafe(info({ format: 'qcow2' }), 'qcow2', ['invalid-header']);
      unsafe(info({ format: 'vmdk', 'format-specific': { type: 'vmdk', data: { 'create-type': 'monolithicFlat' } } }), 'vmdk', ['create-type']);
      unsafe(info({ format: 'vmdk' }), 'vmdk', ['create-type']);
      unsafe(info({ format: 'vpc', 'backing-filename': 'parent.vhd' }), 'vhd', ['backing-file']);
      unsafe(info({ format: 'raw', encrypted: true }), 'raw', ['encrypted']);
    });

    it('an image bigger than the volume is ImageTooLarge', () => {
      assert.throws(
        () => checkImage(info({ format: 'raw', 'virtual-size': MiB + 1 }), { volumeSizeBytes: MiB }),
        expectError(ImageTooLarge, 'ERR_IMAGE_TOO_LARGE', (e: ImageTooLarge) => assert.deepEqual([e.virtualSize, e.volumeSize], [MiB + 1, MiB])),
      );
      assert.throws(() => checkImage(info({ format: 'raw' }), { volumeSizeBytes: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => checkImage(null as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });
  });

  describe('checkDetected (inspector result)', () => {
    it('refuses a mismatch before anything else and reports unsafe reasons', async () => {
      const scratch = scratchDir('check-detected');
      try {
        const h = qcow2Header(MiB);
        h.writeBigUInt64BE(1n << 2n, 72);
        writeFileSync(scratch.file('df.qcow2'), h);
        const detected = await detectFileFormat(scratch.file('df.qcow2'));
        assert.throws(() => checkDetected(detected, { diskFormat: 'raw' }), { name: 'ImageFormatMismatch' });
        assert.throws(() => checkDetected(detected, {}), { name: 'ImageFormatMismatch' });
        assert.throws(() => checkDetected(detected, { diskFormat: 'qcow2' }), expectError(UnsafeImage, 'ERR_IMAGE_UNSAFE', (e: UnsafeImage) => assert.deepEqual(e.reasons, ['data-file'])));
      } finally {
        scratch.cleanup();
      }
    });
  });

  describe('verifyImageFile (inspector, then qemu-img info)', () => {
    const scratch = scratchDir('verify');
    const f = scratch.file;
    before(() => {
      writeRawWithData(f('data.raw'), 4 * MiB);
      qemuImg('convert', '-f', 'raw', '-O', 'qcow2', f('data.raw'), f('data.qcow2'));
      qemuImg('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed', f('data.raw'), f('fixed.vhd'));
      qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', f('data.raw'), f('stream.vmdk'));
      qemuImg('create', '-q', '-f', 'qcow2', '-b', f('data.qcow2'), '-F', 'qcow2', f('backed.qcow2'));
      qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${f('external.raw')}`, f('datafile.qcow2'), '4M');
      qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', f('flat.vmdk'), '4M');
    });
    after(() => scratch.cleanup());

    it('accepts good images and gives the qemu format to convert from', async () => {
      const q = await verifyImageFile(f('data.qcow2'), { diskFormat: 'qcow2', volumeSizeBytes: 4 * MiB });
      assert.deepEqual([q.format, q.qemuFormat, q.virtualSize], ['qcow2', 'qcow2', 4 * MiB]);
      const v = await verifyImageFile(f('fixed.vhd'), { diskFormat: 'vhd' });
      assert.deepEqual([v.format, v.qemuFormat, v.info.format], ['vpc', 'vpc', 'vpc']);
      assert.equal((await verifyImageFile(f('stream.vmdk'), { diskFormat: 'vmdk' })).info.createType, 'streamOptimized');
      assert.equal((await verifyImageFile(f('data.raw'))).format, 'raw');
    });

    it('refuses each bad input with its typed error and leaves no file behind', async () => {
      const before = entries(scratch.dir);
      await assert.rejects(verifyImageFile(f('data.qcow2'), { diskFormat: 'raw' }), expectError(ImageFormatMismatch, 'ERR_IMAGE_FORMAT_MISMATCH'));
      await assert.rejects(verifyImageFile(f('data.qcow2')), expectError(ImageFormatMismatch, 'ERR_IMAGE_FORMAT_MISMATCH'));
      await assert.rejects(verifyImageFile(f('fixed.vhd')), expectError(ImageFormatMismatch, 'ERR_IMAGE_FORMAT_MISMATCH'));
      await assert.rejects(verifyImageFile(f('backed.qcow2'), { diskFormat: 'qcow2' }), expectError(UnsafeImage, 'ERR_IMAGE_UNSAFE', (e: UnsafeImage) => assert.deepEqual(e.reasons, ['backing-file'])));
      await assert.rejects(verifyImageFile(f('datafile.qcow2'), { diskFormat: 'qcow2' }), expectError(UnsafeImage, 'ERR_IMAGE_UNSAFE', (e: UnsafeImage) => assert.deepEqual(e.reasons, ['data-file'])));
      await assert.rejects(verifyImageFile(f('flat.vmdk'), { diskFormat: 'vmdk' }), expectError(UnsafeImage, 'ERR_IMAGE_UNSAFE'));
      await assert.rejects(verifyImageFile(f('data.qcow2'), { diskFormat: 'qcow2', volumeSizeBytes: 4 * MiB - 1 }), expectError(ImageTooLarge, 'ERR_IMAGE_TOO_LARGE'));
      await assert.rejects(verifyImageFile(f('data.qcow2'), { diskFormat: 'qed' }), expectError(ImageFormatUnsupported, 'ERR_IMAGE_FORMAT_UNSUPPORTED'));
      await assert.rejects(verifyImageFile(f('data.qcow2'), { diskFormat: 'qcow2', qemuImgPath: f('none') }), { name: 'QemuImgMissing', code: 'ERR_QEMU_IMG_MISSING' });
      await assert.rejects(verifyImageFile(f('data.qcow2'), { diskFormat: 'qcow2', signal: AbortSignal.abort() }), { name: 'AbortError', code: 'ABORT_ERR' });
      assert.deepEqual(entries(scratch.dir), before);
    });
  });

  describe('withTempDir', () => {
    it('removes the directory and its files whether the work succeeds, fails or is aborted', async () => {
      const scratch = scratchDir('tempdir');
      try {
        writeRawWithData(scratch.file('src.raw'), MiB);
        qemuImg('convert', '-f', 'raw', '-O', 'qcow2', scratch.file('src.raw'), scratch.file('src.qcow2'));
        const digest = await withTempDir(
          async (dir) => {
            await qemuImgConvert(scratch.file('src.qcow2'), `${dir}/out.raw`, { srcFormat: 'qcow2', dstFormat: 'raw' });
            return sha256(readFileSync(`${dir}/out.raw`));
          },
          { parent: scratch.dir },
        );
        assert.equal(digest, sha256(readFileSync(scratch.file('src.raw'))));
        await assert.rejects(
          withTempDir(
            async (dir) => {
              writeFileSync(`${dir}/partial`, 'x');
              await verifyImageFile(scratch.file('src.qcow2'), { diskFormat: 'raw' });
            },
            { parent: scratch.dir },
          ),
          { name: 'ImageFormatMismatch' },
        );
        assert.deepEqual(entries(scratch.dir), ['src.qcow2', 'src.raw']);
      } finally {
        scratch.cleanup();
      }
    });
  });
});
