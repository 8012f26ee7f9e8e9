/**
 * The Cinder driver's image copies never trust the announced format, against
 * the real cluster: qcow2/vmdk/vhdx are converted into the volume (same
 * bytes as `qemu-img convert`), lying or unsafe images are refused with a
 * typed error and leave no volume and no temporary file, cloneImage refuses
 * non-raw bytes, copyVolumeToImage writes qcow2.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { chmodSync, createReadStream, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';

import {
  AbortError,
  Image,
  ImageFormatMismatch,
  ImageTooLarge,
  type ImageStoreLike,
  type IoCtx,
  QemuImgFailed,
  QemuImgMissing,
  Rbd,
  RbdVolumeDriver,
  UnsafeImage,
} from '../../lib';
import { cinderHarness } from '../helpers/cinder';
import { entries, qemuImg, scratchDir, sha256, sha256File, writeRawWithData } from '../helpers/image-files';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A store double serving one local file, and collecting what add() is given. */
function fileStore(file: string, opts: { slow?: boolean } = {}): ImageStoreLike & { added: Buffer | null } {
  const store = {
    added: null as Buffer | null,
    async add(_id: string, source: Readable | AsyncIterable<Uint8Array>, size: number) {
      const parts: Buffer[] = [];
      for await (const c of source as AsyncIterable<Uint8Array>) parts.push(Buffer.from(c));
      store.added = Buffer.concat(parts);
      return { location: `file://${_id}`, size };
    },
    async get() {
      if (!opts.slow) return { stream: createReadStream(file), size: statSync(file).size };
      const data = readFileSync(file);
      return {
        stream: (async function* () {
          for (let at = 0; at < data.length; at += 64 * 1024) {
            await new Promise((r) => setTimeout(r, 20));
            yield data.subarray(at, at + 64 * 1024);
          }
        })(),
        size: data.length,
      };
    },
  };
  return store;
}

async function readVolume(ioctx: IoCtx, name: string, length: number): Promise<Buffer> {
  const img = await Image.open(ioctx, name, { readOnly: true });
  try {
    return await img.read(0, length);
  } finally {
    await img.close();
  }
}

