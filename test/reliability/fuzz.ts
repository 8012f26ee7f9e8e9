/**
 * Property tests of the public methods on a real cluster (fast-check): Rbd,
 * Image, IoCtx object operations, GlanceStore and the Cinder driver, called
 * with random types, sizes, offsets, names ('/', '@', NUL, unicode, 10 KB),
 * buffers, options and locations. What must hold for every call:
 *
 * - it settles with a value, or with a TypeError/RangeError carrying Node's
 *   codes, or one of the library's error classes (contractViolation());
 * - a call that failed validation (TypeError/RangeError) created no image:
 *   the pool's image list and trash are the same before and after;
 * - the process never aborts (it would end the test run).
 *
 * Everything happens in a pool of its own, removed at the end.
 */
import { strict as assert } from 'node:assert';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import fc from 'fast-check';

import { GlanceStore, Image, type IoCtx, Rados, Rbd, RbdVolumeDriver } from '../../lib';
import { piece, locationString } from './parsers';
import { contractViolation, isArgumentError, MiB, recordFigure, seconds, uniq } from './support';

const LONG = 'n'.repeat(10 * 1024);
const CALL_TIMEOUT_MS = 60_000;

/** Names: ordinary, hostile and not strings at all. */
export const nameArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'img', 'x/y', 'a@b', '@', '/', 'a\0b', '\0', '', ' ', 'é', '😀', '\uD800', '..', 'rbd_directory', LONG, `${LONG}@s`) },
  { weight: 2, arbitrary: piece },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.anything() },
);
/** Sizes and offsets: valid, edge and invalid numbers, bigints, other types. */
export const numberArb = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 64 * MiB }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(-1, 0.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 53 - 1, 2 ** 32, 2 ** 31, -0, 2n ** 64n - 1n, 2n ** 64n, -1n, 0n, 4096n, 2n ** 63n),
  },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }) },
  { weight: 1, arbitrary: fc.anything() },
);
/** Buffers and things that are not. */
export const bufferArb = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 * 1024 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.alloc(0), new Uint8Array(new ArrayBuffer(16), 3, 5), new Uint16Array(4), new DataView(new ArrayBuffer(8)), 'text', [1, 2, 3], null) },
  { weight: 1, arbitrary: fc.anything() },
);
/**
 * Object names for the IoCtx calls: the pool's own RBD objects are left
 * alone (overwriting rbd_directory breaks the before/after listing this
 * harness relies on; that case has a test of its own in reliability-short).
 */
const objectNameArb = nameArb.map((n) => (typeof n === 'string' && n.startsWith('rbd_') ? `obj-${n}` : n));
const optionsArb = fc.oneof(fc.constant(undefined), fc.anything(), fc.record({ readOnly: fc.anything(), snapshot: nameArb, byId: fc.anything(), order: numberArb, features: numberArb }, { requiredKeys: [] }));

/** A size that is small enough to create for real, or anything else. */
const createSizeArb = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 64 * MiB }) }, { weight: 1, arbitrary: numberArb });

type Call = { label: string; run: (ctx: Ctx) => Promise<unknown>; mayCreate: boolean };

interface Ctx {
  cluster: Rados;
  ioctx: IoCtx;
  image: Image;
  store: GlanceStore;
  driver: RbdVolumeDriver;
  file: string;
  dir: string;
}

function call(label: string, mayCreate: boolean, run: (ctx: Ctx) => Promise<unknown>): Call {
  return { label, run, mayCreate };
}

const volumeArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ id: nameArb, size: fc.oneof(fc.integer({ min: 0, max: 2 }), numberArb), name: fc.option(nameArb, { nil: undefined }) }, { requiredKeys: ['id', 'size'] }) },
  { weight: 1, arbitrary: fc.anything() },
);
const snapshotArb = fc.oneof(fc.record({ id: nameArb, volumeName: nameArb, volumeSize: numberArb, name: fc.option(nameArb, { nil: undefined }) }, { requiredKeys: ['id', 'volumeName'] }), fc.anything());

