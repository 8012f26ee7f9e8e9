import { strict as assert } from 'node:assert';

import {
  ConnectionError,
  Image,
  ImageBusy,
  ImageNotFound,
  InvalidArgument,
  IoCtx,
  OperationNotSupported,
  Rbd,
  RBD_FEATURE_EXCLUSIVE_LOCK,
  RBD_FEATURE_LAYERING,
  RBD_FEATURE_OBJECT_MAP,
  RBD_FLAG_OBJECT_MAP_INVALID,
  RBD_LOCK_MODE_EXCLUSIVE,
  ReadOnlyImage,
  TimedOut,
} from '../../lib';
import { cli, connect, uniqueName, withPool, cephError } from '../helpers/cluster';

const MiB = 1024 * 1024;
const LAYERING = RBD_FEATURE_LAYERING;
const EXCLUSIVE = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK;
const OBJECT_MAP = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK | RBD_FEATURE_OBJECT_MAP;

describe('image metadata, locks, watchers, object map, sparsify (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_cluster, io) => {
    ioctx = io;
  });

  /** A new image with `features`, removed afterwards. */
  async function withImage(features: number, fn: (name: string) => Promise<void>, size = 16 * MiB): Promise<void> {
    const name = uniqueName('meta');
    await Rbd.create(ioctx, name, size, { order: 22, features });
    try {
      await fn(name);
    } finally {
      await Rbd.remove(ioctx, name);
    }
  }

  /** Runs `fn` on a second, read-only handle of `name` (fresh state), then closes it. */
  async function withPeek<T>(name: string, fn: (peek: Image) => Promise<T>): Promise<T> {
    const peek = await Image.open(ioctx, name, { readOnly: true });
    try {
      return await fn(peek);
    } finally {
      await peek.close();
    }
  }

  describe('metadata', () => {
    it('sets, gets, overwrites and removes keys; long values round-trip', () =>
      withImage(LAYERING, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          assert.deepEqual(await image.metadataList(), new Map());
          await image.metadataSet('owner', 'glance');
          assert.equal(await image.metadataGet('owner'), 'glance');
          await image.metadataSet('owner', 'cinder');
          assert.equal(await image.metadataGet('owner'), 'cinder');
          // Longer than the first buffer: metadataGet grows and retries.
          const long = 'v'.repeat(100_000) + 'é✓';
          await image.metadataSet('long', long);
          assert.equal(await image.metadataGet('long'), long);
          await image.metadataSet('empty', '');
          assert.equal(await image.metadataGet('empty'), '');
          await image.metadataRemove('owner');
          assert.deepEqual(await image.metadataList(), new Map([['empty', ''], ['long', long]]));
        } finally {
          await image.close();
        }
      }));

    it('lists every key (more than one page of 64) with its value, in key order', () =>
      withImage(LAYERING, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          const expected = new Map<string, string>();
          for (let i = 0; i < 150; i++) expected.set(`key-${String(i).padStart(3, '0')}`, `value ${i} `.repeat(i * 7));
          // Values far longer than keys, and one long value in the middle of a page.
          expected.set('key-077', 'x'.repeat(50_000));
          for (const [k, v] of expected) await image.metadataSet(k, v);
          const listed = await image.metadataList();
          assert.equal(listed.size, 150);
          assert.deepEqual([...listed.keys()], [...expected.keys()].sort());
          for (const [k, v] of expected) assert.equal(listed.get(k), v, k);
          // `rbd image-meta list` agrees on the count.
          const out = await cli('rbd', ['image-meta', 'list', `rbd/${name}`, '--format', 'json']);
          assert.equal(Object.keys(JSON.parse(out) as object).length, 150);
        } finally {
          await image.close();
        }
      }));

    it('getting or removing a missing key is ImageNotFound (ENOENT), as in python-rbd', () =>
      withImage(LAYERING, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          await assert.rejects(image.metadataGet('missing'), (e: unknown) => {
            cephError(ImageNotFound, 'ENOENT', -2, 'Image.metadataGet')(e);
            assert.equal((e as Error).message, `Image.metadataGet: No such file or directory (pool=rbd, image=${name})`);
            return true;
          });
          await assert.rejects(image.metadataRemove('missing'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.metadataRemove'));
          await assert.rejects(image.metadataGet(''), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
        } finally {
          await image.close();
        }
      }));
  });

  describe('watchers', () => {
    it('one watch per read-write open; read-only opens establish none', () =>
      withImage(LAYERING, async (name) => {
        const first = await Image.open(ioctx, name);
        try {
          const one = await first.listWatchers();
          assert.equal(one.length, 1);
          assert.match(one[0].address, /^[\d.]+:\d+\/\d+$/);
          assert.equal(typeof one[0].id, 'number');
          assert.ok(Number.isSafeInteger(one[0].cookie) && one[0].cookie > 0);

          // Observed on Pacific: a read-only open does not register a watch on the header.
          const ro = await Image.open(ioctx, name, { readOnly: true });
          assert.equal((await first.listWatchers()).length, 1);
          assert.equal((await ro.listWatchers()).length, 1, 'a read-only image can list watchers too');
          await ro.close();

          const second = await Image.open(ioctx, name);
          const two = await first.listWatchers();
          assert.equal(two.length, 2);
          // Same client (one connection), two watches with different cookies.
          assert.equal(two[0].id, two[1].id);
          assert.notEqual(two[0].cookie, two[1].cookie);
          await second.close();
          assert.deepEqual(await first.listWatchers(), one);
        } finally {
          await first.close();
        }
      }));
  });

  describe('managed exclusive lock', () => {
    it('lockAcquire, isExclusiveLockOwner, lockGetOwners, listLockers, lockRelease', () =>
      withImage(EXCLUSIVE, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          // Nobody holds it yet (nothing has been written): mode -1, no owners.
          assert.deepEqual(await image.lockGetOwners(), { mode: -1, owners: [] });
          assert.equal(await image.isExclusiveLockOwner(), false);

          await image.lockAcquire();
          assert.equal(await image.isExclusiveLockOwner(), true);
          await image.lockAcquire(); // already the owner: a no-op
          const owners = await image.lockGetOwners();
          assert.equal(owners.mode, RBD_LOCK_MODE_EXCLUSIVE);
          assert.equal(owners.owners.length, 1);
          const [address] = owners.owners;
          assert.equal(address, (await image.listWatchers())[0].address);

          // The managed lock is a cls lock on the header: listLockers shows it.
          // librbd answers listLockers from the lock state read at the image's
          // last refresh, which taking the managed lock does not trigger (this
          // handle observed "no lockers" here); a handle opened now sees it.
          const lockers = await withPeek(name, (peek) => peek.listLockers());
          assert.equal(lockers.exclusive, true);
          assert.equal(lockers.tag, 'internal');
          assert.equal(lockers.lockers.length, 1);
          assert.match(lockers.lockers[0].client, /^client\.\d+$/);
          assert.match(lockers.lockers[0].cookie, /^auto \d+$/);
          assert.equal(lockers.lockers[0].address, address);

          await image.lockRelease();
          assert.equal(await image.isExclusiveLockOwner(), false);
          assert.deepEqual(await image.lockGetOwners(), { mode: -1, owners: [] });
          assert.deepEqual((await withPeek(name, (peek) => peek.listLockers())).lockers, []);
          // Releasing a lock not held: librbd answers EINVAL.
          await assert.rejects(image.lockRelease(), cephError(InvalidArgument, 'EINVAL', -22, 'Image.lockRelease'));
          // librbd has no shared managed lock.
          await assert.rejects(image.lockAcquire('shared'), cephError(OperationNotSupported, 'EOPNOTSUPP', -95, 'Image.lockAcquire'));
          await assert.rejects(image.lockAcquire('bogus' as 'shared'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
        } finally {
          await image.close();
        }
      }));

    it('without the exclusive-lock feature: lockAcquire/lockGetOwners are InvalidArgument, never the owner', () =>
      withImage(LAYERING, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          await assert.rejects(image.lockAcquire(), cephError(InvalidArgument, 'EINVAL', -22, 'Image.lockAcquire'));
          await assert.rejects(image.lockGetOwners(), cephError(InvalidArgument, 'EINVAL', -22, 'Image.lockGetOwners'));
          assert.equal(await image.isExclusiveLockOwner(), false);
        } finally {
          await image.close();
        }
      }));

    it('a second client cannot take a lock taken with lockAcquire (ReadOnlyImage), but can one taken by a write', () =>
      withImage(EXCLUSIVE, async (name) => {
        const other = await connect();
        const first = await Image.open(ioctx, name);
        try {
          const second = await Image.open(await other.openIoctx('rbd'), name);

          // lockAcquire switches the owner to librbd's standard lock policy:
          // it refuses the peer's request to hand the lock over, and the
          // peer's lockAcquire fails at once with EROFS (no waiting).
          await first.lockAcquire();
          const firstOwner = (await first.lockGetOwners()).owners[0];
          await assert.rejects(second.lockAcquire(), cephError(ReadOnlyImage, 'EROFS', -30, 'Image.lockAcquire'));
          assert.equal(await first.isExclusiveLockOwner(), true);
          assert.equal(await second.isExclusiveLockOwner(), false);
          // Writes from the peer need the lock too, and are refused the same way.
          await assert.rejects(second.write(Buffer.alloc(512, 1), 0), cephError(ReadOnlyImage, 'EROFS', -30, 'Image.write'));

          // Once released, the peer gets it; lockGetOwners names the peer's address.
          await first.lockRelease();
          await second.lockAcquire();
          assert.equal(await second.isExclusiveLockOwner(), true);
          const { owners } = await first.lockGetOwners();
          assert.equal(owners.length, 1);
          assert.notEqual(owners[0], firstOwner);
          assert.ok((await first.listWatchers()).some((w) => w.address === owners[0]), 'the owner is one of the watchers');
          await second.lockRelease();
          // The standard policy stays with the handle after lockRelease: its
          // writes no longer take the lock on their own (EROFS) until the
          // next lockAcquire.
          await assert.rejects(first.write(Buffer.alloc(512, 2), 0), cephError(ReadOnlyImage, 'EROFS', -30, 'Image.write'));
          await first.lockAcquire();
          assert.equal(await first.write(Buffer.alloc(512, 2), 0), 512);
          await first.lockRelease();

          // A lock taken implicitly by a write (automatic policy, on a handle
          // that never called lockAcquire) is handed over on request.
          const third = await Image.open(ioctx, name);
          try {
            await third.write(Buffer.alloc(512, 3), 0);
            assert.equal(await third.isExclusiveLockOwner(), true);
            await second.lockAcquire();
            assert.equal(await second.isExclusiveLockOwner(), true);
            assert.equal(await third.isExclusiveLockOwner(), false);
            await second.lockRelease();
          } finally {
            await third.close();
          }
          await second.close();
        } finally {
          await first.close();
          await other.shutdown();
        }
      }));

    it("an image call's EROFS that settles only after rados_osd_op_timeout is TimedOut (lost lock), a quick one stays ReadOnlyImage; never on a read-only image", () =>
      withImage(EXCLUSIVE, async (name) => {
        // The peer's writes are refused with EROFS at once (the owner took the
        // lock with lockAcquire; maintenance calls would be run by the owner). Blocking the JS thread past the peer's op
        // timeout settles that refusal later, as a call that lost its lock to
        // stopped OSDs does: the addon times every call on a writable image.
        const opTimeoutMs = 4000; // well above how long a refused write takes on a loaded machine
        const other = await connect({ osdOpTimeoutMs: opTimeoutMs });
        const first = await Image.open(ioctx, name);
        try {
          const otherIo = await other.openIoctx('rbd');
          const second = await Image.open(otherIo, name);
          const readOnly = await Image.open(otherIo, name, { readOnly: true });
          await first.lockAcquire();
          await assert.rejects(second.write(Buffer.alloc(512, 1), 0), cephError(ReadOnlyImage, 'EROFS', -30, 'Image.write'));
          const settled = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);
          const late = settled(second.write(Buffer.alloc(512, 1), 0));
          const lateAio = settled(second.aioWrite2(Buffer.alloc(512, 1), 512));
          const lateReadOnly = settled(readOnly.write(Buffer.alloc(512, 1), 0));
          const until = Date.now() + opTimeoutMs + 100;
          while (Date.now() < until) {
            // busy: nothing settles meanwhile
          }
          for (const [err, op] of [[await late, 'Image.write'], [await lateAio, 'Image.aioWrite2']] as const) {
            assert.ok(err instanceof TimedOut, `${op}: ${String(err)}`);
            assert.equal(err.code, 'ETIMEDOUT');
            assert.equal(err.op, op);
            assert.equal(err.image, name);
            assert.ok(err.cause instanceof ReadOnlyImage, String(err.cause));
          }
          assert.ok((await lateReadOnly) instanceof ReadOnlyImage, String(await lateReadOnly));
          await first.lockRelease();
          await readOnly.close();
          await second.close();
        } finally {
          await first.close();
          await other.shutdown();
        }
      }));

    it('lockBreak takes the lock from a holder and blocklists it (its calls then fail with ESHUTDOWN)', () =>
      withImage(EXCLUSIVE, async (name) => {
        const victimCluster = await connect();
        const image = await Image.open(ioctx, name);
        try {
          const victim = await Image.open(await victimCluster.openIoctx('rbd'), name);
          await victim.lockAcquire();
          const { mode, owners } = await image.lockGetOwners();
          assert.equal(mode, RBD_LOCK_MODE_EXCLUSIVE);
          assert.equal(owners.length, 1);
          // The owner must match the current holder's address.
          await assert.rejects(image.lockBreak('127.0.0.1:0/1'), cephError(ImageBusy, 'EBUSY', -16, 'Image.lockBreak'));
          await assert.rejects(image.lockBreak(owners[0], 'shared'), cephError(OperationNotSupported, 'EOPNOTSUPP', -95, 'Image.lockBreak'));
          await image.lockBreak(owners[0]);
          assert.deepEqual(await image.lockGetOwners(), { mode: -1, owners: [] });
          // rbd_blocklist_on_break_lock (default true): the old holder is fenced off.
          await assert.rejects(victim.isExclusiveLockOwner(), cephError(ConnectionError, 'ESHUTDOWN', -108, 'Image.isExclusiveLockOwner'));
          await image.lockAcquire();
          assert.equal(await image.isExclusiveLockOwner(), true);
          await image.lockRelease();
        } finally {
          await image.close();
          await victimCluster.shutdown();
        }
      }));
  });

  describe('advisory locks (rbd lock add)', () => {
    it('listLockers shows a lock taken with the CLI; breakLock(client, cookie) removes it', () =>
      withImage(LAYERING, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          assert.deepEqual(await image.listLockers(), { tag: '', exclusive: false, lockers: [] });
          await cli('rbd', ['lock', 'add', `rbd/${name}`, 'mycookie']);
          const lockers = await image.listLockers();
          assert.equal(lockers.exclusive, true);
          assert.equal(lockers.tag, '');
          assert.equal(lockers.lockers.length, 1);
          const [locker] = lockers.lockers;
          assert.match(locker.client, /^client\.\d+$/);
          assert.equal(locker.cookie, 'mycookie');
          assert.match(locker.address, /^[\d.]+:\d+\/\d+$/);

          // A (client, cookie) pair that holds no lock: ENOENT.
          await assert.rejects(image.breakLock(locker.client, 'other'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.breakLock'));
          await image.breakLock(locker.client, locker.cookie);
          assert.deepEqual((await image.listLockers()).lockers, []);
          assert.match(await cli('rbd', ['lock', 'ls', `rbd/${name}`]), /^$/);
        } finally {
          await image.close();
        }
      }));

    it('lists shared locks with their tag and breaks each', () =>
      withImage(LAYERING, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          await cli('rbd', ['lock', 'add', '--shared', 'mytag', `rbd/${name}`, 'cookie-1']);
          await cli('rbd', ['lock', 'add', '--shared', 'mytag', `rbd/${name}`, 'cookie-2']);
          const lockers = await image.listLockers();
          assert.equal(lockers.exclusive, false);
          assert.equal(lockers.tag, 'mytag');
          assert.deepEqual(lockers.lockers.map((l) => l.cookie).sort(), ['cookie-1', 'cookie-2']);
          for (const l of lockers.lockers) await image.breakLock(l.client, l.cookie);
          assert.deepEqual((await image.listLockers()).lockers, []);
        } finally {
          await image.close();
        }
      }));
  });

  describe('object map and sparsify', () => {
    it('rebuildObjectMap rebuilds with progress; without object-map it is InvalidArgument', async () => {
      await withImage(OBJECT_MAP, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          await image.write(Buffer.alloc(64 * 1024, 7), 0);
          await image.write(Buffer.alloc(64 * 1024, 8), 9 * MiB);
          await image.flush();
          const progress: Array<[number, number]> = [];
          await image.rebuildObjectMap({ onProgress: (done, total) => progress.push([done, total]) });
          assert.ok(progress.length > 0, 'onProgress was called');
          for (const [done, total] of progress) assert.ok(done <= total && total > 0);
          assert.equal((await image.flags()) & RBD_FLAG_OBJECT_MAP_INVALID, 0);
          assert.deepEqual(
            (await image.diffIterate({ wholeObject: true })).map((e) => e.offset),
            [0, 8 * MiB],
          );
          assert.deepEqual(await image.read(9 * MiB, 4), Buffer.alloc(4, 8));
        } finally {
          await image.close();
        }
      });
      await withImage(LAYERING, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          await assert.rejects(image.rebuildObjectMap(), cephError(InvalidArgument, 'EINVAL', -22, 'Image.rebuildObjectMap'));
        } finally {
          await image.close();
        }
      });
    });

    it('sparsify deallocates a zero-filled object and keeps the data', () =>
      withImage(OBJECT_MAP, async (name) => {
        const image = await Image.open(ioctx, name);
        try {
          await image.write(Buffer.alloc(MiB, 0xab), 0); // object 0: data
          await image.write(Buffer.alloc(4 * MiB), 4 * MiB); // object 1: written, all zeros
          await image.write(Buffer.alloc(4096, 0xcd), 8 * MiB + MiB); // object 2: data
          await image.flush();
          const before = await image.diffIterate();
          assert.deepEqual(
            before.map((e) => e.offset),
            [0, 4 * MiB, 8 * MiB],
          );
          const progress: Array<[number, number]> = [];
          await image.sparsify(4096, { onProgress: (done, total) => progress.push([done, total]) });
          assert.ok(progress.length > 0, 'onProgress was called');
          const after = await image.diffIterate();
          // The all-zero object is gone; the others remain.
          assert.deepEqual(
            after.map((e) => e.offset),
            [0, 8 * MiB],
          );
          const used = (extents: Array<{ length: number }>): number => extents.reduce((n, e) => n + e.length, 0);
          assert.ok(used(after) < used(before), `allocated bytes ${used(after)} < ${used(before)}`);
          assert.deepEqual(await image.read(0, 4), Buffer.alloc(4, 0xab));
          assert.deepEqual(await image.read(4 * MiB, 4096), Buffer.alloc(4096));
          assert.deepEqual(await image.read(9 * MiB, 4), Buffer.alloc(4, 0xcd));
          // librbd wants a power of two between 4 KiB and the object size.
          await assert.rejects(image.sparsify(5000), cephError(InvalidArgument, 'EINVAL', -22, 'Image.sparsify'));
          await assert.rejects(image.sparsify(8 * MiB), cephError(InvalidArgument, 'EINVAL', -22, 'Image.sparsify'));
        } finally {
          await image.close();
        }
      }));
  });
});