describe('Cinder RBD driver (real cluster): image formats', function () {
  this.timeout(240_000);
  const h = cinderHarness();
  const { vol, names, openDriver, track, parent } = h;
  let rbd: IoCtx;
  let images: IoCtx;
  let fsid: string;
  let driver: RbdVolumeDriver;
  const scratch = scratchDir('cinder-formats');
  const conv = scratchDir('cinder-conv');
  let raw: string;
  let rawData: Buffer;

  before(async () => {
    ({ rbd, images, fsid } = h.state());
    driver = await openDriver({ imageConversionDir: conv.dir });
    raw = scratch.file('disk.raw');
    rawData = writeRawWithData(raw, 8 * MiB);
  });
  after(() => {
    scratch.cleanup();
    conv.cleanup();
  });
  afterEach(() => {
    assert.deepEqual(entries(conv.dir), [], 'no temporary file is left in imageConversionDir');
  });

  for (const [diskFormat, qemuFormat, extra] of [
    ['qcow2', 'qcow2', []],
    ['vmdk', 'vmdk', ['-o', 'subformat=monolithicSparse']],
    ['vhdx', 'vhdx', []],
    ['vdi', 'vdi', []],
  ] as Array<[string, string, string[]]>) {
    it(`${diskFormat} → volume: the same bytes as qemu-img convert of the same file, a plain copy`, async () => {
      const file = scratch.file(`disk.${diskFormat}`);
      qemuImg('convert', '-f', 'raw', '-O', qemuFormat, ...extra, raw, file);
      const ref = scratch.file(`ref-${diskFormat}.raw`);
      qemuImg('convert', '-f', qemuFormat, '-O', 'raw', file, ref);
      const v = vol(1);
      await driver.createVolume(v);
      assert.deepEqual(await driver.copyImageToVolume(v, fileStore(file), 'file:///img', { id: 'img', disk_format: diskFormat }), {});
      assert.equal(await parent(v.name), null);
      const refData = readFileSync(ref);
      assert.equal(sha256(await readVolume(rbd, v.name, refData.length)), sha256File(ref));
      assert.equal(sha256(refData.subarray(0, rawData.length)), sha256(rawData));
    });
  }

  it('a raw image with no metadata is copied when its bytes are proven raw, never cloned', async () => {
    const id = randomUUID();
    track(id);
    await Rbd.create(images, id, 8 * MiB, { order: 23 });
    const img = await Image.open(images, id);
    await img.write(rawData, 0);
    await img.createSnap('snap');
    await img.protectSnap('snap');
    await img.close();
    const v = vol(1);
    await driver.copyImageToVolume(v, fileStore(raw), `rbd://${fsid}/images/${id}/snap`);
    assert.equal(await parent(v.name), null, 'a copy, not a clone');
    assert.equal(sha256(await readVolume(rbd, v.name, rawData.length)), sha256(rawData));
  });

  it('bad input is a typed error and leaves no volume and no temporary file', async () => {
    const qcow2 = scratch.file('bad.qcow2');
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2);
    const backed = scratch.file('backed.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', raw, backed);
    const big = scratch.file('big.qcow2');
    qemuImg('create', '-f', 'qcow2', big, '2G');
    const cases: Array<[string, string, object | undefined, (e: unknown) => boolean]> = [
      ['lying format (raw announced, qcow2 bytes)', qcow2, { disk_format: 'raw' }, (e) => e instanceof ImageFormatMismatch && e.detected === 'qcow2'],
      ['no metadata, qcow2 bytes', qcow2, undefined, (e) => e instanceof ImageFormatMismatch && e.announced === null],
      ['empty metadata, qcow2 bytes', qcow2, {}, (e) => e instanceof ImageFormatMismatch],
      ['vmdk announced, qcow2 bytes', qcow2, { disk_format: 'vmdk' }, (e) => e instanceof ImageFormatMismatch],
      ['backing file', backed, { disk_format: 'qcow2' }, (e) => e instanceof UnsafeImage && e.code === 'ERR_IMAGE_UNSAFE'],
      ['bigger than the volume', big, { disk_format: 'qcow2' }, (e) => e instanceof ImageTooLarge],
    ];
    for (const [what, file, meta, check] of cases) {
      const v = vol(1);
      await assert.rejects(driver.copyImageToVolume(v, fileStore(file), 'file:///img', meta as never), check, what);
      assert.deepEqual(await names(), [], what);
      assert.deepEqual(entries(conv.dir), [], what);
    }
    // An existing volume is kept when the image is refused before the copy starts.
    const kept = vol(1);
    await driver.createVolume(kept);
    await assert.rejects(driver.copyImageToVolume(kept, fileStore(qcow2), 'file:///img', { disk_format: 'raw' }), ImageFormatMismatch);
    assert.deepEqual(await names(), [kept.name]);
  });

  it('qemu-img missing or failing, and an abort, reject typed and leave nothing behind', async () => {
    const qcow2 = scratch.file('ok.qcow2');
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2);
    const savedPath = process.env.PATH;
    try {
      process.env.PATH = scratch.file('no-such-dir');
      await assert.rejects(driver.copyImageToVolume(vol(1), fileStore(qcow2), 'file:///img', { disk_format: 'qcow2' }), QemuImgMissing);
      const fake = scratch.file('bin');
      mkdirSync(fake);
      writeFileSync(path.join(fake, 'qemu-img'), '#!/bin/sh\necho "qemu-img: simulated failure" >&2\nexit 1\n');
      chmodSync(path.join(fake, 'qemu-img'), 0o755);
      process.env.PATH = `${fake}:${savedPath ?? ''}`;
      await assert.rejects(driver.copyImageToVolume(vol(1), fileStore(qcow2), 'file:///img', { disk_format: 'qcow2' }), QemuImgFailed);
    } finally {
      process.env.PATH = savedPath;
    }
    assert.deepEqual(await names(), []);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(driver.copyImageToVolume(vol(1), fileStore(qcow2, { slow: true }), 'file:///img', { disk_format: 'qcow2' }, { signal: ac.signal }), (e: unknown) => e instanceof Error && (e.name === 'AbortError' || e instanceof AbortError));
    assert.deepEqual(await names(), []);
  });

  it('cloneImage refuses non-raw bytes whatever the metadata says, with a reason', async () => {
    const qcow2 = scratch.file('clone.qcow2');
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2);
    const data = readFileSync(qcow2);
    const id = randomUUID();
    track(id);
    await Rbd.create(images, id, data.length, { order: 23 });
    const img = await Image.open(images, id);
    await img.write(data, 0);
    await img.createSnap('snap');
    await img.protectSnap('snap');
    await img.close();
    const v = vol(1);
    const res = await driver.cloneImage(v, `rbd://${fsid}/images/${id}/snap`, { disk_format: 'raw' });
    assert.equal(res.cloned === false && res.reason, 'not-raw-bytes');
    assert.match(res.cloned === false ? res.detail : '', /qcow2/);
    assert.deepEqual(await names(), []);
  });

  it('copyVolumeToImage honours disk_format qcow2 (and refuses others)', async () => {
    const v = vol(1);
    await driver.copyImageToVolume(v, fileStore(raw), 'file:///img', { disk_format: 'raw' });
    const store = fileStore(raw);
    const res = await driver.copyVolumeToImage(v, store, 'img-q', { disk_format: 'qcow2' });
    assert.ok(store.added);
    assert.equal(res.size, store.added.length);
    const out = scratch.file('back.qcow2');
    writeFileSync(out, store.added);
    assert.match(qemuImg('info', out), /file format: qcow2/);
    const back = scratch.file('back.raw');
    qemuImg('convert', '-f', 'qcow2', '-O', 'raw', out, back);
    assert.equal(statSync(back).size, GiB);
    assert.equal(sha256(readFileSync(back).subarray(0, rawData.length)), sha256(rawData));
    await assert.rejects(driver.copyVolumeToImage(v, store, 'img-x', { disk_format: 'vmdk' }), (e: unknown) => (e as { code?: string }).code === 'ERR_CINDER_NOT_SUPPORTED');
  });
});
