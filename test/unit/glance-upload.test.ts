/**
 * The write phase of GlanceStore.add() against a fake image (no cluster):
 * the resize ramp, re-chunking, thin provisioning, the in-flight bound and
 * failure handling.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import { AbortError, TimedOut } from '../../lib/errors';
import { Invalid } from '../../lib/glance/errors';
import { openSource } from '../../lib/internal/chunk-source';
import { isAllZero, MAX_RESIZE_STEP, type ChunkHasher, type ChunkWriterSettings as UploadSettings } from '../../lib/internal/chunk-writer';
import { Upload } from '../../lib/glance/upload';
import type { Image } from '../../lib/rbd';

const KiB = 1024;

/** Records what the upload does to the image; writes complete after `delayMs`. */
class FakeImage {
  size = 0;
  resizes: number[] = [];
  writes: Array<{ offset: number; length: number }> = [];
  data = new Map<number, Buffer>();
  inflight = 0;
  maxInflight = 0;
  flushes = 0;
  failAt: number | undefined;
  /** Writes at or past this offset hang until release() (a cluster that stopped answering). */
  stallAt: number | undefined;
  #stalled: Array<() => void> = [];
  constructor(private readonly delayMs = 1) {}
  release(): void {
    for (const go of this.#stalled.splice(0)) go();
  }
  async resize(size: number): Promise<void> {
    this.resizes.push(size);
    this.size = size;
  }
  async aioWrite(buf: Buffer, offset: number): Promise<number> {
    if (offset + buf.length > this.size) throw new Error(`write past the end: ${offset}+${buf.length} > ${this.size}`);
    this.inflight++;
    this.maxInflight = Math.max(this.maxInflight, this.inflight);
    this.writes.push({ offset, length: buf.length });
    const copy = Buffer.from(buf);
    await sleep(this.delayMs);
    if (this.stallAt !== undefined && offset >= this.stallAt) await new Promise<void>((resolve) => this.#stalled.push(resolve));
    this.inflight--;
    if (this.failAt !== undefined && offset >= this.failAt) throw Object.assign(new Error('EIO from the fake'), { code: 'EIO' });
    this.data.set(offset, copy);
    return buf.length;
  }
  async aioFlush(): Promise<void> {
    this.flushes++;
  }
  /** The bytes written, holes as zeroes. */
  contents(): Buffer {
    const out = Buffer.alloc(this.size);
    for (const [off, b] of this.data) b.copy(out, off);
    return out;
  }
}

class TestHasher implements ChunkHasher {
  readonly md5 = createHash('md5');
  readonly sha = createHash('sha512');
  update(chunk: Buffer): undefined {
    this.md5.update(chunk);
    this.sha.update(chunk);
    return undefined;
  }
  async digest(): Promise<{ checksum: string; multihash: string }> {
    return { checksum: this.md5.digest('hex'), multihash: this.sha.digest('hex') };
  }
}

async function upload(image: FakeImage, source: Parameters<typeof openSource>[0], unit: number, settings: Partial<UploadSettings> = {}) {
  const src = await openSource(source, unit);
  const up = new Upload(image as unknown as Image, {
    expectedSize: 0,
    chunkBytes: unit,
    thinProvisioning: false,
    concurrency: 3,
    hasher: new TestHasher(),
    ...settings,
  });
  return up.run(src);
}

function cut(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += size) out.push(data.subarray(off, off + size));
  return out;
}

describe('Glance upload write phase (fake image)', () => {
  it('grows an unknown-size image by doubling steps, doubling first (the resize ramp)', async () => {
    const image = new FakeImage();
    const data = randomBytes(100 * KiB + 5);
    const out = await upload(image, cut(data, 3000), 4 * KiB);
    // steps 8, 16, 32, 64 KiB: sizes 8, 24, 56, 120 KiB
    assert.deepEqual(image.resizes, [8, 24, 56, 120].map((k) => k * KiB));
    assert.equal(out.bytes, data.length);
    assert.equal(out.imageSize, 120 * KiB);
    assert.ok(image.contents().subarray(0, data.length).equals(data));
    assert.equal(out.checksum, createHash('md5').update(data).digest('hex'));
  });

  it('caps the resize step', async () => {
    const image = new FakeImage();
    await upload(image, randomBytes(40 * KiB), 4 * KiB, { maxResizeStep: 8 * KiB });
    assert.deepEqual(image.resizes, [8, 16, 24, 32, 40].map((k) => k * KiB));
    assert.equal(MAX_RESIZE_STEP, 8 * 1024 ** 3);
  });

  it('keeps the ramp per upload (DESIGN D2)', async () => {
    const [a, b] = [new FakeImage(), new FakeImage()];
    await Promise.all([upload(a, randomBytes(30 * KiB), 4 * KiB), upload(b, randomBytes(5 * KiB), 4 * KiB)]);
    assert.deepEqual(a.resizes, [8, 24, 56].map((k) => k * KiB));
    assert.deepEqual(b.resizes, [8 * KiB]);
  });

  it('does not resize a known-size image', async () => {
    const image = new FakeImage();
    image.size = 10 * KiB;
    await upload(image, randomBytes(10 * KiB), 4 * KiB, { expectedSize: 10 * KiB });
    assert.deepEqual(image.resizes, []);
  });

  it('writes chunk-aligned, chunk-sized pieces whatever the source piece sizes', async () => {
    const image = new FakeImage();
    const data = randomBytes(37 * KiB + 11);
    for (const sizes of [1, 777, 4 * KiB, 4 * KiB + 1, 9 * KiB, 64 * KiB]) {
      image.writes = [];
      image.data.clear();
      image.size = 0;
      const out = await upload(image, cut(data, sizes), 4 * KiB);
      assert.equal(out.bytes, data.length);
      assert.ok(image.writes.every((w, i) => w.offset === i * 4 * KiB && (w.length === 4 * KiB || i === image.writes.length - 1)), `pieces of ${sizes}`);
      assert.ok(image.contents().subarray(0, data.length).equals(data), `pieces of ${sizes}`);
    }
  });

  it('keeps at most `concurrency` chunks in flight', async () => {
    for (const concurrency of [1, 2, 5]) {
      const image = new FakeImage(3);
      await upload(image, randomBytes(64 * KiB), 4 * KiB, { concurrency });
      assert.equal(image.maxInflight, concurrency);
    }
  });

  it('skips all-zero chunks with thin provisioning but hashes and counts them', async () => {
    const image = new FakeImage();
    const data = Buffer.alloc(20 * KiB);
    data[5 * KiB] = 1; // chunk 1
    data[20 * KiB - 1] = 2; // chunk 4
    const out = await upload(image, cut(data, 1000), 4 * KiB, { thinProvisioning: true });
    assert.deepEqual(image.writes.map((w) => w.offset), [4 * KiB, 16 * KiB]);
    assert.equal(out.bytes, data.length);
    assert.equal(out.multihash, createHash('sha512').update(data).digest('hex'));
    assert.ok(image.contents().subarray(0, data.length).equals(data));
    assert.ok(isAllZero(Buffer.alloc(200 * KiB)));
    assert.ok(!isAllZero(Buffer.concat([Buffer.alloc(150 * KiB), Buffer.from([0, 1])])));
  });

  it('refuses more bytes than announced before writing them', async () => {
    const image = new FakeImage();
    image.size = 6 * KiB;
    await assert.rejects(upload(image, cut(randomBytes(20 * KiB), 1000), 4 * KiB, { expectedSize: 6 * KiB }), (e: unknown) => {
      assert.ok(e instanceof Invalid);
      assert.equal(e.message, `Size exceeds: expected ${6 * KiB} bytes, got ${8 * KiB} bytes`);
      return true;
    });
    assert.ok(image.writes.every((w) => w.offset + w.length <= 6 * KiB));
  });

  it('rejects with the first write error and waits for the writes in flight', async () => {
    const image = new FakeImage(2);
    image.failAt = 8 * KiB;
    await assert.rejects(upload(image, randomBytes(64 * KiB), 4 * KiB), { message: 'EIO from the fake' });
    assert.equal(image.inflight, 0);
    assert.ok(image.writes.length < 16, 'stopped early');
  });

  it('fails with TimedOut once a write is in flight longer than stallMs, without waiting for it', async () => {
    const image = new FakeImage(1);
    image.stallAt = 8 * KiB;
    const t0 = Date.now();
    await assert.rejects(upload(image, randomBytes(64 * KiB), 4 * KiB, { stallMs: 150 }), (e: unknown) => {
      assert.ok(e instanceof TimedOut, String(e));
      assert.equal(e.code, 'ETIMEDOUT');
      assert.equal(e.op, 'Image.aioWrite');
      return true;
    });
    const waited = Date.now() - t0;
    assert.ok(waited >= 140 && waited < 1000, `rejected after ${waited} ms`);
    assert.ok(image.inflight > 0, 'the stalled writes were not waited for');
    image.release();
  });

  it('does not count time a write spent queued behind slow ones that completed', async () => {
    // Every write takes 60 ms, 3 in flight: no single write is ever 100 ms old.
    const image = new FakeImage(60);
    const out = await upload(image, randomBytes(48 * KiB), 4 * KiB, { stallMs: 100 });
    assert.equal(out.bytes, 48 * KiB);
  });

  it('stops on abort, also while the source waits', async () => {
    const image = new FakeImage();
    const controller = new AbortController();
    async function* stalls(): AsyncGenerator<Buffer> {
      yield randomBytes(5 * KiB);
      await new Promise(() => undefined); // never more data
    }
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await assert.rejects(upload(image, stalls(), 4 * KiB, { signal: controller.signal }), (e: unknown) => {
      assert.ok(e instanceof AbortError);
      assert.equal((e.cause as Error).message, 'stop');
      return true;
    });
    assert.equal(image.inflight, 0);
  });

  it('passes a source error on as it is', async () => {
    const boom = new Error('boom');
    async function* fails(): AsyncGenerator<Buffer> {
      yield randomBytes(9 * KiB);
      throw boom;
    }
    await assert.rejects(upload(new FakeImage(), fails(), 4 * KiB), (e: unknown) => e === boom);
    await assert.rejects(upload(new FakeImage(), ['not a buffer'] as unknown as Buffer[], 4 * KiB), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('reports progress in order up to the total', async () => {
    const seen: Array<[number, number | undefined]> = [];
    const image = new FakeImage();
    image.size = 10 * KiB;
    await upload(image, randomBytes(10 * KiB), 4 * KiB, { expectedSize: 10 * KiB, onProgress: (d, t) => seen.push([d, t]) });
    assert.deepEqual(seen.at(-1), [10 * KiB, 10 * KiB]);
    assert.equal(seen.length, 3);
  });
});
