/**
 * The Cinder RBD driver against the real cluster: setup, create/delete and
 * snapshots, each scenario asserting the pool state it leaves (image names,
 * snapshots and their protection, parents, the trash).
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import {
  Image,
  ImageExists,
  ImageNotFound,
  type IoCtx,
  NotSupported,
  Rados,
  Rbd,
  RbdVolumeDriver,
  SnapshotIsBusy,
  InvalidConfigurationValue,
  VolumeBackendAPIException,
  VolumeExists,
  VolumeIsBusy,
} from '../../lib';
import { cinderHarness } from '../helpers/cinder';
import { makeHalfMade } from '../helpers/half-made-image';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('Cinder RBD driver (real cluster)', function () {
  this.timeout(180_000);
  const h = cinderHarness();
  const { openDriver, track, vol, snapOf, mine, names, trashNames, snaps, parent, sizeOf } = h;
  let cluster: Rados;
  let rbd: IoCtx;
  let secondRbd: IoCtx;
  let driver: RbdVolumeDriver;
  before(() => {
    ({ cluster, rbd, secondRbd, driver } = h.state());
  });

  describe('setup', () => {
    it('checkForSetupError connects; empty pool/cluster names are InvalidConfigurationValue', async () => {
      await driver.checkForSetupError();
      const noPool = await openDriver({ pool: '' });
      await assert.rejects(noPool.checkForSetupError(), (e: unknown) => e instanceof InvalidConfigurationValue && e.option === 'pool');
      const noName = await openDriver({ clusterName: '' });
      await assert.rejects(noName.checkForSetupError(), (e: unknown) => e instanceof InvalidConfigurationValue && e.option === 'clusterName');
    });

    it('an unreachable cluster is VolumeBackendAPIException("Error connecting to ceph cluster.") after the retries', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'cinder-dead-'));
      try {
        const conf = path.join(dir, 'ceph.conf');
        writeFileSync(conf, '[global]\nmon host = 127.0.0.1:1\nauth client required = none\n');
        const dead = await openDriver({ confFile: conf, connectTimeoutMs: 1000, connectionRetries: 2, connectionIntervalMs: 10 });
        const t0 = Date.now();
        await assert.rejects(dead.checkForSetupError(), (e: unknown) => {
          assert.ok(e instanceof VolumeBackendAPIException);
          assert.equal(e.data, 'Error connecting to ceph cluster.');
          return true;
        });
        assert.ok(Date.now() - t0 >= 1500, 'two connect attempts of ~1 s each');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('reuses one connection, and reconnects transparently after it is lost', async () => {
      const d = await openDriver();
      const v1 = vol();
      await d.createVolume(v1);
      const first = await d.connection.rados();
      assert.equal(await d.connection.rados(), first, 'the same connection is reused');
      await first.shutdown(); // the connection is lost under the driver
      const v2 = vol();
      await d.createVolume(v2);
      const now = await d.connection.rados();
      assert.notEqual(now, first);
      assert.equal(now.state, 'open');
      assert.deepEqual(await names(), [v1.name, v2.name].sort());
    });
  });

  // ---- create / delete --------------------------------------------------------------------

  describe('create_volume / delete_volume', () => {
    it('creates a format-2 image of size GiB with the chunk-size order and the cluster default features', async () => {
      const v = vol(1);
      assert.deepEqual(await driver.createVolume(v), {});
      assert.deepEqual(await names(), [v.name]);
      const img = await Image.open(rbd, v.name, { readOnly: true });
      try {
        const st = await img.stat();
        assert.equal(st.size, GiB);
        assert.equal(st.order, 22);
        assert.equal(await img.features(), Number(cluster.confGet('rbd_default_features')));
      } finally {
        await img.close();
      }
      const d8 = await openDriver({ chunkSizeMiB: 8 });
      const v8 = vol(1);
      await d8.createVolume(v8);
      assert.equal((await Image.open(rbd, v8.name, { readOnly: true }).then(async (i) => { const s = await i.stat(); await i.close(); return s; })).order, 23);
    });

    it('an existing name is VolumeExists (cause ImageExists); encrypted volumes are NotSupported (DESIGN D6) and create nothing', async () => {
      const v = vol();
      await driver.createVolume(v);
      await assert.rejects(driver.createVolume(v), (e: unknown) => e instanceof VolumeExists && e.code === 'ERR_CINDER_VOLUME_EXISTS' && e.cause instanceof ImageExists);
      const enc = vol(1, { encrypted: true });
      await assert.rejects(driver.createVolume(enc), NotSupported);
      assert.deepEqual(await names(), [v.name]);
    });

    it('deleting a missing volume succeeds', async () => {
      await driver.deleteVolume(vol());
    });

    it('a create cut short inside librbd (directory entry, no header) blocks the name until deleteVolume clears it', async () => {
      const v = vol();
      await driver.createVolume(v);
      await makeHalfMade(rbd, v.name);
      await assert.rejects(Image.open(rbd, v.name), ImageNotFound);
      await assert.rejects(driver.createVolume(v), VolumeExists);
      await driver.deleteVolume(v);
      assert.deepEqual(await names(), []);
      await driver.createVolume(v);
      assert.equal(await sizeOf(v.name), v.size * GiB);
      await driver.deleteVolume(v);
    });

    it('removes backup snapshots first, then the volume', async () => {
      const v = vol();
      await driver.createVolume(v);
      const img = await Image.open(rbd, v.name);
      await img.createSnap(`backup.${randomUUID()}.snap.1700000000.123456`);
      await img.createSnap(`backup.${randomUUID()}.snap.1700000100.5`);
      await img.close();
      await driver.deleteVolume(v);
      assert.deepEqual(await names(), []);
      assert.deepEqual(await trashNames(), []);
    });

    it('a volume with other snapshots falls back to the trash (backup snapshots removed, the others kept)', async () => {
      const v = vol();
      await driver.createVolume(v);
      const img = await Image.open(rbd, v.name);
      await img.createSnap(`backup.${randomUUID()}.snap.1700000000.1`);
      await img.createSnap('user-snap');
      await img.createSnap('backup.NOT_MATCHING.snap.1'); // upper case: not a backup snapshot
      await img.close();
      const t0 = Date.now();
      await driver.deleteVolume(v);
      assert.ok(Date.now() - t0 >= 150, 'retried remove with 50 ms then 100 ms waits before the trash');
      assert.deepEqual(await names(), []);
      assert.deepEqual(await trashNames(), [v.name]);
      const entry = (await Rbd.trashList(rbd)).find((e) => e.name === v.name);
      assert.ok(entry);
      assert.ok(entry.defermentEndTimeMs <= Date.now() + 1000, 'no deferment without deferred deletion');
      const trashed = await Image.open(rbd, entry.id, { byId: true, readOnly: true });
      try {
        assert.deepEqual((await trashed.listSnaps()).map((s) => s.name).sort(), ['backup.NOT_MATCHING.snap.1', 'user-snap']);
      } finally {
        await trashed.close();
      }
    });

    it('remove refused (snapshots with clones): the children are flattened, then the volume goes to the trash', async () => {
      const v = vol();
      await driver.createVolume(v);
      const s = snapOf(v);
      await driver.createSnapshot(s);
      const child = vol();
      await driver.createVolumeFromSnapshot(child, s);
      await driver.deleteVolume(v);
      assert.equal(await parent(child.name), null, 'the child was flattened');
      assert.deepEqual(await names(), [child.name]);
      assert.deepEqual(await trashNames(), [v.name]);
    });

    it('a busy volume (open on a second connection) ends in VolumeIsBusy after the retries and stays', async () => {
      const v = vol();
      await driver.createVolume(v);
      const held = await Image.open(secondRbd, v.name);
      try {
        const t0 = Date.now();
        await assert.rejects(driver.deleteVolume(v), (e: unknown) => {
          assert.ok(e instanceof VolumeIsBusy);
          assert.equal(e.volumeName, v.name);
          assert.equal((e.cause as { code?: string }).code, 'EBUSY');
          return true;
        });
        assert.ok(Date.now() - t0 >= 150, 'three remove attempts, 50 ms and 100 ms apart');
        assert.deepEqual(await names(), [v.name]);
        assert.deepEqual(await trashNames(), []);
      } finally {
        await held.close();
      }
      await driver.deleteVolume(v);
      assert.deepEqual(await names(), []);
    });

    it('a busy volume with a snapshot goes to the trash (librbd reports the snapshots before the watchers)', async () => {
      const v = vol();
      await driver.createVolume(v);
      const s = snapOf(v);
      await driver.createSnapshot(s);
      const held = await Image.open(secondRbd, v.name);
      try {
        await driver.deleteVolume(v);
        assert.deepEqual(await names(), []);
        assert.deepEqual(await trashNames(), [v.name]);
      } finally {
        await held.close();
      }
    });

    it('deferred deletion moves the volume to the trash with the configured delay; purge leaves it until then', async () => {
      const d = await openDriver({ enableDeferredDeletion: true, deferredDeletionDelaySec: 3600, deferredDeletionPurgeIntervalSec: 0 });
      const v = vol();
      await d.createVolume(v);
      const before = Date.now();
      await d.deleteVolume(v);
      assert.deepEqual(await names(), []);
      const entry = (await Rbd.trashList(rbd)).find((e) => e.name === v.name);
      assert.ok(entry, 'in the trash');
      const delay = entry.defermentEndTimeMs - before;
      assert.ok(delay > 3590_000 && delay < 3610_000, `deferment ${delay} ms`);
      await d.purgeTrash((e) => mine(e.name)); // EPERM for this one: not expired, kept
      assert.deepEqual(await trashNames(), [v.name]);
    });
  });

  // ---- snapshots -------------------------------------------------------------------------------

  describe('snapshots', () => {
    it('create_snapshot creates and protects; delete_snapshot unprotects and removes; missing is success', async () => {
      const v = vol();
      await driver.createVolume(v);
      const s = snapOf(v);
      await driver.createSnapshot(s);
      assert.deepEqual(await snaps(v.name), [`${s.name} (protected)`]);
      await driver.deleteSnapshot(s);
      assert.deepEqual(await snaps(v.name), []);
      await driver.deleteSnapshot(s); // snapshot gone
      await driver.deleteSnapshot({ ...s, volumeName: `volume-${randomUUID()}` }); // volume gone
    });

    it('an already unprotected snapshot is removed as well', async () => {
      const v = vol();
      await driver.createVolume(v);
      const s = snapOf(v);
      const img = await Image.open(rbd, v.name);
      await img.createSnap(s.name);
      await img.close();
      await driver.deleteSnapshot(s);
      assert.deepEqual(await snaps(v.name), []);
    });

    it('a snapshot with clones: its children are flattened, then it goes', async () => {
      const v = vol();
      await driver.createVolume(v);
      const s = snapOf(v);
      await driver.createSnapshot(s);
      const child = vol();
      await driver.createVolumeFromSnapshot(child, s);
      assert.equal(await parent(child.name), `rbd/${v.name}@${s.name}`);
      await driver.deleteSnapshot(s);
      assert.equal(await parent(child.name), null, 'child flattened');
      assert.deepEqual(await snaps(v.name), []);
      assert.deepEqual(await names(), [v.name, child.name].sort());
    });

    it('children that cannot be detached (no deep-flatten, a snapshot of their own) end in SnapshotIsBusy', async () => {
      const v = vol();
      await driver.createVolume(v);
      const s = snapOf(v);
      await driver.createSnapshot(s);
      const child = `volume-${randomUUID()}`;
      track(child.slice('volume-'.length));
      await Rbd.clone(rbd, v.name, s.name, rbd, child, { features: 1 });
      const c = await Image.open(rbd, child);
      await c.createSnap('keep');
      await c.close();
      await assert.rejects(driver.deleteSnapshot(s), (e: unknown) => {
        assert.ok(e instanceof SnapshotIsBusy);
        assert.equal(e.snapshotName, s.name);
        return true;
      });
      assert.equal(await parent(child), null, 'the head was flattened');
      assert.deepEqual(await snaps(v.name), [`${s.name} (protected)`], 'the snapshot stays, protected');
    });

    it('revert_to_snapshot rolls the volume back', async () => {
      const v = vol();
      await driver.createVolume(v);
      const a = Buffer.alloc(4096, 0xaa);
      let img = await Image.open(rbd, v.name);
      await img.write(a, 0);
      await img.close();
      const s = snapOf(v);
      await driver.createSnapshot(s);
      img = await Image.open(rbd, v.name);
      await img.write(Buffer.alloc(4096, 0xbb), 0);
      await img.close();
      await driver.revertToSnapshot(v, s);
      img = await Image.open(rbd, v.name, { readOnly: true });
      try {
        assert.deepEqual(await img.read(0, 4096), a);
      } finally {
        await img.close();
      }
    });

    it('extend_volume resizes; failures are VolumeBackendAPIException("Failed to Extend Volume <name>")', async () => {
      const v = vol(1);
      await driver.createVolume(v);
      await driver.extendVolume(v, 3);
      assert.equal(await sizeOf(v.name), 3 * GiB);
      const missing = vol(1);
      await assert.rejects(driver.extendVolume(missing, 2), (e: unknown) => {
        assert.ok(e instanceof VolumeBackendAPIException);
        assert.equal(e.data, `Failed to Extend Volume ${missing.name}`);
        return true;
      });
    });
  });

  // ---- clones ---------------------------------------------------------------------------------------
});
