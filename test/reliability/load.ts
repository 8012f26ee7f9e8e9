/**
 * Load on one connection: `uploads` concurrent uploads (create, pipelined
 * aio writes of random data hashed as it goes, flush, read back and
 * compare the MD5, remove) plus `small` concurrent small reads/writes
 * (image aio and sync I/O, and RADOS object I/O, each write read back and
 * compared) for `durationMs`. Every operation must succeed; peak RSS is
 * reported.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes, randomInt } from 'node:crypto';

import { Image, type IoCtx, Rados, Rbd } from '../../lib';
import { MiB, recordFigure, rssMiB, rssSampler, seconds, uniq } from './support';

export interface LoadOptions {
  uploads: number;
  uploadBytes: number;
  small: number;
  durationMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function uploadOnce(ioctx: IoCtx, bytes: number): Promise<void> {
  const name = uniq('load-up');
  const piece = 4 * MiB;
  await Rbd.create(ioctx, name, bytes, { order: 22 });
  try {
    const image = await Image.open(ioctx, name);
    try {
      const sent = createHash('md5');
      const inflight = new Set<Promise<unknown>>();
      for (let off = 0; off < bytes; off += piece) {
        const buf = randomBytes(Math.min(piece, bytes - off));
        sent.update(buf);
        const p = image.aioWrite(buf, off).finally(() => inflight.delete(p));
        inflight.add(p);
        if (inflight.size >= 4) await Promise.race(inflight);
      }
      await Promise.all(inflight);
      await image.aioFlush();
      const back = createHash('md5');
      for (let off = 0; off < bytes; off += piece) back.update(await image.aioRead(off, Math.min(piece, bytes - off)));
      assert.equal(back.digest('hex'), sent.digest('hex'), `checksum of ${name}`);
    } finally {
      await image.close();
    }
  } finally {
    await Rbd.remove(ioctx, name);
  }
}

export async function load(confFile: string, pool: string, o: LoadOptions, suite: 'short' | 'long'): Promise<void> {
  const cluster = await Rados.connect({ confFile, timeoutMs: 120_000 });
  const ioctx = await cluster.openIoctx(pool);
  const shared = [uniq('load-a'), uniq('load-b'), uniq('load-c'), uniq('load-d')];
  const region = 64 * 1024;
  const perImage = Math.ceil(o.small / shared.length);
  for (const n of shared) await Rbd.create(ioctx, n, perImage * region, { order: 22 });
  const images = await Promise.all(shared.map((n) => Image.open(ioctx, n)));
  const failures: string[] = [];
  const latencies: number[] = [];
  let uploads = 0;
  let uploadBytes = 0;
  let smallOps = 0;
  const sampler = rssSampler(100);
  const rssBefore = rssMiB().now;
  const t0 = Date.now();
  const deadline = t0 + o.durationMs;
  try {
    const uploaders = Array.from({ length: o.uploads }, async () => {
      while (Date.now() < deadline) {
        try {
          await uploadOnce(ioctx, o.uploadBytes);
          uploads++;
          uploadBytes += o.uploadBytes;
        } catch (err) {
          failures.push(`upload: ${String(err)}`);
        }
      }
    });
    const smalls = Array.from({ length: o.small }, async (_, w) => {
      // Worker w owns a 64 KiB region of one image (and its own object), so its reads check its own writes.
      const image = images[w % images.length];
      const base = Math.floor(w / images.length) * region;
      const oid = `${shared[0]}-obj-${w}`;
      let i = 0;
      while (Date.now() < deadline) {
        const len = randomInt(512, 16 * 1024);
        const off = randomInt(0, region - len);
        const data = randomBytes(len);
        const t = performance.now();
        try {
          if (w % 4 === 3) {
            await ioctx.write(oid, data, off);
            assert.ok((await ioctx.read(oid, len, off)).equals(data), `object ${oid} @${off}`);
          } else if (i % 2 === 0) {
            await image.aioWrite(data, base + off);
            assert.ok((await image.aioRead(base + off, len)).equals(data), `aio ${w} @${off}`);
          } else {
            await image.write(data, base + off);
            assert.ok((await image.read(base + off, len)).equals(data), `sync ${w} @${off}`);
          }
          smallOps += 2;
          latencies.push(performance.now() - t);
        } catch (err) {
          failures.push(`small ${w}: ${String(err)}`);
        }
        i++;
      }
    });
    await Promise.all([...uploaders, ...smalls]);
  } finally {
    for (const img of images) await img.close();
    for (const n of shared) await Rbd.remove(ioctx, n);
    for (let w = 3; w < o.small; w += 4) await ioctx.remove(`${shared[0]}-obj-${w}`).catch(() => undefined);
    await cluster.shutdown();
  }
  const elapsed = Date.now() - t0;
  const peak = sampler.stop();
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} operations failed`);
  assert.ok(uploads >= o.uploads, `only ${uploads} uploads completed`);
  latencies.sort((a, b) => a - b);
  recordFigure({
    suite,
    test: 'load on one connection',
    tried: `${o.uploads} concurrent uploads of ${o.uploadBytes / MiB} MiB (write, read back, MD5) + ${o.small} concurrent small write+read-back pairs (512 B–16 KiB; image aio, image sync, RADOS objects) for ${seconds(o.durationMs)} s`,
    held: 'every operation succeeded, every checksum and read-back matched',
    figures: {
      elapsed_s: seconds(elapsed),
      uploads,
      upload_MiB_per_s: Math.round(uploadBytes / MiB / (elapsed / 1000)),
      small_ops: smallOps,
      small_ops_per_s: Math.round(smallOps / (elapsed / 1000)),
      pair_p50_ms: percentile(latencies, 50).toFixed(1),
      pair_p99_ms: percentile(latencies, 99).toFixed(1),
      rss_before_MiB: rssBefore.toFixed(0),
      rss_peak_MiB: peak.toFixed(0),
    },
  });
}