/** One random call on the public API. */
const callArb: fc.Arbitrary<Call> = fc.oneof(
  // Rbd (pool level)
  fc.tuple(nameArb, createSizeArb, optionsArb).map(([n, s, o]) => call(`Rbd.create(${fmt(n)}, ${fmt(s)})`, true, (c) => Rbd.create(c.ioctx, n as string, s as number, o as never))),
  fc.tuple(nameArb).map(([n]) => call(`Rbd.remove(${fmt(n)})`, false, (c) => Rbd.remove(c.ioctx, n as string))),
  fc.tuple(nameArb, nameArb).map(([a, b]) => call(`Rbd.rename(${fmt(a)}, ${fmt(b)})`, true, (c) => Rbd.rename(c.ioctx, a as string, b as string))),
  fc.tuple(nameArb, nameArb, nameArb, optionsArb).map(([p, s, ch, o]) => call(`Rbd.clone(${fmt(p)}@${fmt(s)} → ${fmt(ch)})`, true, (c) => Rbd.clone(c.ioctx, p as string, s as string, c.ioctx, ch as string, o as never))),
  fc.tuple(nameArb, numberArb).map(([n, d]) => call(`Rbd.trashMove(${fmt(n)}, ${fmt(d)})`, false, (c) => Rbd.trashMove(c.ioctx, n as string, d as number))),
  // Image.open
  fc.tuple(nameArb, optionsArb).map(([n, o]) => call(`Image.open(${fmt(n)})`, false, async (c) => (await Image.open(c.ioctx, n as string, o as never)).close())),
  // Image I/O on the shared fuzz image
  fc.tuple(numberArb, numberArb).map(([o, l]) => call(`image.read(${fmt(o)}, ${fmt(l)})`, false, (c) => c.image.read(o as number, l as number))),
  fc.tuple(numberArb, numberArb).map(([o, l]) => call(`image.aioRead(${fmt(o)}, ${fmt(l)})`, false, (c) => c.image.aioRead(o as number, l as number))),
  fc.tuple(bufferArb, numberArb).map(([b, o]) => call(`image.write(${fmt(b)}, ${fmt(o)})`, false, (c) => c.image.write(b as Buffer, o as number))),
  fc.tuple(bufferArb, numberArb).map(([b, o]) => call(`image.aioWrite(${fmt(b)}, ${fmt(o)})`, false, (c) => c.image.aioWrite(b as Buffer, o as number))),
  fc.tuple(numberArb, bufferArb).map(([o, b]) => call(`image.readInto(${fmt(o)}, ${fmt(b)})`, false, (c) => c.image.readInto(o as number, b as Buffer))),
  fc.tuple(numberArb, numberArb).map(([o, l]) => call(`image.discard(${fmt(o)}, ${fmt(l)})`, false, (c) => c.image.discard(o as number, l as number))),
  fc.tuple(numberArb, numberArb).map(([o, l]) => call(`image.writeZeroes(${fmt(o)}, ${fmt(l)})`, false, (c) => c.image.writeZeroes(o as number, l as number))),
  // Resize: valid sizes stay small (removing a huge image walks every object).
  fc.oneof(fc.integer({ min: 0, max: 128 * MiB }), fc.constantFrom(-1, NaN, 2 ** 53, -1n, 'x', null)).map((s) => call(`image.resize(${fmt(s)})`, false, (c) => c.image.resize(s as number))),
  fc.tuple(nameArb).map(([n]) => call(`image.createSnap(${fmt(n)})`, false, (c) => c.image.createSnap(n as string))),
  fc.tuple(nameArb, optionsArb).map(([n, o]) => call(`image.removeSnap(${fmt(n)})`, false, (c) => c.image.removeSnap(n as string, o as never))),
  fc.tuple(nameArb, nameArb).map(([a, b]) => call(`image.renameSnap(${fmt(a)}, ${fmt(b)})`, false, (c) => c.image.renameSnap(a as string, b as string))),
  fc.tuple(nameArb).map(([n]) => call(`image.protectSnap(${fmt(n)})`, false, (c) => c.image.protectSnap(n as string))),
  fc.tuple(nameArb).map(([n]) => call(`image.snapExists(${fmt(n)})`, false, (c) => c.image.snapExists(n as string))),
  fc.tuple(nameArb, nameArb).map(([k, v]) => call(`image.metadataSet(${fmt(k)}, ${fmt(v)})`, false, (c) => c.image.metadataSet(k as string, v as string))),
  fc.tuple(nameArb).map(([k]) => call(`image.metadataGet(${fmt(k)})`, false, (c) => c.image.metadataGet(k as string))),
  fc.tuple(fc.anything()).map(([o]) => call(`image.diffIterate(${fmt(o)})`, false, (c) => c.image.diffIterate(o as never))),
  fc.tuple(nameArb, optionsArb).map(([n, o]) => call(`image.copy(${fmt(n)})`, true, (c) => c.image.copy(c.ioctx, n as string, o as never))),
  // IoCtx object operations
  fc.tuple(objectNameArb, bufferArb, numberArb).map(([n, b, o]) => call(`ioctx.write(${fmt(n)}, ${fmt(b)}, ${fmt(o)})`, false, (c) => c.ioctx.write(n as string, b as Buffer, o as number))),
  fc.tuple(objectNameArb, bufferArb).map(([n, b]) => call(`ioctx.writeFull(${fmt(n)}, ${fmt(b)})`, false, (c) => c.ioctx.writeFull(n as string, b as Buffer))),
  fc.tuple(objectNameArb, numberArb, numberArb).map(([n, l, o]) => call(`ioctx.read(${fmt(n)}, ${fmt(l)}, ${fmt(o)})`, false, (c) => c.ioctx.read(n as string, l as number, o as number))),
  fc.tuple(objectNameArb, nameArb, fc.oneof(bufferArb, nameArb)).map(([n, k, v]) => call(`ioctx.setXattr(${fmt(n)}, ${fmt(k)})`, false, (c) => c.ioctx.setXattr(n as string, k as string, v as string))),
  fc.tuple(objectNameArb, fc.anything()).map(([n, e]) => call(`ioctx.omapSet(${fmt(n)}, ${fmt(e)})`, false, (c) => c.ioctx.omapSet(n as string, e as never))),
  fc.tuple(objectNameArb, fc.anything()).map(([n, o]) => call(`ioctx.omapGet(${fmt(n)}, ${fmt(o)})`, false, (c) => c.ioctx.omapGet(n as string, o as never))),
  fc.tuple(nameArb).map(([n]) => call(`ioctx.remove(${fmt(n)})`, false, (c) => c.ioctx.remove(n as string))),
  // GlanceStore
  fc
    .tuple(nameArb, fc.oneof(bufferArb, fc.constantFrom('file', 'missing', 'dir'), fc.anything()), numberArb, fc.oneof(fc.constant(undefined), fc.anything()))
    .map(([n, src, size, o]) =>
      call(`store.add(${fmt(n)}, ${fmt(src)}, ${fmt(size)})`, true, (c) => {
        const source = src === 'file' ? c.file : src === 'missing' ? path.join(c.dir, 'missing') : src === 'dir' ? c.dir : src;
        return c.store.add(n as string, source as Buffer, size as number, o as never);
      }),
    ),
  fc.tuple(fc.oneof(locationString, fc.anything()), fc.anything()).map(([l, o]) => call(`store.get(${fmt(l)})`, false, async (c) => (await c.store.get(l as string, o as never)).stream.destroy())),
  fc.tuple(fc.oneof(locationString, fc.anything())).map(([l]) => call(`store.getSize(${fmt(l)})`, false, (c) => c.store.getSize(l as string))),
  fc.tuple(fc.oneof(locationString, fc.anything())).map(([l]) => call(`store.delete(${fmt(l)})`, false, (c) => c.store.delete(l as string))),
  // Cinder
  fc.tuple(volumeArb).map(([v]) => call(`driver.createVolume(${fmt(v)})`, true, (c) => c.driver.createVolume(v as never))),
  fc.tuple(volumeArb).map(([v]) => call(`driver.deleteVolume(${fmt(v)})`, false, (c) => c.driver.deleteVolume(v as never))),
  fc.tuple(volumeArb, numberArb).map(([v, s]) => call(`driver.extendVolume(${fmt(v)}, ${fmt(s)})`, false, (c) => c.driver.extendVolume(v as never, typeof s === 'number' && s > 2 ? 2 : (s as number)))),
  fc.tuple(snapshotArb).map(([s]) => call(`driver.createSnapshot(${fmt(s)})`, false, (c) => c.driver.createSnapshot(s as never))),
  fc.tuple(snapshotArb).map(([s]) => call(`driver.deleteSnapshot(${fmt(s)})`, false, (c) => c.driver.deleteSnapshot(s as never))),
  fc.tuple(volumeArb, snapshotArb).map(([v, s]) => call(`driver.createVolumeFromSnapshot(${fmt(v)}, ${fmt(s)})`, true, (c) => c.driver.createVolumeFromSnapshot(v as never, s as never))),
  fc.tuple(volumeArb, volumeArb).map(([v, s]) => call(`driver.createClonedVolume(${fmt(v)}, ${fmt(s)})`, true, (c) => c.driver.createClonedVolume(v as never, s as never))),
  fc.tuple(volumeArb, fc.anything()).map(([v, r]) => call(`driver.manageExisting(${fmt(v)}, ${fmt(r)})`, true, (c) => c.driver.manageExisting(v as never, r as never))),
  fc
    .tuple(volumeArb, fc.oneof(locationString, fc.anything()), fc.anything())
    .map(([v, l, m]) => call(`driver.cloneImage(${fmt(v)}, ${fmt(l)})`, true, (c) => c.driver.cloneImage(v as never, l as never, m as never))),
  fc.tuple(volumeArb).map(([v]) => call(`driver.initializeConnection(${fmt(v)})`, false, (c) => c.driver.initializeConnection(v as never))),
);

