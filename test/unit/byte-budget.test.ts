/**
 * GlanceStore's maxBufferedBytes, below the store: several uploads share one
 * ByteBudget through their chunk sources (fake images, no cluster). The
 * budget is never exceeded, every upload still completes with its own bytes,
 * and failed or finished uploads give their buffers back.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Upload } from '../../lib/glance/upload';
import { ByteBudget } from '../../lib/internal/byte-budget';
import { openSource, type UploadSource } from '../../lib/internal/chunk-source';
import type { Image } from '../../lib/rbd';

const KiB = 1024;
const UNIT = 4 * KiB;

/** Writes complete after a few ms; `failAt` makes writes at or past it fail. */
class FakeImage {
  size: number;
  readonly data: Buffer;
  constructor(
    size: number,
    private readonly budget: ByteBudget,
    private readonly failAt = Infinity,
  ) {
    this.size = size;
    this.data = Buffer.alloc(size);
  }
  async resize(size: number): Promise<void> {
    this.size = size;
  }
  async aioWrite(buf: Buffer, offset: number): Promise<number> {
    assert.ok(this.budget.used <= this.budget.limit, `budget exceeded: ${this.budget.used} > ${this.budget.limit}`);
    await sleep(1 + Math.floor(Math.random() * 3));
    if (offset >= this.failAt) throw new Error('EIO from the fake');
    buf.copy(this.data, offset);
    return buf.length;
  }
  async aioFlush(): Promise<void> {}
}

/** One upload as GlanceStore.add runs it: source counted in the budget, closed at the end. */
async function upload(image: FakeImage, source: UploadSource, budget: ByteBudget, concurrency = 4): Promise<number> {
  const src = await openSource(source, UNIT, budget);
  let failed = true;
  try {
    const out = await new Upload(image as unknown as Image, { expectedSize: image.size, chunkBytes: UNIT, thinProvisioning: false, concurrency }).run(src);
    failed = false;
    return out.bytes;
  } finally {
    await src.close(failed);
  }
}

async function* inPieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let off = 0; off < data.length; off += size) {
    if (off % (8 * size) === 0) await sleep(0);
    yield data.subarray(off, off + size);
  }
}

describe('maxBufferedBytes: a byte budget shared by uploads (fake images)', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'byte-budget-test-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('eight uploads sharing two chunks of budget never hold more, and each stores its own bytes', async () => {
    const budget = new ByteBudget(2 * UNIT);
    const inputs = Array.from({ length: 8 }, (_, i) => randomBytes(10 * UNIT + 17 * i));
    const images = inputs.map((d) => new FakeImage(d.length, budget));
    const file = path.join(tmp, 'input');
    writeFileSync(file, inputs[0]);
    const sizes = await Promise.all(inputs.map((d, i) => upload(images[i], i === 0 ? file : inPieces(d, 1000 + i), budget)));
    assert.deepEqual(sizes, inputs.map((d) => d.length));
    for (const [i, d] of inputs.entries()) assert.ok(images[i].data.equals(d), `upload ${i}`);
    assert.ok(budget.peak <= 2 * UNIT, `peak ${budget.peak}`);
    assert.ok(budget.peak >= UNIT);
    assert.equal(budget.used, 0, 'every buffer given back');
  });

  it('a budget of a single chunk still lets every upload finish', async () => {
    const budget = new ByteBudget(UNIT);
    const inputs = Array.from({ length: 4 }, () => randomBytes(6 * UNIT + 5));
    const images = inputs.map((d) => new FakeImage(d.length, budget));
    await Promise.all(inputs.map((d, i) => upload(images[i], inPieces(d, 333), budget, 8)));
    for (const [i, d] of inputs.entries()) assert.ok(images[i].data.equals(d));
    assert.equal(budget.peak, UNIT);
    assert.equal(budget.used, 0);
  });

  it('an upload waiting for its first buffer is not starved by one that holds several', async () => {
    const budget = new ByteBudget(3 * UNIT);
    const big = randomBytes(60 * UNIT);
    const smalls = [randomBytes(3 * UNIT), randomBytes(2 * UNIT + 9)];
    const finished: string[] = [];
    const bigImage = new FakeImage(big.length, budget);
    const bigRun = upload(bigImage, inPieces(big, 1024), budget, 8).then(() => finished.push('big'));
    await sleep(5); // the big upload holds the whole budget by now
    const smallImages = smalls.map((d) => new FakeImage(d.length, budget));
    await Promise.all([bigRun, ...smalls.map((d, i) => upload(smallImages[i], inPieces(d, 1024), budget).then(() => finished.push(`small${i}`)))]);
    assert.equal(finished.at(-1), 'big', `order ${finished.join(', ')}`);
    assert.ok(bigImage.data.equals(big));
    for (const [i, d] of smalls.entries()) assert.ok(smallImages[i].data.equals(d));
    assert.ok(budget.peak <= 3 * UNIT);
    assert.equal(budget.used, 0);
  });

  it('a failed upload gives its buffers back; the others go on', async () => {
    const budget = new ByteBudget(3 * UNIT);
    const good = randomBytes(12 * UNIT);
    const bad = randomBytes(12 * UNIT);
    const goodImage = new FakeImage(good.length, budget);
    const results = await Promise.allSettled([upload(new FakeImage(bad.length, budget, 3 * UNIT), inPieces(bad, 500), budget), upload(goodImage, inPieces(good, 700), budget)]);
    assert.equal(results[0].status, 'rejected');
    assert.match(((results[0] as PromiseRejectedResult).reason as Error).message, /EIO from the fake/);
    assert.equal(results[1].status, 'fulfilled');
    assert.ok(goodImage.data.equals(good));
    assert.ok(budget.peak <= 3 * UNIT);
    assert.equal(budget.used, 0);
  });

  it('uploads of a caller Buffer take nothing from the budget (no copies, no chunk buffers)', async () => {
    const budget = new ByteBudget(UNIT);
    const data = randomBytes(5 * UNIT);
    const image = new FakeImage(data.length, budget);
    await upload(image, data, budget);
    assert.ok(image.data.equals(data));
    assert.equal(budget.peak, 0);
  });
});
