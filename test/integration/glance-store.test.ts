import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  AbortError,
  BackendException,
  BadStoreConfiguration,
  DiskQuotaExceeded,
  BadStoreUri,
  Duplicate,
  GlanceStore,
  HandleClosedError,
  Image,
  ImageBusy,
  InUseByStore,
  Invalid,
  IoCtx,
  NotFound,
  Rados,
  Rbd,
  StorageFull,
  TimedOut,
  type GlanceAddResult,
} from '../../lib';
import { cliBuffer, confFile, connect, uniqueName } from '../helpers/cluster';
import { makeHalfMade } from '../helpers/half-made-image';

const MiB = 1024 * 1024;
const CHUNK = MiB; // chunkSizeMiB: 1 keeps the uploads small

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}
function sha(data: Buffer, algo = 'sha512'): string {
  return createHash(algo).update(data).digest('hex');
}

/** Cuts `data` into pieces of the given sizes, cycling (e.g. 16 KiB + 7 bytes). */
function pieces(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(data.subarray(off, off + n));
    off += n;
  }
  return out;
}

async function* slowly(parts: Buffer[], delayMs = 0): AsyncGenerator<Buffer> {
  for (const p of parts) {
    if (delayMs > 0) await sleep(delayMs);
    yield p;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

describe('GlanceStore (real cluster)', function () {
  this.timeout(120_000);
  let cluster: Rados;
  let ioctx: IoCtx;
  let store: GlanceStore;
  let tmp: string;
  /** The cluster fsid as the monitors know it (librados may report zeroes early on). */
  let fsid: string;

  before(async () => {
    cluster = await connect();
    fsid = (JSON.parse((await cluster.monCommand({ prefix: 'fsid', format: 'json' })).outbuf.toString()) as { fsid: string }).fsid;
    ioctx = await cluster.openIoctx('images');
    store = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1, connectTimeoutMs: 60_000 });
    tmp = mkdtempSync(path.join(tmpdir(), 'glance-store-test-'));
  });
  after(async () => {
    await store.close();
    // A failed test may leave its image behind: remove whatever this run made.
    const ours = (n: string) => n.startsWith('glance') && n.includes(`-${process.pid}-`);
    for (const name of (await Rbd.list(ioctx)).filter(ours)) {
      try {
        const image = await Image.open(ioctx, name);
        for (const snap of await image.listSnaps()) {
          await image.unprotectSnap(snap.name).catch(() => undefined);
          await image.removeSnap(snap.name).catch(() => undefined);
        }
        await image.close();
        await Rbd.remove(ioctx, name);
      } catch (err) {
        console.error(`could not remove leftover ${name}: ${String(err)}`);
      }
    }
    await cluster.shutdown();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Checks what add() returned and what is in the pool, then deletes the image. */
  async function verifyAndDelete(name: string, result: GlanceAddResult, data: Buffer, algo = 'sha512'): Promise<void> {
    assert.equal(result.size, data.length);
    assert.equal(result.checksum, md5(data));
    assert.equal(result.multihash, sha(data, algo));
    assert.equal(result.location, `rbd://${fsid}/images/${encodeURIComponent(name)}/snap`);
    assert.deepEqual(result.metadata, {});
    {
      await using image = await Image.open(ioctx, name, { readOnly: true });
      const st = await image.stat();
      assert.equal(st.size, data.length, 'image size = bytes written');
      assert.equal(st.order, 20, 'order = log2(chunk size)');
      const snaps = await image.listSnaps();
      assert.deepEqual(snaps.map((s) => s.name), ['snap']);
      assert.equal(await image.isProtectedSnap('snap'), true);
      assert.equal(snaps[0].size, data.length);
    }
    const { stream, size } = await store.get(result.location);
    assert.equal(size, data.length);
    assert.ok((await readAll(stream)).equals(data), 'get() returns the bytes');
    await store.delete(result.location);
    assert.ok(!(await Rbd.list(ioctx)).includes(name));
  }

  describe('add', () => {
    const sizes: Array<[string, number]> = [
      ['0 bytes', 0],
      ['1 byte', 1],
      ['chunk - 1', CHUNK - 1],
      ['chunk', CHUNK],
      ['chunk + 1', CHUNK + 1],
      ['several chunks', 5 * CHUNK + 12345],
    ];
    for (const [label, n] of sizes) {
      if (n > 0) {
        it(`known size: ${label}`, async () => {
          const name = uniqueName('glance');
          const data = randomBytes(n);
          await verifyAndDelete(name, await store.add(name, data, n), data);
        });
      }
      it(`unknown size: ${label}`, async () => {
        const name = uniqueName('glance');
        const data = randomBytes(n);
        await verifyAndDelete(name, await store.add(name, data, 0), data);
      });
    }

    it('creates the image with the cluster rbd_default_features', async () => {
      const name = uniqueName('glance');
      const data = randomBytes(10);
      const result = await store.add(name, data, data.length);
      const raw = cluster.confGet('rbd_default_features');
      const want = raw === null || Number(raw) === 0 ? 1 : Number(raw);
      {
        await using image = await Image.open(ioctx, name, { readOnly: true });
        assert.equal(await image.features(), want);
      }
      await store.delete(result.location);
    });

    it('reads a file path, a Readable, an async iterable of odd pieces and an array', async () => {
      const data = randomBytes(3 * CHUNK + 777);
      const file = path.join(tmp, 'image.raw');
      writeFileSync(file, data);
      const sources: Array<[string, () => Parameters<GlanceStore['add']>[1]]> = [
        ['path', () => file],
        ['fs.ReadStream (64 KiB pieces)', () => createReadStream(file)],
        ['Readable.from(16 KiB + 7 pieces)', () => Readable.from(pieces(data, [16 * 1024 + 7]))],
        ['async iterable of odd pieces', () => slowly(pieces(data, [1, 3000, 70_001, CHUNK - 5, 2 * CHUNK + 9]))],
        ['pieces larger than a chunk', () => slowly(pieces(data, [2 * CHUNK + 1, 3 * CHUNK]))],
        ['array of Uint8Array', () => pieces(data, [CHUNK, 100]).map((b) => new Uint8Array(b.buffer, b.byteOffset, b.length))],
      ];
      for (const [label, make] of sources) {
        for (const size of [data.length, 0]) {
          const name = uniqueName('glance-src');
          const result = await store.add(name, make(), size);
          await verifyAndDelete(name, result, data).catch((err: Error) => {
            err.message = `${label}, size ${size}: ${err.message}`;
            throw err;
          });
        }
      }
    });

    it('hashes with sha256 and on the JS thread alike', async () => {
      const data = randomBytes(2 * CHUNK + 3);
      for (const hashOn of ['native', 'js'] as const) {
        await using s = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1, hashAlgo: 'sha256', hashOn, concurrency: 2 });
        assert.equal(s.hashOn, hashOn);
        const name = uniqueName('glance-hash');
        await verifyAndDelete(name, await s.add(name, slowly(pieces(data, [5000])), 0), data, 'sha256');
      }
    });

    it('reports progress up to the size', async () => {
      const data = randomBytes(3 * CHUNK + 1);
      const seen: Array<[number, number | undefined]> = [];
      const name = uniqueName('glance');
      const result = await store.add(name, data, data.length, { onProgress: (done, total) => seen.push([done, total]) });
      assert.deepEqual(seen.at(-1), [data.length, data.length]);
      assert.ok(seen.every(([d], i) => i === 0 || d > seen[i - 1][0]));
      await store.delete(result.location);
    });

    it('percent-encodes the image name in the location', async () => {
      const base = uniqueName('glance');
      // '@' and '/' are refused since issue 19 (the rbd tool cannot address such images); the rest is encoded.
      const name = `${base}:a+b c%`;
      const data = randomBytes(100);
      const result = await store.add(name, data, 100);
      assert.equal(result.location, `rbd://${fsid}/images/${base}%3Aa%2Bb%20c%25/snap`);
      assert.deepEqual(GlanceStore.parseLocation(result.location), { fsid, pool: 'images', image: name, snapshot: 'snap' });
      assert.equal(await store.getSize(result.location), 100);
      await store.delete(result.location);
    });

    it('two unknown-size uploads on one store each end with their own size', async () => {
      const a = randomBytes(5 * CHUNK + 3);
      const b = randomBytes(2 * CHUNK + 1);
      const [na, nb] = [uniqueName('glance-a'), uniqueName('glance-b')];
      const [ra, rb] = await Promise.all([store.add(na, slowly(pieces(a, [100_000]), 1), 0), store.add(nb, slowly(pieces(b, [50_000]), 1), 0)]);
      await verifyAndDelete(na, ra, a);
      await verifyAndDelete(nb, rb, b);
    });

    it('an all-zero image with thin provisioning stays sparse', async () => {
      await using thin = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1, thinProvisioning: true });
      // chunks: zero, data, zero, zero, data (partial), zero (partial)
      const data = Buffer.alloc(5 * CHUNK + 1000);
      randomBytes(CHUNK).copy(data, CHUNK);
      randomBytes(CHUNK / 2).copy(data, 4 * CHUNK);
      for (const size of [data.length, 0]) {
        const name = uniqueName('glance-thin');
        const result = await thin.add(name, slowly(pieces(data, [300_000])), size);
        {
          await using image = await Image.open(ioctx, name, { readOnly: true });
          const extents = (await image.diffIterate()).filter((e) => e.exists);
          const written = extents.reduce((n, e) => n + e.length, 0);
          assert.ok(extents.every((e) => (e.offset >= CHUNK && e.offset + e.length <= 2 * CHUNK) || (e.offset >= 4 * CHUNK && e.offset + e.length <= 5 * CHUNK)), JSON.stringify(extents));
          assert.equal(written, 2 * CHUNK, `only the two non-zero chunks are written (${JSON.stringify(extents)})`);
        }
        await verifyAndDelete(name, result, data);
      }
    });

    it('maxBufferedBytes: concurrent uploads stay within the store-wide budget and all complete', async () => {
      await using limited = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1, concurrency: 4, maxBufferedBytes: 2 * MiB });
      assert.equal(limited.maxBufferedBytes, 2 * MiB);
      assert.equal(store.maxBufferedBytes, undefined);
      const inputs = [randomBytes(5 * MiB + 3), randomBytes(4 * MiB), randomBytes(3 * MiB + 100), randomBytes(6 * MiB)];
      const file = path.join(tmp, 'budget-input');
      writeFileSync(file, inputs[0]);
      const names = inputs.map((_, i) => uniqueName(`glance-budget${i}`));
      const sources = [file, Readable.from(pieces(inputs[1], [64 * 1024 + 1])), slowly(pieces(inputs[2], [16 * 1024, 7]), 0), Readable.from(pieces(inputs[3], [300 * 1024]))];
      const results = await Promise.all(inputs.map((d, i) => limited.add(names[i], sources[i], i % 2 === 0 ? d.length : 0)));
      const { used, peak } = limited.bufferedBytes;
      assert.ok(peak <= 2 * MiB, `peak ${peak} within the budget`);
      assert.ok(peak >= MiB, 'the uploads did count their buffers');
      assert.equal(used, 0, 'every buffer given back');
      for (const [i, r] of results.entries()) {
        assert.equal(r.size, inputs[i].length);
        assert.equal(r.checksum, md5(inputs[i]));
        const { stream } = await limited.get(r.location);
        assert.ok((await readAll(stream)).equals(inputs[i]), `upload ${i} reads back`);
        await limited.delete(r.location);
      }
    });

    it('an image uploaded here reads back byte for byte with `rbd export`', async () => {
      const data = randomBytes(4 * CHUNK + 4097);
      const name = uniqueName('glance-export');
      const result = await store.add(name, slowly(pieces(data, [65_536])), 0);
      const exported = await cliBuffer('rbd', ['export', `images/${name}@snap`, '-']);
      assert.ok(exported.equals(data));
      await store.delete(result.location);
    });
  });

  describe('failures clean up', () => {
    async function poolState(): Promise<{ images: string[]; trash: string[] }> {
      return { images: (await Rbd.list(ioctx)).sort(), trash: (await Rbd.trashList(ioctx)).map((t) => t.id).sort() };
    }

    it('Duplicate when the name exists; the existing image is left alone', async () => {
      const name = uniqueName('glance-dup');
      await Rbd.create(ioctx, name, MiB);
      try {
        await assert.rejects(store.add(name, randomBytes(10), 10), (e: unknown) => {
          assert.ok(e instanceof Duplicate);
          assert.equal(e.message, `RBD image ${name} already exists`);
          return true;
        });
        {
          await using image = await Image.open(ioctx, name);
          assert.equal(await image.size(), MiB);
        }
      } finally {
        await Rbd.remove(ioctx, name);
      }
    });

    it('Invalid when the data overshoots the announced size, mid-stream; removed', async () => {
      const before = await poolState();
      const name = uniqueName('glance-over');
      await assert.rejects(store.add(name, slowly(pieces(randomBytes(4 * CHUNK), [100_000])), CHUNK + 10), (e: unknown) => {
        assert.ok(e instanceof Invalid);
        assert.equal(e.message, `Size exceeds: expected ${CHUNK + 10} bytes, got ${2 * CHUNK} bytes`);
        return true;
      });
      assert.deepEqual(await poolState(), before);
    });

    it('Invalid when the data is shorter than announced; removed', async () => {
      const before = await poolState();
      const name = uniqueName('glance-under');
      await assert.rejects(store.add(name, randomBytes(2 * CHUNK), 3 * CHUNK), (e: unknown) => {
        assert.ok(e instanceof Invalid);
        assert.equal(e.message, `Size mismatch: expected ${3 * CHUNK} bytes, got ${2 * CHUNK} bytes`);
        return true;
      });
      assert.deepEqual(await poolState(), before);
    });

    it('an abort mid-upload rejects with AbortError and leaves the pool as it was', async () => {
      const before = await poolState();
      const controller = new AbortController();
      const name = uniqueName('glance-abort');
      let sent = 0;
      async function* source(): AsyncGenerator<Buffer> {
        for (;;) {
          const piece = randomBytes(256 * 1024);
          sent += piece.length;
          if (sent === 3 * CHUNK) controller.abort(new Error('user cancelled'));
          yield piece;
          await sleep(1);
        }
      }
      await assert.rejects(store.add(name, source(), 0, { signal: controller.signal }), (e: unknown) => {
        assert.ok(e instanceof AbortError);
        assert.equal((e.cause as Error).message, 'user cancelled');
        return true;
      });
      assert.deepEqual(await poolState(), before);
    });

    it('an abort while the source stalls ends at once', async () => {
      const before = await poolState();
      const controller = new AbortController();
      const stalled = new Readable({ read() {} });
      stalled.push(randomBytes(CHUNK + 5));
      const name = uniqueName('glance-stall');
      setTimeout(() => controller.abort(), 300);
      const t0 = Date.now();
      await assert.rejects(store.add(name, stalled, 0, { signal: controller.signal }), AbortError);
      assert.ok(Date.now() - t0 < 10_000);
      assert.ok(!stalled.destroyed, 'the caller still owns the stream (e.g. to answer on its socket)');
      stalled.destroy();
      assert.deepEqual(await poolState(), before);
    });

    it('close() during an upload waits for it to remove its partial image; add rejects with HandleClosedError', async () => {
      const before = await poolState();
      const s = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1 });
      const name = uniqueName('glance-closed');
      let closing: Promise<void> | undefined;
      const adding = s.add(name, slowly(pieces(randomBytes(16 * CHUNK), [256 * 1024]), 5), 16 * CHUNK, {
        onProgress: (done) => {
          if (done >= 2 * CHUNK) closing ??= s.close();
        },
      });
      adding.catch(() => undefined);
      for (let i = 0; i < 200 && closing === undefined; i++) await sleep(50);
      assert.ok(closing, 'close() was called in the middle of the upload');
      await closing;
      // Checked before looking at add(): close() itself waited for the removal.
      assert.deepEqual(await poolState(), before);
      await assert.rejects(adding, (e: unknown) => {
        assert.ok(e instanceof HandleClosedError, String(e));
        assert.equal(e.message, 'GlanceStore.add: the store was closed during the upload');
        return true;
      });
    });

    it('a source that fails mid-way rejects with its error and leaves the pool as it was', async () => {
      const before = await poolState();
      const boom = new Error('source broke');
      async function* source(): AsyncGenerator<Buffer> {
        yield randomBytes(2 * CHUNK + 100);
        await sleep(5);
        yield randomBytes(1000);
        throw boom;
      }
      for (const size of [0, 10 * CHUNK]) {
        await assert.rejects(store.add(uniqueName('glance-fail'), source(), size), (e: unknown) => e === boom);
      }
      const failing = new Readable({ read() {} });
      failing.push(randomBytes(CHUNK * 2));
      setTimeout(() => failing.destroy(new Error('socket hang up')), 100);
      await assert.rejects(store.add(uniqueName('glance-fail'), failing, 0), { message: 'socket hang up' });
      assert.deepEqual(await poolState(), before);
    });

    it('a missing source file fails before anything is created', async () => {
      const before = await poolState();
      await assert.rejects(store.add(uniqueName('glance-nofile'), path.join(tmp, 'missing.raw'), 0), { code: 'ENOENT' });
      assert.deepEqual(await poolState(), before);
    });

    it('StorageFull when the pool quota is reached (the write blocks until the op timeout)', async function () {
      this.timeout(180_000);
      const pool = uniqueName('glance-quota');
      await cluster.createPool(pool);
      try {
        await cluster.monCommand({ prefix: 'osd pool application enable', pool, app: 'rbd' });
        {
          await using io = await cluster.openIoctx(pool);
          await Rbd.poolInit(io, false);
        }
        await using full = await GlanceStore.open({ confFile: confFile(), pool, chunkSizeMiB: 1, connectTimeoutMs: 3_000 });
        const first = await full.add('first', randomBytes(3 * CHUNK), 3 * CHUNK);
        assert.ok(first.location.endsWith('/first/snap'));
        const quota = await cluster.monCommand({ prefix: 'osd pool set-quota', pool, field: 'max_bytes', val: String(MiB) });
        assert.equal(quota.status, 0, quota.outs);
        // The monitors flag the pool full once the OSD reports its usage.
        for (let i = 0; ; i++) {
          const dump = JSON.parse((await cluster.monCommand({ prefix: 'osd dump', format: 'json' })).outbuf.toString()) as { pools: Array<{ pool_name: string; flags_names: string }> };
          if (dump.pools.find((p) => p.pool_name === pool)?.flags_names.includes('full_quota')) break;
          assert.ok(i < 120, 'the pool was not flagged full within 60 s');
          await sleep(500);
        }
        await assert.rejects(full.add('second', randomBytes(2 * CHUNK), 2 * CHUNK), (e: unknown) => {
          assert.ok(e instanceof StorageFull, String(e));
          assert.equal(e.message, 'There is not enough disk space on the image storage media.');
          // The store's contexts are full-try: EDQUOT at once (TimedOut if the OSD dropped the write before the flag arrived).
          assert.ok(e.cause instanceof DiskQuotaExceeded || e.cause instanceof TimedOut, `cause ${String(e.cause)}`);
          return true;
        });
        await using io = await cluster.openIoctx(pool);
        assert.deepEqual(await Rbd.list(io), ['first']);
      } finally {
        await cluster.monCommand({ prefix: 'osd pool set-quota', pool, field: 'max_bytes', val: '0' });
        await cluster.monCommand({ prefix: 'osd pool delete', pool, pool2: pool, yes_i_really_really_mean_it: true });
      }
    });
  });

  describe('get / getSize', () => {
    it('streams a range (offset, length) and honours chunkSize', async () => {
      const data = randomBytes(3 * CHUNK + 500);
      const name = uniqueName('glance-get');
      const { location } = await store.add(name, data, data.length);
      try {
        const cases: Array<[number | undefined, number | undefined, number | undefined]> = [
          [undefined, undefined, undefined],
          [1000, 2 * CHUNK + 17, 64 * 1024],
          [CHUNK, CHUNK, undefined],
          [data.length - 10, undefined, 64 * 1024],
          [data.length - 10, 1000, undefined], // cut at the end
          [data.length, undefined, undefined], // empty
          [0, 0, undefined],
        ];
        for (const [offset, length, chunkSize] of cases) {
          const got = await store.get(location, { offset, length, chunkSize });
          assert.equal(got.size, data.length);
          const want = data.subarray(offset ?? 0, length === undefined ? undefined : (offset ?? 0) + length);
          assert.equal(got.length, want.length);
          const back = await readAll(got.stream);
          assert.ok(back.equals(want), `offset ${offset} length ${length}`);
          if (chunkSize !== undefined) assert.ok(back.length === 0 || chunkSize >= 1);
        }
        await assert.rejects(store.get(location, { offset: data.length + 1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
        // A piece below 64 KiB is refused up front (chunkSize 1 meant one librbd call per byte: minutes for 5 MiB).
        for (const chunkSize of [1, 4096, 64 * 1024 - 1]) {
          await assert.rejects(store.get(location, { chunkSize }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /options\.chunkSize/ });
        }
        // readAhead: any depth reads the same bytes; outside 1..16 a RangeError.
        for (const readAhead of [1, 3, 16]) {
          const back = await readAll((await store.get(location, { readAhead, chunkSize: 64 * 1024 })).stream);
          assert.ok(back.equals(data), `readAhead ${readAhead}`);
        }
        for (const readAhead of [0, 17, 1.5]) {
          await assert.rejects(store.get(location, { readAhead }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: /options\.readAhead/ });
        }
        assert.equal(await store.getSize(location), data.length);
      } finally {
        await store.delete(location);
      }
    });

    it('applies backpressure: a paused stream holds a bounded read-ahead', async () => {
      const data = randomBytes(8 * CHUNK);
      const name = uniqueName('glance-bp');
      const { location } = await store.add(name, data, data.length);
      try {
        const { stream } = await store.get(location, { chunkSize: 256 * 1024 });
        await new Promise((r) => stream.once('readable', r));
        await sleep(200);
        assert.ok(stream.readableLength <= 2 * 256 * 1024, `buffered ${stream.readableLength}`);
        const back = await readAll(stream);
        assert.ok(back.equals(data));
        // destroying a stream mid-way closes its image
        const second = await store.get(location, { chunkSize: 64 * 1024 });
        await new Promise((r) => second.stream.once('readable', r));
        second.stream.destroy();
        await new Promise((r) => second.stream.once('close', r));
      } finally {
        await store.delete(location);
      }
    });

    it('reads a legacy rbd://<image> location from the configured pool', async () => {
      const data = randomBytes(1000);
      const name = uniqueName('glance-legacy');
      const { location } = await store.add(name, data, data.length);
      try {
        assert.equal(await store.getSize(`rbd://${name}`), 1000);
        assert.ok((await readAll((await store.get(`rbd://${name}`)).stream)).equals(data));
      } finally {
        await store.delete(location);
      }
    });

    it('NotFound for a missing image or snapshot', async () => {
      const name = uniqueName('glance-missing');
      const location = `rbd://${fsid}/images/${name}/snap`;
      await assert.rejects(store.get(location), (e: unknown) => e instanceof NotFound && e.message === `RBD image ${name} does not exist`);
      await assert.rejects(store.getSize(location), (e: unknown) => e instanceof NotFound && e.message === `RBD image ${location} does not exist`);
      await assert.rejects(store.delete(location), (e: unknown) => e instanceof NotFound && e.message === `RBD image ${name} does not exist`);
      await assert.rejects(store.delete(`rbd://${name}`), NotFound);
      const data = randomBytes(10);
      const added = await store.add(name, data, 10);
      try {
        await assert.rejects(store.getSize(`rbd://${fsid}/images/${name}/nosuchsnap`), NotFound);
      } finally {
        await store.delete(added.location);
      }
    });

    it('BadStoreUri for malformed locations', async () => {
      for (const uri of ['http://x', 'rbd://a/b', 'rbd://a//c/d', 'rbd://', 'rbd://f/p/é/s']) {
        await assert.rejects(store.get(uri), BadStoreUri);
        await assert.rejects(store.getSize(uri), BadStoreUri);
        await assert.rejects(store.delete(uri), BadStoreUri);
      }
    });
  });

  describe('delete', () => {
    it('InUseByStore while a clone of the snapshot exists; deletes once it is gone', async () => {
      const name = uniqueName('glance-parent');
      const child = uniqueName('glance-child');
      const { location } = await store.add(name, randomBytes(CHUNK), CHUNK);
      await Rbd.clone(ioctx, name, 'snap', ioctx, child);
      try {
        await assert.rejects(store.delete(location), (e: unknown) => {
          assert.ok(e instanceof InUseByStore);
          assert.ok(e.cause instanceof ImageBusy);
          return true;
        });
        await using image = await Image.open(ioctx, name, { readOnly: true });
        assert.equal(await image.isProtectedSnap('snap'), true, 'the snapshot is still protected');
      } finally {
        await Rbd.remove(ioctx, child);
      }
      await store.delete(location);
      assert.ok(!(await Rbd.list(ioctx)).includes(name));
    });

    it('InUseByStore while another client has the image open', async () => {
      const name = uniqueName('glance-open');
      const { location } = await store.add(name, randomBytes(CHUNK), CHUNK);
      const other = await Image.open(ioctx, name);
      try {
        await assert.rejects(store.delete(location), InUseByStore);
      } finally {
        await other.close();
      }
      // The snapshot is already gone (as upstream); the image goes now.
      await store.delete(location);
      assert.ok(!(await Rbd.list(ioctx)).includes(name));
    });

    it('an image with other snapshots goes to the trash', async () => {
      const name = uniqueName('glance-trash');
      const { location } = await store.add(name, randomBytes(CHUNK), CHUNK);
      {
        await using image = await Image.open(ioctx, name);
        await image.createSnap('extra');
      }
      await store.delete(location);
      assert.ok(!(await Rbd.list(ioctx)).includes(name));
      const entry = (await Rbd.trashList(ioctx)).find((t) => t.name === name);
      assert.ok(entry, 'the image is in the trash');
      await Rbd.trashRestore(ioctx, entry.id, name);
      {
        await using image = await Image.open(ioctx, name);
        assert.deepEqual((await image.listSnaps()).map((s) => s.name), ['extra']);
        await image.removeSnap('extra');
      }
      await Rbd.remove(ioctx, name);
    });

    it('an already unprotected or missing snapshot is fine', async () => {
      const name = uniqueName('glance-unprot');
      const { location } = await store.add(name, randomBytes(100), 100);
      {
        await using image = await Image.open(ioctx, name);
        await image.unprotectSnap('snap');
      }
      await store.delete(location);
      const again = await store.add(name, randomBytes(100), 100);
      {
        await using image = await Image.open(ioctx, name);
        await image.removeSnap('snap', { force: true });
      }
      await store.delete(again.location);
      assert.ok(!(await Rbd.list(ioctx)).includes(name));
    });

    it('clears a name an add() killed inside librbd left half-made (listed, no header); the id can be added again', async () => {
      const name = uniqueName('glance-halfmade');
      for (const location of [`rbd://${fsid}/images/${name}/snap`, `rbd://${name}`]) {
        await Rbd.create(ioctx, name, CHUNK);
        await makeHalfMade(ioctx, name);
        await assert.rejects(store.add(name, randomBytes(100), 100), Duplicate);
        await store.delete(location);
        assert.ok(!(await Rbd.list(ioctx)).includes(name), `${location}: the name is gone`);
        await assert.rejects(store.delete(location), NotFound, `${location}: nothing left to delete`);
      }
      const data = randomBytes(100);
      const added = await store.add(name, data, 100);
      assert.ok((await readAll((await store.get(added.location)).stream)).equals(data));
      await store.delete(added.location);
    });

    it('removeHalfMade() removes only the half-made names among the ids it is given', async () => {
      const [half, whole, other] = [uniqueName('glance-hm'), uniqueName('glance-hm'), uniqueName('glance-hm')];
      for (const n of [half, other]) {
        await Rbd.create(ioctx, n, CHUNK);
        await makeHalfMade(ioctx, n);
      }
      const { location } = await store.add(whole, randomBytes(100), 100);
      assert.deepEqual(await store.removeHalfMade([half, whole, uniqueName('glance-missing')]), [half]);
      const names = await Rbd.list(ioctx);
      assert.ok(!names.includes(half) && names.includes(whole) && names.includes(other), 'only the half-made name it was given is gone');
      assert.equal(await store.getSize(location), 100);
      assert.deepEqual(await store.removeHalfMade([half]), []);
      await assert.rejects(store.removeHalfMade('x' as unknown as string[]), { code: 'ERR_INVALID_ARG_TYPE' });
      await assert.rejects(store.removeHalfMade(['a/b']), { code: 'ERR_INVALID_ARG_VALUE' });
      await store.delete(location);
      await Rbd.remove(ioctx, other);
    });
  });

  describe('configuration and connection', () => {
    it('BadStoreConfiguration for unusable options', async () => {
      for (const bad of [{ chunkSizeMiB: 0 }, { chunkSizeMiB: 1.5 }, { hashAlgo: 'no-such-hash' }, { concurrency: 0 }, { hashOn: 'gpu' }, { pool: '' }, { maxBufferedBytes: MiB - 1 }, { maxBufferedBytes: 1.5 * MiB }, { maxBufferedBytes: -1 }, { chunkSizeMiB: 4, maxBufferedBytes: 3 * MiB }, { maxBufferedBytes: '8MiB' }]) {
        await assert.rejects(GlanceStore.open({ confFile: confFile(), ...(bad as object) }), (e: unknown) => {
          assert.ok(e instanceof BadStoreConfiguration, JSON.stringify(bad));
          assert.match(e.message, /^Store rbd could not be configured correctly\. Reason: Expected /);
          return true;
        });
      }
    });

    it('BackendException when the cluster cannot be reached', async () => {
      const conf = path.join(tmp, 'nowhere.conf');
      writeFileSync(conf, '[global]\nmon host = v1:127.0.0.1:9\nauth client required = none\n');
      await assert.rejects(GlanceStore.open({ confFile: conf, connectTimeoutMs: 1000 }), (e: unknown) => {
        assert.ok(e instanceof BackendException);
        assert.equal(e.message, 'Error connecting to ceph cluster.');
        return true;
      });
    });

    it('derives order from the chunk size (non-powers of two give smaller objects)', async () => {
      await using s = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 3 });
      assert.equal(s.order, 21);
      assert.equal(s.writeUnit, 2 * MiB);
      const data = randomBytes(7 * MiB + 3);
      const name = uniqueName('glance-3m');
      const result = await s.add(name, slowly(pieces(data, [1_000_000])), 0);
      {
        await using image = await Image.open(ioctx, name, { readOnly: true });
        assert.equal((await image.stat()).order, 21);
      }
      assert.equal(result.checksum, md5(data));
      await s.delete(result.location);
    });

    it('reconnects after its connection is lost (client blocklisted)', async () => {
      const warnings: string[] = [];
      await using s = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1, connectTimeoutMs: 30_000, logger: { warn: (m) => warnings.push(m) } });
      const name = uniqueName('glance-blk');
      let addr = '';
      async function* source(): AsyncGenerator<Buffer> {
        yield randomBytes(CHUNK);
        // The store's client is the image's watcher while it writes.
        await using image = await Image.open(ioctx, name, { readOnly: true });
        addr = (await image.listWatchers())[0].address;
        yield randomBytes(CHUNK);
      }
      const { location } = await s.add(name, source(), 0);
      assert.match(addr, /:0\/\d+$/);
      const added = await cluster.monCommand({ prefix: 'osd blocklist', blocklistop: 'add', addr });
      assert.equal(added.status, 0, added.outs);
      try {
        await sleep(1000);
        assert.equal(await s.getSize(location), 2 * CHUNK);
        assert.ok(warnings.some((w) => w.startsWith('connection lost')), warnings.join('\n'));
        await s.delete(location);
      } finally {
        await cluster.monCommand({ prefix: 'osd blocklist', blocklistop: 'rm', addr });
      }
      assert.ok(!(await Rbd.list(ioctx)).includes(name));
    });

    it('returns multistore metadata with `backend`', async () => {
      await using s = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1, backend: 'ceph-fast' });
      const name = uniqueName('glance-ms');
      const result = await s.add(name, randomBytes(5), 5);
      assert.deepEqual(result.metadata, { store: 'ceph-fast' });
      await s.delete(result.location);
    });

    it('refuses calls after close, and ends open streams', async () => {
      const s = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1 });
      const name = uniqueName('glance-close');
      const { location } = await s.add(name, randomBytes(4 * CHUNK), 4 * CHUNK);
      const { stream } = await s.get(location, { chunkSize: 64 * 1024 });
      const errored = new Promise<unknown>((resolve) => stream.once('error', resolve));
      await s.close();
      assert.ok((await errored) instanceof HandleClosedError);
      await s.close(); // idempotent
      await assert.rejects(s.add(uniqueName(), randomBytes(1), 1), HandleClosedError);
      await assert.rejects(s.getSize(location), HandleClosedError);
      await store.delete(location);
    });
  });
});