function fmt(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}…(${v.length})` : v);
  if (typeof v === 'bigint') return `${v}n`;
  if (Buffer.isBuffer(v)) return `Buffer(${v.length})`;
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(typeof v) : s.length > 40 ? `${s.slice(0, 40)}…` : s;
  } catch {
    return typeof v;
  }
}

/** Runs `runs` random calls; returns figures. */
export async function fuzzPublicApi(confFile: string, runs: number, suite: 'short' | 'long'): Promise<void> {
  const pool = uniq('fuzz');
  const admin = await Rados.connect({ confFile, timeoutMs: 60_000 });
  const created = await admin.monCommand({ prefix: 'osd pool create', pool, pg_num: 8 });
  assert.equal(created.status, 0, created.outs);
  const dir = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-fuzz-'));
  const file = path.join(dir, 'file.raw');
  writeFileSync(file, Buffer.alloc(5000, 3));
  const stats = { calls: 0, resolved: 0, argumentErrors: 0, cephErrors: 0, otherTyped: 0 };
  const byLabel = new Map<string, number>();
  const t0 = Date.now();
  let ctx: Ctx | undefined;
  try {
    await admin.monCommand({ prefix: 'osd pool application enable', pool, app: 'rbd' });
    const ioctx = await admin.openIoctx(pool);
    await Rbd.poolInit(ioctx, false);
    const fuzzImage = uniq('fuzz-image');
    await Rbd.create(ioctx, fuzzImage, 64 * MiB, { order: 22 });
    ctx = {
      cluster: admin,
      ioctx,
      image: await Image.open(ioctx, fuzzImage),
      store: await GlanceStore.open({ confFile, pool, chunkSizeMiB: 1, connectTimeoutMs: 60_000 }),
      driver: await RbdVolumeDriver.open({ confFile, pool, connectTimeoutMs: 60_000, connectionRetries: 1, connectionIntervalMs: 0 }),
      file,
      dir,
    };
    const c = ctx;
    await fc.assert(
      fc.asyncProperty(callArb, async (k) => {
        stats.calls++;
        const kind = k.label.slice(0, k.label.indexOf('('));
        byLabel.set(kind, (byLabel.get(kind) ?? 0) + 1);
        const before = k.mayCreate ? { images: (await Rbd.list(c.ioctx)).sort(), trash: (await Rbd.trashList(c.ioctx)).length } : undefined;
        if (process.env.FUZZ_TRACE) appendFileSync(process.env.FUZZ_TRACE, `${k.label}\n`);
        let error: unknown;
        let ok = false;
        // Every call settles: one that hangs fails the property (with its label).
        let timer: NodeJS.Timeout | undefined;
        const hang = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${k.label} did not settle within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
        });
        try {
          await Promise.race([k.run(c), hang]);
          ok = true;
        } catch (err) {
          if (err instanceof Error && err.message.endsWith(`did not settle within ${CALL_TIMEOUT_MS} ms`)) throw err;
          error = err;
        } finally {
          clearTimeout(timer);
        }
        if (ok) {
          stats.resolved++;
        } else {
          const violation = contractViolation(error);
          // A missing or unreadable source file: Node's own fs error, passed through by store.add.
          const fsError = k.label.startsWith('store.add') && typeof (error as { syscall?: unknown }).syscall === 'string';
          assert.ok(violation === null || fsError, `${k.label}: ${violation ?? ''}`);
          if (isArgumentError(error)) stats.argumentErrors++;
          else if ((error as { errno?: unknown }).errno !== undefined && !fsError) stats.cephErrors++;
          else stats.otherTyped++;
          if (before && isArgumentError(error)) {
            const after = { images: (await Rbd.list(c.ioctx)).sort(), trash: (await Rbd.trashList(c.ioctx)).length };
            assert.deepEqual(after, before, `${k.label} failed validation (${String(error)}) but changed the pool`);
          }
        }
        // The fuzz image stays open and usable whatever happened.
        assert.equal(c.image.state, 'open');
      }),
      // No shrinking: a failing call is reported as it was (shrinking would re-run hangs).
      { numRuns: runs, endOnFailure: true, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) },
    );
    // Still readable at the end; the calls may have resized it down to 0 bytes,
    // and librbd refuses a read that starts at or past the end (EINVAL).
    const size = Number(await c.image.size());
    assert.equal((await c.image.read(0, Math.min(16, size))).length, Math.min(16, size));
  } finally {
    if (ctx) {
      await ctx.image.close().catch(() => undefined);
      await ctx.store.close();
      await ctx.driver.close();
    }
    const removed = await admin.monCommand({ prefix: 'osd pool delete', pool, pool2: pool, yes_i_really_really_mean_it: true });
    await admin.shutdown();
    assert.equal(removed.status, 0, `osd pool delete ${pool}: ${removed.outs}`);
    rmSync(dir, { recursive: true, force: true });
  }
  recordFigure({
    suite,
    test: 'public API fuzz (real cluster)',
    tried: `${stats.calls} random calls over ${byLabel.size} methods (Rbd, Image, IoCtx, GlanceStore, RbdVolumeDriver): random types, sizes, offsets, names with / @ NUL unicode and 10 KB, buffers, options, locations`,
    held: 'only TypeError/RangeError (with codes) or typed errors; no image created by a call that failed validation; no abort',
    figures: { seconds: seconds(Date.now() - t0), ...stats },
  });
}
