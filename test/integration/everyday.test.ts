/**
 * Everyday use by a service (issue 19): one error contract (a stable `code`
 * and `retryable` on every class, Ceph errors translated into the Cinder
 * layer's own), validated names, id-based calls, refusing to delete a
 * volume with snapshots, and purgeTrash() reporting what it left.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes, randomUUID } from 'node:crypto';

import {
  BadStoreUri,
  ConnectionError,
  Duplicate,
  GlanceStore,
  ImageBusy,
  ImageExists,
  ImageNotFound,
  ImageTooLarge,
  InUseByStore,
  Invalid,
  type IoCtx,
  NotFound,
  Rbd,
  RbdVolumeDriver,
  SnapshotExists,
  SnapshotNotFound,
  StorageFull,
  TimedOut,
  VolumeBackendAPIException,
  VolumeExists,
  VolumeHasSnapshots,
  VolumeIsBusy,
  VolumeNotFound,
  snapshotName,
  volumeName,
} from '../../lib';
import { cinderHarness } from '../helpers/cinder';
import { confFile } from '../helpers/cluster';

const GiB = 1024 ** 3;

describe('everyday use: error contract, names, id-based calls (real cluster)', function () {
  this.timeout(180_000);
  const h = cinderHarness();
  const { vol, track, names, snaps, trashNames, openDriver } = h;
  let rbd: IoCtx;
  let images: IoCtx;
  let fsid: string;
  let driver: RbdVolumeDriver;
  let store: GlanceStore;
  before(async () => {
    ({ rbd, images, fsid, driver } = h.state());
    store = await GlanceStore.open({ confFile: confFile(), chunkSizeMiB: 1, connectTimeoutMs: 60_000 });
  });
  after(async () => {
    await store?.close();
  });

  describe('error contract', () => {
    it('every Glance class has a stable ERR_GLANCE_* code and a retryable flag', () => {
      const table: Array<[Error & { code: string; retryable: boolean }, string, boolean]> = [
        [new BadStoreUri(undefined, { uri: 'x' }), 'ERR_GLANCE_BAD_STORE_URI', false],
        [new Duplicate(), 'ERR_GLANCE_DUPLICATE', false],
        [new Invalid(), 'ERR_GLANCE_INVALID', false],
        [new StorageFull(), 'ERR_GLANCE_STORAGE_FULL', false],
        [new NotFound(), 'ERR_GLANCE_NOT_FOUND', false],
        [new InUseByStore(), 'ERR_GLANCE_IN_USE_BY_STORE', true],
      ];
      for (const [err, code, retryable] of table) {
        assert.equal(err.code, code, err.name);
        assert.equal(err.retryable, retryable, err.name);
      }
    });

    it('Ceph and Cinder classes carry retryable: busy, timeouts and lost connections are, the rest are not', () => {
      assert.equal(new ImageBusy('x', { code: 'EBUSY' }).retryable, true);
      assert.equal(new TimedOut('x', { code: 'ETIMEDOUT' }).retryable, true);
      assert.equal(new ConnectionError('x', { code: 'ENOTCONN' }).retryable, true);
      assert.equal(new ImageNotFound('x', { code: 'ENOENT' }).retryable, false);
      assert.equal(new VolumeIsBusy('volume-x').retryable, true);
      assert.equal(new VolumeNotFound('volume-x').retryable, false);
      assert.equal(new VolumeBackendAPIException('x', { cause: new ConnectionError('x', {}) }).retryable, true);
      assert.equal(new VolumeBackendAPIException('x').retryable, false);
    });

    it('the driver translates Ceph errors into its own classes, naming what the caller asked about, cause kept', async () => {
      const v = vol(1);
      await driver.createVolume(v);
      await assert.rejects(driver.createVolume(v), (e: unknown) => {
        assert.ok(e instanceof VolumeExists);
        assert.equal(e.code, 'ERR_CINDER_VOLUME_EXISTS');
        assert.ok(e.cause instanceof ImageExists);
        assert.equal(e.message, `Volume rbd/${v.name} already exists`);
        return true;
      });
      const missing = vol(1);
      await assert.rejects(driver.createSnapshot({ id: randomUUID(), volumeName: missing.name }), (e: unknown) => {
        assert.ok(e instanceof VolumeNotFound);
        assert.equal(e.code, 'ERR_CINDER_VOLUME_NOT_FOUND');
        assert.equal(e.volumeName, missing.name);
        assert.ok(e.cause instanceof ImageNotFound);
        return true;
      });
      const snap = { id: randomUUID(), volumeId: v.id };
      await driver.createSnapshot(snap);
      await assert.rejects(driver.createSnapshot(snap), (e: unknown) => e instanceof SnapshotExists && e.code === 'ERR_CINDER_SNAPSHOT_EXISTS');
      await assert.rejects(driver.revertToSnapshot(v, { id: randomUUID(), volumeId: v.id }), (e: unknown) => e instanceof SnapshotNotFound && e.cause instanceof ImageNotFound);
      await assert.rejects(driver.createVolumeFromSnapshot(vol(1), { id: randomUUID(), volumeId: v.id }), SnapshotNotFound);
      await assert.rejects(driver.createClonedVolume(vol(1), missing), (e: unknown) => e instanceof VolumeNotFound && e.volumeName === missing.name);
      // Cloning onto an existing volume names that volume, not the parent.
      const taken = vol(1);
      await driver.createVolume(taken);
      await assert.rejects(driver.createVolumeFromSnapshot(taken, { id: snap.id, volumeId: v.id }), (e: unknown) => {
        assert.ok(e instanceof VolumeExists);
        assert.equal(e.message, `Volume rbd/${taken.name} already exists`);
        return true;
      });
    });

    it("the Cinder layer's RangeErrors carry ERR_OUT_OF_RANGE; an image larger than the volume is ImageTooLarge", async () => {
      const v = vol(2);
      await driver.createVolume(v);
      await assert.rejects(driver.extendVolume(v, 1), (e: unknown) => e instanceof RangeError && (e as RangeError & { code?: string }).code === 'ERR_OUT_OF_RANGE');
      // A stream longer than the volume (its size unknown up front): zeros, so nothing is really written.
      const small = vol(1);
      const zeros = Buffer.alloc(4 * 1024 * 1024);
      const stream = async function* () {
        for (let i = 0; i < 257; i++) yield zeros;
      };
      const source = { async get() { return { stream: stream(), size: 0 }; }, async add(): Promise<never> { throw new Error('unused'); } };
      // Not a RangeError (the caller's argument is fine): the image is checked and refused with its own coded class.
      await assert.rejects(driver.copyImageToVolume(small, source, `rbd://${randomUUID()}`), (e: unknown) => e instanceof ImageTooLarge && e.code === 'ERR_IMAGE_TOO_LARGE');
      assert.deepEqual(await names(), [v.name]);
    });
  });

  describe('names', () => {
    it('store.add refuses ids rbd cannot address (TypeError/RangeError with codes), nothing created', async () => {
      const before = await Rbd.list(images);
      for (const bad of ['a/b', 'a@b', 'a\0b', '']) {
        await assert.rejects(store.add(bad, Buffer.alloc(10), 10), (e: unknown) => e instanceof TypeError && (e as TypeError & { code: string }).code === 'ERR_INVALID_ARG_VALUE' && /^Expected /.test(e.message), JSON.stringify(bad));
      }
      await assert.rejects(store.add('x'.repeat(2040), Buffer.alloc(10), 10), (e: unknown) => e instanceof RangeError && (e as RangeError & { code: string }).code === 'ERR_OUT_OF_RANGE');
      assert.deepEqual(await Rbd.list(images), before);
    });

    it('volume and snapshot ids are validated the same way, nothing created', async () => {
      await assert.rejects(driver.createVolume({ id: 'bad/id', size: 1 }), (e: unknown) => e instanceof TypeError && (e as TypeError & { code: string }).code === 'ERR_INVALID_ARG_VALUE');
      await assert.rejects(driver.createVolume({ id: 'x'.repeat(2033), size: 1 }), (e: unknown) => e instanceof RangeError && (e as RangeError & { code: string }).code === 'ERR_OUT_OF_RANGE');
      const v = vol(1);
      await driver.createVolume(v);
      await assert.rejects(driver.createSnapshot({ id: 'a@b', volumeId: v.id }), (e: unknown) => e instanceof TypeError && (e as TypeError & { code: string }).code === 'ERR_INVALID_ARG_VALUE');
      assert.deepEqual(await snaps(v.name), []);
      assert.equal(volumeName('abc'), 'volume-abc');
      assert.equal(snapshotName('abc'), 'snapshot-abc');
      assert.equal(RbdVolumeDriver.volumeName('abc'), 'volume-abc');
      assert.throws(() => volumeName('a/b'), TypeError);
      assert.ok(!(await Rbd.list(rbd)).some((n) => n.includes('bad/id')));
    });
  });

  describe('id-based calls', () => {
    it('getVolume / listVolumes / getSnapshot / listSnapshots report size, parent, snapshots, features, watchers', async () => {
      const v = vol(1);
      await driver.createVolume(v);
      const snapId = randomUUID();
      await driver.createSnapshot({ id: snapId, volumeId: v.id });
      const child = vol(2);
      await driver.createVolumeFromSnapshot(child, { id: snapId, volumeId: v.id });
      const info = await driver.getVolume(child.id);
      assert.equal(info.name, child.name);
      assert.equal(info.size, 2);
      assert.equal(info.sizeBytes, 2 * GiB);
      assert.equal(info.parent, `rbd/${v.name}@snapshot-${snapId}`);
      assert.equal(typeof info.features, 'number');
      assert.deepEqual(info.watchers, []);
      const parentInfo = await driver.getVolume(v.id);
      assert.equal(parentInfo.parent, null);
      assert.equal(parentInfo.snapshots.length, 1);
      assert.equal(parentInfo.snapshots[0].id, snapId);
      assert.deepEqual(parentInfo.snapshots[0].children, [`rbd/${child.name}`]);
      const s = await driver.getSnapshot(v.id, snapId);
      assert.equal(s.protected, true);
      assert.equal(s.sizeBytes, GiB);
      assert.deepEqual((await driver.listSnapshots(v.id)).map((x) => x.name), [`snapshot-${snapId}`]);
      const listed = (await driver.listVolumes()).map((x) => x.id);
      assert.ok(listed.includes(v.id) && listed.includes(child.id));
      await assert.rejects(driver.getVolume(randomUUID()), VolumeNotFound);
      await assert.rejects(driver.getSnapshot(v.id, randomUUID()), SnapshotNotFound);
    });

    it('deleteVolume and createSnapshot need only ids; a volumeSize that disagrees is a RangeError', async () => {
      const v = vol(1);
      await driver.createVolume(v);
      await assert.rejects(driver.createSnapshot({ id: randomUUID(), volumeName: v.name, volumeSize: 999 }), (e: unknown) => e instanceof RangeError && (e as RangeError & { code: string }).code === 'ERR_OUT_OF_RANGE');
      assert.deepEqual(await snaps(v.name), []);
      await driver.createSnapshot({ id: randomUUID(), volumeName: v.name, volumeSize: 1 });
      const bare = vol(1);
      await driver.createVolume(bare);
      await driver.deleteVolume({ id: bare.id });
      const byString = vol(1);
      await driver.createVolume(byString);
      await driver.deleteVolume(byString.id);
      assert.deepEqual(await names(), [v.name]);
    });

    it('store.fsid, store.locationFor and store.stat', async () => {
      assert.equal(store.fsid, fsid);
      const id = randomUUID();
      track(id);
      assert.equal(store.locationFor(id), `rbd://${fsid}/images/${id}/snap`);
      assert.throws(() => store.locationFor('a/b'), TypeError);
      const added = await store.add(id, Buffer.alloc(5000, 3), 5000);
      assert.equal(added.location, store.locationFor(id));
      for (const key of [id, added.location]) {
        const st = await store.stat(key);
        assert.deepEqual(st, { location: added.location, pool: 'images', image: id, snapshot: 'snap', size: 5000 });
      }
      await assert.rejects(store.stat(randomUUID()), (e: unknown) => e instanceof NotFound && e.code === 'ERR_GLANCE_NOT_FOUND');
      await store.delete(added.location);
    });

    it('add() with expectedSize / expectedChecksum rolls back on a mismatch', async () => {
      const data = randomBytes(3000);
      const md5 = createHash('md5').update(data).digest('hex');
      const sha = createHash('sha512').update(data).digest('hex');
      const a = randomUUID();
      track(a);
      await assert.rejects(store.add(a, data, 0, { expectedSize: 2999 }), (e: unknown) => e instanceof Invalid && e.code === 'ERR_GLANCE_INVALID');
      await assert.rejects(store.add(a, data, 0, { expectedChecksum: 'deadbeef' }), Invalid);
      assert.ok(!(await Rbd.list(images)).includes(a));
      const ok1 = await store.add(a, data, 0, { expectedSize: 3000, expectedChecksum: md5 });
      assert.equal(ok1.checksum, md5);
      await store.delete(ok1.location);
      const ok2 = await store.add(a, data, 3000, { expectedChecksum: sha.toUpperCase() });
      await store.delete(ok2.location);
    });
  });

  describe('volumes with snapshots', () => {
    it('deleteVolume(…, { refuseWithSnapshots: true }) is VolumeHasSnapshots and changes nothing', async () => {
      const v = vol(1);
      await driver.createVolume(v);
      const snapId = randomUUID();
      await driver.createSnapshot({ id: snapId, volumeId: v.id });
      await assert.rejects(driver.deleteVolume(v.id, { refuseWithSnapshots: true }), (e: unknown) => {
        assert.ok(e instanceof VolumeHasSnapshots);
        assert.equal(e.code, 'ERR_CINDER_VOLUME_HAS_SNAPSHOTS');
        assert.deepEqual(e.snapshots, [`snapshot-${snapId}`]);
        return true;
      });
      assert.deepEqual(await names(), [v.name]);
      assert.deepEqual(await snaps(v.name), [`snapshot-${snapId} (protected)`]);
      await driver.deleteSnapshot({ id: snapId, volumeId: v.id });
      await driver.deleteVolume(v.id, { refuseWithSnapshots: true });
      assert.deepEqual(await names(), []);
    });

    it('purgeTrash() reports what it could not purge', async () => {
      const d = await openDriver({ enableDeferredDeletion: true, deferredDeletionDelaySec: 3600, deferredDeletionPurgeIntervalSec: 0 });
      const later = vol(1);
      await d.createVolume(later);
      await d.deleteVolume(later.id);
      // Without deferment, a volume with a protected snapshot goes to the trash and cannot be purged.
      const stuck = vol(1);
      await driver.createVolume(stuck);
      await driver.createSnapshot({ id: randomUUID(), volumeId: stuck.id });
      await driver.deleteVolume(stuck.id);
      assert.deepEqual(await trashNames(), [later.name, stuck.name].sort());
      const res = await driver.purgeTrash((e) => e.name === later.name || e.name === stuck.name);
      assert.deepEqual(res.deferred.map((e) => e.name), [later.name]);
      assert.deepEqual(res.failed.map((e) => e.name), [stuck.name]);
      assert.ok(res.failed[0].error instanceof Error);
      assert.deepEqual(res.purged, []);
      assert.equal(res.error, undefined);
    });
  });
});
