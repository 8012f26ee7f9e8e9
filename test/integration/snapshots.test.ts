import { strict as assert } from 'node:assert';

import {
  DiskQuotaExceeded,
  Image,
  ImageBusy,
  ImageExists,
  ImageNotFound,
  InvalidArgument,
  IoCtx,
  Rbd,
  RbdError,
  RBD_FEATURE_LAYERING,
  ReadOnlyImage,
} from '../../lib';
import { uniqueName, withPool, cephError } from '../helpers/cluster';

const MiB = 1024 * 1024;


describe('snapshots (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_cluster, io) => {
    ioctx = io;
  });

  /** A new layering image, opened; afterwards every snapshot (protected too) and the image are removed. */
  async function withImage(fn: (image: Image, name: string) => Promise<void>, size = 16 * MiB): Promise<void> {
    const name = uniqueName('snap');
    await Rbd.create(ioctx, name, size, { order: 22, features: RBD_FEATURE_LAYERING });
    const image = await Image.open(ioctx, name);
    try {
      await fn(image, name);
    } finally {
      if (image.state === 'open') {
        await image.setSnap(null);
        for (const s of await image.listSnaps()) await image.removeSnap(s.name, { force: true });
        await image.close();
      }
      await Rbd.remove(ioctx, name);
    }
  }

  it('createSnap, listSnaps (id, name, size, namespace, timestamp, protected), snapExists', () =>
    withImage(async (image) => {
      assert.deepEqual(await image.listSnaps(), []);
      const t0 = Date.now();
      await image.createSnap('first');
      await image.resize(32 * MiB);
      await image.createSnap('second');
      const t1 = Date.now();
      const snaps = await image.listSnaps();
      assert.deepEqual(
        snaps.map((s) => [s.name, s.size, s.namespaceType, s.protected]),
        [
          ['first', 16 * MiB, 0, false],
          ['second', 32 * MiB, 0, false],
        ],
      );
      assert.ok(Number.isSafeInteger(snaps[0].id) && snaps[1].id > snaps[0].id);
      for (const s of snaps) {
        // Cluster and client share the host clock; allow a little slack.
        assert.ok(s.timestampMs >= t0 - 5000 && s.timestampMs <= t1 + 5000, `timestamp ${s.timestampMs} near ${t0}..${t1}`);
      }
      assert.equal(await image.snapExists('first'), true);
      assert.equal(await image.snapExists('missing'), false);
    }));

  it('lists more snapshots than the first buffer holds', function () {
    // Each snapshot is a monitor round trip (about a second on the micro cluster).
    this.timeout(180_000);
    return withImage(async (image) => {
      // 17 snapshots need 18 entries (with librbd's terminator): more than the first 16.
      const names = Array.from({ length: 17 }, (_, i) => `s${String(i).padStart(2, '0')}`);
      for (const n of names) await image.createSnap(n);
      assert.deepEqual((await image.listSnaps()).map((s) => s.name), names);
    });
  });

  it('creating an existing snapshot is ImageExists (EEXIST)', () =>
    withImage(async (image, name) => {
      await image.createSnap('dup');
      await assert.rejects(image.createSnap('dup'), (e: unknown) => {
        cephError(ImageExists, 'EEXIST', -17, 'Image.createSnap', { snapshot: 'dup' })(e);
        assert.equal((e as Error).message, `Image.createSnap: File exists (pool=rbd, image=${name}, snapshot=dup)`);
        return true;
      });
    }));

  it('renameSnap renames; a missing source is ImageNotFound, an existing target ImageExists', () =>
    withImage(async (image) => {
      await image.createSnap('old');
      await image.createSnap('other');
      await image.renameSnap('old', 'new');
      assert.deepEqual((await image.listSnaps()).map((s) => s.name), ['new', 'other']);
      assert.equal(await image.snapExists('old'), false);
      await assert.rejects(image.renameSnap('old', 'x'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.renameSnap', { snapshot: 'old' }));
      await assert.rejects(image.renameSnap('other', 'new'), cephError(ImageExists, 'EEXIST', -17, 'Image.renameSnap', { snapshot: 'other' }));
    }));

  it('protect, isProtected, unprotect; the errors librbd returns around them', () =>
    withImage(async (image) => {
      await image.createSnap('p');
      assert.equal(await image.isProtectedSnap('p'), false);
      // Unprotecting an unprotected snapshot: EINVAL.
      await assert.rejects(image.unprotectSnap('p'), cephError(InvalidArgument, 'EINVAL', -22, 'Image.unprotectSnap', { snapshot: 'p' }));
      await image.protectSnap('p');
      assert.equal(await image.isProtectedSnap('p'), true);
      assert.equal((await image.listSnaps())[0].protected, true);
      // Protecting twice: EBUSY.
      await assert.rejects(image.protectSnap('p'), cephError(ImageBusy, 'EBUSY', -16, 'Image.protectSnap', { snapshot: 'p' }));
      // Removing a protected snapshot: EBUSY.
      await assert.rejects(image.removeSnap('p'), cephError(ImageBusy, 'EBUSY', -16, 'Image.removeSnap', { snapshot: 'p' }));
      await image.unprotectSnap('p');
      assert.equal(await image.isProtectedSnap('p'), false);
      await assert.rejects(image.isProtectedSnap('missing'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.isProtectedSnap', { snapshot: 'missing' }));
      await assert.rejects(image.removeSnap('missing'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.removeSnap', { snapshot: 'missing' }));
    }));

  it('removeSnap({ force: true }) removes a protected snapshot', () =>
    withImage(async (image) => {
      await image.createSnap('keep');
      await image.createSnap('gone');
      await image.protectSnap('gone');
      await image.removeSnap('gone', { force: true });
      assert.deepEqual((await image.listSnaps()).map((s) => s.name), ['keep']);
      await image.removeSnap('keep');
      assert.deepEqual(await image.listSnaps(), []);
    }));

  it('rollbackToSnap restores the data, reporting progress', () =>
    withImage(async (image) => {
      const v1 = Buffer.alloc(64 * 1024, 0x11);
      await image.write(v1, 0);
      await image.createSnap('v1');
      await image.write(Buffer.alloc(64 * 1024, 0x22), 0);
      await image.write(Buffer.alloc(4096, 0x33), 8 * MiB);
      const progress: Array<[number, number]> = [];
      await image.rollbackToSnap('v1', { onProgress: (done, total) => progress.push([done, total]) });
      assert.ok(progress.length > 0, 'onProgress was called');
      for (const [done, total] of progress) assert.ok(done <= total && total > 0);
      assert.deepEqual(await image.read(0, v1.length), v1);
      assert.deepEqual(await image.read(8 * MiB, 4096), Buffer.alloc(4096));
      await assert.rejects(image.rollbackToSnap('missing'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.rollbackToSnap', { snapshot: 'missing' }));
    }));

  it('setSnap(name) reads the snapshot and refuses writes (ReadOnlyImage); setSnap(null) returns to the head', () =>
    withImage(async (image) => {
      await image.write(Buffer.alloc(4096, 0xaa), 0);
      await image.createSnap('s');
      await image.write(Buffer.alloc(4096, 0xbb), 0);
      await image.setSnap('s');
      assert.equal(image.snapshot, 's');
      assert.deepEqual(await image.read(0, 4096), Buffer.alloc(4096, 0xaa));
      await assert.rejects(image.write(Buffer.alloc(16, 1), 0), cephError(ReadOnlyImage, 'EROFS', -30, 'Image.write', { snapshot: 's' }));
      // A missing snapshot: ENOENT, and the image stays where it was.
      await assert.rejects(image.setSnap('missing'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.setSnap', { snapshot: 'missing' }));
      assert.equal(image.snapshot, 's');
      assert.deepEqual(await image.read(0, 4), Buffer.alloc(4, 0xaa));
      await image.setSnap(null);
      assert.equal(image.snapshot, null);
      assert.deepEqual(await image.read(0, 4096), Buffer.alloc(4096, 0xbb));
      assert.equal(await image.write(Buffer.alloc(16, 0xcc), 0), 16);
    }));

  it('snapGetLimit/snapSetLimit: creating more than the limit is DiskQuotaExceeded (EDQUOT)', () =>
    withImage(async (image) => {
      // No limit set: librbd says UINT64_MAX, which reads back as Infinity.
      assert.equal(await image.snapGetLimit(), Infinity);
      await image.snapSetLimit(2);
      assert.equal(await image.snapGetLimit(), 2);
      await image.createSnap('a');
      await image.createSnap('b');
      await assert.rejects(image.createSnap('c'), cephError(DiskQuotaExceeded, 'EDQUOT', -122, 'Image.createSnap', { snapshot: 'c' }));
      assert.equal(await image.snapExists('c'), false);
      // A limit below the current count: ERANGE (no dedicated class).
      await assert.rejects(image.snapSetLimit(1), (e: unknown) => {
        cephError(RbdError, 'ERANGE', -34, 'Image.snapSetLimit')(e);
        assert.equal((e as Error).constructor, RbdError);
        return true;
      });
      // Removing the limit (python-rbd's remove_snap_limit sets UINT64_MAX).
      await image.snapSetLimit(2n ** 64n - 1n);
      assert.equal(await image.snapGetLimit(), Infinity);
      await image.createSnap('c');
    }));

  it('snapGetTimestamp returns a Date; a missing snapshot is ImageNotFound', () =>
    withImage(async (image) => {
      const before = Date.now();
      await image.createSnap('t');
      const ts = await image.snapGetTimestamp('t');
      assert.ok(ts instanceof Date);
      assert.ok(Math.abs(ts.getTime() - before) < 10_000, `${ts.toISOString()} is near now`);
      // listSnaps keeps the sub-millisecond part; a Date holds whole milliseconds.
      assert.equal(ts.getTime(), Math.trunc((await image.listSnaps())[0].timestampMs));
      await assert.rejects(image.snapGetTimestamp('missing'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.snapGetTimestamp', { snapshot: 'missing' }));
    }));

  it('opening an image at a snapshot reads it read-only; a missing snapshot is ImageNotFound', () =>
    withImage(async (image, name) => {
      await image.write(Buffer.alloc(512, 5), 0);
      await image.createSnap('s');
      await image.write(Buffer.alloc(512, 6), 0);
      const at = await Image.open(ioctx, name, { snapshot: 's' });
      try {
        assert.equal(at.snapshot, 's');
        assert.deepEqual(await at.read(0, 512), Buffer.alloc(512, 5));
        await assert.rejects(at.write(Buffer.alloc(1), 0), cephError(ReadOnlyImage, 'EROFS', -30, 'Image.write', { snapshot: 's' }));
      } finally {
        await at.close();
      }
      await assert.rejects(Image.open(ioctx, name, { snapshot: 'missing' }), (e: unknown) => {
        cephError(ImageNotFound, 'ENOENT', -2, 'Image.open', { snapshot: 'missing' })(e);
        assert.equal((e as Error).message, `Image.open: No such file or directory (pool=rbd, image=${name}, snapshot=missing)`);
        return true;
      });
    }));

  it('diffIterate between two snapshots returns exactly the extents written between them', () =>
    withImage(async (image) => {
      // Object 0 is fully written before s1, so later writes inside it diff
      // exactly (librbd diffs by the clone's overlap); object 2 is new after s1.
      await image.write(Buffer.alloc(4 * MiB, 1), 0);
      await image.createSnap('s1');
      await image.write(Buffer.alloc(4096, 2), 64 * 1024);
      await image.write(Buffer.alloc(8192, 3), MiB);
      await image.write(Buffer.alloc(12288, 4), 8 * MiB);
      await image.createSnap('s2');
      await image.write(Buffer.alloc(4096, 5), 12 * MiB); // after s2: not in the diff
      await image.setSnap('s2');
      const extents = await image.diffIterate({ fromSnapshot: 's1' });
      assert.deepEqual(extents, [
        { offset: 64 * 1024, length: 4096, exists: true },
        { offset: MiB, length: 8192, exists: true },
        { offset: 8 * MiB, length: 12288, exists: true },
      ]);
      // The callback form sees the same extents, in order.
      const seen: unknown[] = [];
      await image.diffIterate({ fromSnapshot: 's1' }, (e) => seen.push(e));
      assert.deepEqual(seen, extents);
      await image.setSnap(null);
      const toHead = await image.diffIterate({ fromSnapshot: 's2' });
      assert.deepEqual(toHead, [{ offset: 12 * MiB, length: 4096, exists: true }]);
    }));
});
