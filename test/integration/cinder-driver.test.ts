/**
 * The Cinder RBD driver and Nova's direct snapshot against the real cluster:
 * one scenario per behaviour of docs/DESIGN.md#cinder-driver and #nova-direct-snapshot, each asserting the pool state it leaves
 * (image names, snapshots and their protection, parents, the trash).
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import {
  AbortError,
  GlanceStore,
  Image,
  ImageExists,
  ImageUnacceptable,
  type IoCtx,
  ManageExistingInvalidReference,
  NotSupported,
  Features,
  Rados,
  Rbd,
  RbdVolumeDriver,
  type RbdVolumeDriverOptions,
  SnapshotIsBusy,
  type Snapshot,
  InvalidConfigurationValue,
  VolumeBackendAPIException,
  VolumeIsBusy,
  type Volume,
  directSnapshot,
} from '../../lib';
import { cli, confFile, connect, purgeImages } from '../helpers/cluster';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('Cinder RBD driver (real cluster)', function () {
  this.timeout(180_000);

  let cluster: Rados;
  let second: Rados;
  let rbd: IoCtx;
  let images: IoCtx;
  let secondRbd: IoCtx;
  let fsid: string;
  let driver: RbdVolumeDriver;
  const drivers: RbdVolumeDriver[] = [];
  /** Ids whose images (in rbd and images, trash included) each test removes afterwards. */
  let tracked = new Set<string>();

  async function openDriver(options: RbdVolumeDriverOptions = {}): Promise<RbdVolumeDriver> {
    const logger = process.env.CINDER_TEST_LOG ? { debug: console.log, info: console.log, warn: console.log, error: console.log } : undefined;
    const d = await RbdVolumeDriver.open({ confFile: confFile(), connectionIntervalMs: 50, connectTimeoutMs: 60_000, logger, ...options });
    drivers.push(d);
    return d;
  }

  function vol(size = 1, extra: Partial<Volume> = {}): Required<Pick<Volume, 'id' | 'name' | 'size'>> & Volume {
    const id = randomUUID();
    tracked.add(id);
    return { id, name: `volume-${id}`, size, ...extra };
  }

  function snapOf(v: Volume & { name: string }): Snapshot & { name: string } {
    const id = randomUUID();
    return { id, name: `snapshot-${id}`, volumeName: v.name, volumeSize: v.size };
  }

  function mine(name: string): boolean {
    for (const id of tracked) if (name.includes(id)) return true;
    return false;
  }

  async function names(ioctx: IoCtx = rbd): Promise<string[]> {
    return (await Rbd.list(ioctx)).filter(mine).sort();
  }

  async function trashNames(ioctx: IoCtx = rbd): Promise<string[]> {
    return (await Rbd.trashList(ioctx)).filter((e) => mine(e.name)).map((e) => e.name).sort();
  }

  /** Snapshots as `name` or `name (protected)`. */
  async function snaps(name: string, ioctx: IoCtx = rbd): Promise<string[]> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      return (await img.listSnaps()).map((s) => (s.protected ? `${s.name} (protected)` : s.name)).sort();
    } finally {
      await img.close();
    }
  }

  /** `pool/image@snap` of a clone, null for a flat image. */
  async function parent(name: string, ioctx: IoCtx = rbd): Promise<string | null> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      const p = await img.parentInfo();
      return `${p.pool}/${p.image}@${p.snapshot}`;
    } catch {
      return null;
    } finally {
      await img.close();
    }
  }

  async function sizeOf(name: string, ioctx: IoCtx = rbd): Promise<number> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      return await img.size();
    } finally {
      await img.close();
    }
  }

  /** Removes every image (and trash entry) of this run from both pools: snapshots, children first, trash. */
  function purge(): Promise<void> {
    return purgeImages([rbd, images], mine, 12);
  }

  before(async () => {
    cluster = await connect();
    second = await connect();
    rbd = await cluster.openIoctx('rbd');
    images = await cluster.openIoctx('images');
    secondRbd = await second.openIoctx('rbd');
    fsid = cluster.clusterFsid;
    driver = await openDriver();
  });

  afterEach(async () => {
    await purge();
    tracked = new Set();
  });

  after(async () => {
    for (const d of drivers) await d.close();
    await second.shutdown();
    await cluster.shutdown();
  });

  // ---- setup ------------------------------------------------------------------------

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

    it('an existing name is ImageExists; encrypted volumes are NotSupported (DESIGN D6) and create nothing', async () => {
      const v = vol();
      await driver.createVolume(v);
      await assert.rejects(driver.createVolume(v), ImageExists);
      const enc = vol(1, { encrypted: true });
      await assert.rejects(driver.createVolume(enc), NotSupported);
      assert.deepEqual(await names(), [v.name]);
    });

    it('deleting a missing volume succeeds', async () => {
      await driver.deleteVolume(vol());
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
      tracked.add(child.slice('volume-'.length));
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

  describe('clones', () => {
    it('create_volume_from_snapshot clones <volume>@<snapshot> and grows to the new size', async () => {
      const v = vol(1);
      await driver.createVolume(v);
      const s = snapOf(v);
      await driver.createSnapshot(s);
      const c = vol(2);
      await driver.createVolumeFromSnapshot(c, s);
      assert.equal(await parent(c.name), `rbd/${v.name}@${s.name}`);
      assert.equal(await sizeOf(c.name), 2 * GiB);
      const same = vol(1);
      await driver.createVolumeFromSnapshot(same, s);
      assert.equal(await sizeOf(same.name), GiB);
    });

    it('the clone order is the larger of the source stripe unit and the chunk size', async () => {
      const big = await openDriver({ chunkSizeMiB: 16 });
      const v = vol(1);
      await big.createVolume(v); // order 24: stripe unit 16 MiB
      const s = snapOf(v);
      await big.createSnapshot(s);
      const c = vol(1);
      await driver.createVolumeFromSnapshot(c, s); // chunk 4 MiB < stripe unit 16 MiB
      const img = await Image.open(rbd, c.name, { readOnly: true });
      try {
        assert.equal((await img.stat()).order, 24);
      } finally {
        await img.close();
      }
    });

    it('flattenVolumeFromSnapshot flattens the new volume (not temporary ones)', async () => {
      const d = await openDriver({ flattenVolumeFromSnapshot: true });
      const v = vol();
      await d.createVolume(v);
      const s = snapOf(v);
      await d.createSnapshot(s);
      const c = vol();
      await d.createVolumeFromSnapshot(c, s);
      assert.equal(await parent(c.name), null);
      const temp = vol(1, { useQuota: false });
      await d.createVolumeFromSnapshot(temp, s);
      assert.equal(await parent(temp.name), `rbd/${v.name}@${s.name}`);
    });

    it('create_cloned_volume snapshots <dest>.clone_snap on the source, protects it, clones, resizes', async () => {
      const src = vol(1);
      await driver.createVolume(src);
      const dest = vol(2);
      await driver.createClonedVolume(dest, src);
      assert.deepEqual(await snaps(src.name), [`${dest.name}.clone_snap (protected)`]);
      assert.equal(await parent(dest.name), `rbd/${src.name}@${dest.name}.clone_snap`);
      assert.equal(await sizeOf(dest.name), 2 * GiB);
    });

    it('a failing clone undoes its snapshot and is VolumeBackendAPIException', async () => {
      const src = vol();
      await driver.createVolume(src);
      const dest = vol();
      await driver.createVolume(dest); // the name is taken: the clone fails
      await assert.rejects(driver.createClonedVolume(dest, src), (e: unknown) => {
        assert.ok(e instanceof VolumeBackendAPIException);
        assert.match(e.data, new RegExp(`^Failed to clone '${src.name}@${dest.name}.clone_snap' to '${dest.name}'`));
        return true;
      });
      assert.deepEqual(await snaps(src.name), []);
    });

    it('maxCloneDepth <= 0 makes full copies: no snapshot, no parent, same data', async () => {
      const d = await openDriver({ maxCloneDepth: 0 });
      const src = vol(1);
      await d.createVolume(src);
      const data = randomBytes(8192);
      const img = await Image.open(rbd, src.name);
      await img.write(data, 4 * MiB);
      await img.close();
      const dest = vol(2);
      await d.createClonedVolume(dest, src);
      assert.deepEqual(await snaps(src.name), []);
      assert.equal(await parent(dest.name), null);
      assert.equal(await sizeOf(dest.name), 2 * GiB);
      const copy = await Image.open(rbd, dest.name, { readOnly: true });
      try {
        assert.deepEqual(await copy.read(4 * MiB, data.length), data);
      } finally {
        await copy.close();
      }
    });

    it('a chain 7 deep with maxCloneDepth 5: the clone of a source with 5 Cinder ancestors is flattened; deleting root-first leaves nothing', async () => {
      const d = await openDriver({ maxCloneDepth: 5 });
      const v = [vol()];
      await d.createVolume(v[0] as Volume);
      for (let i = 1; i <= 7; i++) {
        v.push(vol());
        await d.createClonedVolume(v[i] as Volume, v[i - 1] as Volume);
      }
      const n = v.map((x) => x.name);
      for (let i = 1; i <= 5; i++) assert.equal(await parent(n[i] as string), `rbd/${n[i - 1]}@${n[i]}.clone_snap`, `v${i} is a clone`);
      assert.equal(await parent(n[6] as string), null, 'v6 (source v5 has 5 ancestors) was flattened');
      assert.equal(await parent(n[7] as string), `rbd/${n[6]}@${n[7]}.clone_snap`, 'v7 starts a new chain');
      for (let i = 0; i <= 4; i++) assert.deepEqual(await snaps(n[i] as string), [`${n[i + 1]}.clone_snap (protected)`], `v${i} keeps its clone snap`);
      assert.deepEqual(await snaps(n[5] as string), [], "v6's temporary clone snap was removed from v5");
      assert.deepEqual(await snaps(n[6] as string), [`${n[7]}.clone_snap (protected)`]);
      assert.deepEqual(await snaps(n[7] as string), []);

      // Delete root first: every volume with clones is hidden as .deleted ...
      for (let i = 0; i <= 4; i++) await d.deleteVolume(v[i] as Volume);
      assert.deepEqual(await names(), [...n.slice(0, 5).map((x) => `${x}.deleted`), ...n.slice(5)].sort());
      // ... and removing the last clone of the chain takes the .deleted parents with it (DESIGN D4).
      await d.deleteVolume(v[5] as Volume);
      assert.deepEqual(await names(), [n[6], n[7]].sort());
      await d.deleteVolume(v[6] as Volume);
      assert.deepEqual(await names(), [`${n[6]}.deleted`, n[7]].sort());
      await d.deleteVolume(v[7] as Volume);
      assert.deepEqual(await names(), []);
      assert.deepEqual(await trashNames(), []);
    });

    it('maxCloneDepth 1: a clone of a clone is flattened and its .clone_snap removed, unless it is a temporary volume', async () => {
      const d = await openDriver({ maxCloneDepth: 1 });
      const a = vol();
      await d.createVolume(a);
      const b = vol();
      await d.createClonedVolume(b, a); // depth(a) = 0: stays a clone
      const temp = vol(1, { useQuota: false });
      await d.createClonedVolume(temp, b); // depth(b) = 1, but temporary volumes are not flattened
      const c = vol();
      await d.createClonedVolume(c, b); // depth(b) = 1 >= 1: flattened
      assert.equal(await parent(b.name), `rbd/${a.name}@${b.name}.clone_snap`);
      assert.equal(await parent(temp.name), `rbd/${b.name}@${temp.name}.clone_snap`);
      assert.equal(await parent(c.name), null);
      assert.deepEqual(await snaps(b.name), [`${temp.name}.clone_snap (protected)`]);
      // A clone of a Glance image or of a user snapshot does not count as a Cinder ancestor.
      const s = snapOf(a);
      await d.createSnapshot(s);
      const fromSnap = vol();
      await d.createVolumeFromSnapshot(fromSnap, s);
      const e = vol();
      await d.createClonedVolume(e, fromSnap); // depth(fromSnap) = 0
      assert.equal(await parent(e.name), `rbd/${fromSnap.name}@${e.name}.clone_snap`);
    });

    it('deleting a parent with live clones hides it as .deleted; deleting the clones removes it (DESIGN D4)', async () => {
      const a = vol();
      await driver.createVolume(a);
      const b = vol();
      const c = vol();
      await driver.createClonedVolume(b, a);
      await driver.createClonedVolume(c, a);
      await driver.deleteVolume(a);
      assert.deepEqual(await names(), [`${a.name}.deleted`, b.name, c.name].sort());
      assert.equal(await parent(b.name), `rbd/${a.name}.deleted@${b.name}.clone_snap`);
      await driver.deleteVolume(b);
      assert.deepEqual(await names(), [`${a.name}.deleted`, c.name].sort());
      assert.deepEqual(await snaps(`${a.name}.deleted`), [`${c.name}.clone_snap (protected)`]);
      await driver.deleteVolume(c);
      assert.deepEqual(await names(), []);
    });

    it('a flattened volume (no deep-flatten) still reports its parent through its .clone_snap when it is deleted', async () => {
      const a = vol();
      await driver.createVolume(a);
      const b = vol();
      await driver.createClonedVolume(b, a);
      const c = vol();
      await driver.createClonedVolume(c, b);
      // Without deep-flatten the snapshots of B keep their parent after a flatten of the head.
      const img = await Image.open(rbd, b.name);
      await img.updateFeatures(Features.DEEP_FLATTEN, false);
      await img.flatten();
      await img.close();
      assert.equal(await parent(b.name), null);
      await driver.deleteVolume(a); // a has b's clone snap: hidden
      await driver.deleteVolume(b); // b has c's clone snap: hidden
      assert.deepEqual(await names(), [`${a.name}.deleted`, `${b.name}.deleted`, c.name].sort());
      await driver.deleteVolume(c);
      assert.deepEqual(await names(), []);
    });

    it('with deferred deletion a trashed clone keeps its parent until the trash is purged, then the .deleted parent goes', async () => {
      const d = await openDriver({ enableDeferredDeletion: true, deferredDeletionDelaySec: 0, deferredDeletionPurgeIntervalSec: 0 });
      const a = vol();
      await d.createVolume(a);
      const b = vol();
      await d.createClonedVolume(b, a);
      await d.deleteVolume(a);
      await d.deleteVolume(b);
      assert.deepEqual(await names(), [`${a.name}.deleted`]);
      assert.deepEqual(await trashNames(), [b.name]);
      await d.purgeTrash((e) => mine(e.name));
      // B is gone; with deferred deletion the released .deleted parent is trashed too (DESIGN D4).
      assert.deepEqual(await names(), []);
      assert.deepEqual(await trashNames(), [`${a.name}.deleted`]);
      await d.purgeTrash((e) => mine(e.name));
      assert.deepEqual(await trashNames(), []);
    });
  });

  // ---- images ----------------------------------------------------------------------------------

  describe('images', () => {
    /** A raw "Glance" image in pool images with a protected `snap`, as glance_store writes it. */
    async function glanceImage(data: Buffer): Promise<{ id: string; url: string }> {
      const id = randomUUID();
      tracked.add(id);
      await Rbd.create(images, id, data.length, { order: 23 });
      const img = await Image.open(images, id);
      await img.write(data, 0);
      await img.createSnap('snap');
      await img.protectSnap('snap');
      await img.close();
      return { id, url: `rbd://${fsid}/images/${id}/snap` };
    }

    it('clone_image clones a raw image of this cluster and grows it to the volume size', async () => {
      const g = await glanceImage(randomBytes(64 * 1024));
      const v = vol(1);
      const res = await driver.cloneImage(v, [g.url, null], { disk_format: 'raw' });
      assert.deepEqual(res, { cloned: true, modelUpdate: { provider_location: null } });
      assert.equal(await parent(v.name), `images/${g.id}@snap`);
      assert.equal(await sizeOf(v.name), GiB);
      const img = await Image.open(rbd, v.name, { readOnly: true });
      try {
        assert.equal((await img.stat()).order, 23, 'order from the source stripe unit (8 MiB) over the 4 MiB chunk');
      } finally {
        await img.close();
      }
    });

    it('clone_image refuses other clusters, non-raw formats and bad locations without throwing', async () => {
      const g = await glanceImage(randomBytes(4096));
      const v = vol(1);
      const other = `rbd://${randomUUID()}/images/${g.id}/snap`;
      const refusals: Array<[string, Parameters<RbdVolumeDriver['cloneImage']>[1], { disk_format?: string }]> = [
        ['another fsid', other, { disk_format: 'raw' }],
        ['qcow2', g.url, { disk_format: 'qcow2' }],
        ['no disk format', g.url, {}],
        ['not rbd', `http://glance/${g.id}`, { disk_format: 'raw' }],
        ['legacy rbd://image', `rbd://${g.id}`, { disk_format: 'raw' }],
        ['blank component', `rbd://${fsid}//${g.id}/snap`, { disk_format: 'raw' }],
        ['missing snapshot', `rbd://${fsid}/images/${g.id}/nosnap`, { disk_format: 'raw' }],
        ['missing image', `rbd://${fsid}/images/${randomUUID()}/snap`, { disk_format: 'raw' }],
        ['missing pool', `rbd://${fsid}/no-such-pool/${g.id}/snap`, { disk_format: 'raw' }],
        ['no location at all', [null, null], { disk_format: 'raw' }],
      ];
      for (const [what, loc, meta] of refusals) {
        assert.deepEqual(await driver.cloneImage(v, loc, meta), { cloned: false, modelUpdate: {} }, what);
      }
      // The locations list wins over the direct URL; the first cloneable entry is used.
      const res = await driver.cloneImage(v, [g.url, [{ url: other }, { url: g.url }]], { disk_format: 'raw' });
      assert.equal(res.cloned, true);
      const v2 = vol(1);
      assert.equal((await driver.cloneImage(v2, [g.url, [{ url: other }]], { disk_format: 'raw' })).cloned, false);
      assert.deepEqual(await names(), [v.name]);
    });

    it('copy image → volume → image round trip through the Glance store keeps the checksum', async () => {
      const store = await GlanceStore.open({ confFile: confFile(), pool: 'images', thinProvisioning: true });
      try {
        const data = randomBytes(5 * MiB + 12345);
        const imageId = randomUUID();
        tracked.add(imageId);
        const added = await store.add(imageId, data, data.length);
        // Another fsid: not cloneable, so the data is downloaded through store.get().
        const foreign = added.location.replace(/^rbd:\/\/[^/]+\//, `rbd://${randomUUID()}/`);
        const v = vol(1);
        await driver.createVolume(v); // Cinder creates the volume first; the copy replaces it
        await driver.copyImageToVolume(v, store, [foreign, null], { disk_format: 'raw' });
        assert.equal(await parent(v.name), null, 'a plain copy, not a clone');
        assert.equal(await sizeOf(v.name), GiB);
        const vimg = await Image.open(rbd, v.name, { readOnly: true });
        try {
          assert.deepEqual(await vimg.read(0, data.length), data);
          const extents = await vimg.diffIterate({});
          const allocated = extents.filter((e) => e.exists).reduce((n, e) => n + e.length, 0);
          assert.ok(allocated <= 8 * MiB, `the volume stays sparse (${allocated} bytes allocated)`);
        } finally {
          await vimg.close();
        }
        const backId = randomUUID();
        tracked.add(backId);
        const back = await driver.copyVolumeToImage(v, store, backId);
        assert.equal(back.size, GiB);
        const md5 = createHash('md5').update(data);
        const zeros = Buffer.alloc(8 * MiB);
        for (let left = GiB - data.length; left > 0; left -= zeros.length) md5.update(zeros.subarray(0, Math.min(left, zeros.length)));
        assert.equal(back.checksum, md5.digest('hex'));
        assert.deepEqual(await snaps(backId, images), ['snap (protected)']);

        // A cloneable location: the volume becomes a COW clone of the image.
        const v2 = vol(1);
        await driver.copyImageToVolume(v2, store, added.location, { disk_format: 'raw' });
        assert.equal(await parent(v2.name), `images/${imageId}@snap`);
      } finally {
        await store.close();
      }
    });

    it('copy_image_to_volume refuses an image larger than the volume and encrypted volumes', async () => {
      const fake = {
        add: async () => ({ location: '', size: 0 }),
        get: async () => ({ stream: (async function* () { yield Buffer.alloc(1); })(), size: 2 * GiB }),
      };
      await assert.rejects(driver.copyImageToVolume(vol(1), fake, 'rbd://x'), ImageUnacceptable);
      await assert.rejects(driver.copyImageToVolume(vol(1, { encrypted: true }), fake, 'rbd://x'), NotSupported);
      await assert.rejects(driver.cloneImage(vol(1, { encrypted: true }), 'rbd://x', {}), NotSupported);
      assert.deepEqual(await names(), []);
    });

    it('a download that fails midway, or delivers less than announced, leaves no volume behind', async () => {
      const boom = new Error('source broke');
      const failing = {
        add: async () => ({ location: '', size: 0 }),
        get: async () => ({
          stream: (async function* () {
            yield randomBytes(MiB);
            throw boom;
          })(),
          size: 4 * MiB,
        }),
      };
      await assert.rejects(driver.copyImageToVolume(vol(1), failing, 'rbd://x'), (e: unknown) => e === boom);
      const short = {
        add: async () => ({ location: '', size: 0 }),
        get: async () => ({ stream: (async function* () { yield randomBytes(MiB); })(), size: 2 * MiB }),
      };
      await assert.rejects(driver.copyImageToVolume(vol(1), short, 'rbd://x'), (e: unknown) => e instanceof ImageUnacceptable && /Size mismatch/.test(e.reason));
      assert.deepEqual(await names(), []);
    });
  });

  // ---- stats, connection info -----------------------------------------------------------------

  describe('stats and connection info', () => {
    it('get_volume_stats reports Cinder’s keys and the df/quota arithmetic', async () => {
      const v = vol(3);
      await driver.createVolume(v);
      const stats = await driver.getVolumeStats(true);
      assert.deepEqual(Object.keys(stats).sort(), [
        'backend_state', 'driver_version', 'free_capacity_gb', 'location_info', 'max_over_subscription_ratio', 'multiattach',
        'provisioned_capacity_gb', 'qos_support', 'replication_enabled', 'reserved_percentage', 'storage_protocol',
        'thin_provisioning_support', 'total_capacity_gb', 'vendor_name', 'volume_backend_name',
      ]);
      assert.equal(stats.vendor_name, 'Open Source');
      assert.equal(stats.driver_version, '1.3.0');
      assert.equal(stats.storage_protocol, 'ceph');
      assert.equal(stats.backend_state, 'up');
      assert.equal(stats.volume_backend_name, 'RBD');
      assert.equal(stats.multiattach, true);
      assert.equal(stats.thin_provisioning_support, true);
      assert.equal(stats.reserved_percentage, 0);
      assert.equal(stats.max_over_subscription_ratio, 20);
      assert.equal(stats.replication_enabled, false);
      assert.equal(stats.location_info, `ceph:${confFile()}:${fsid}:None:rbd`);

      const df = JSON.parse(await cli('ceph', ['df', '--format=json'])) as { pools: Array<{ name: string; stats: { stored: number; max_avail: number } }> };
      const rbdStats = df.pools.find((p) => p.name === 'rbd')?.stats;
      assert.ok(rbdStats);
      const free = Math.round((rbdStats.max_avail / GiB) * 100) / 100;
      const total = Math.round(((rbdStats.max_avail + rbdStats.stored) / GiB) * 100) / 100;
      assert.ok(Math.abs((stats.free_capacity_gb as number) - free) <= 0.05, `free ${stats.free_capacity_gb} vs ceph df ${free}`);
      assert.ok(Math.abs((stats.total_capacity_gb as number) - total) <= 0.05, `total ${stats.total_capacity_gb} vs ceph df ${total}`);
      assert.ok((stats.provisioned_capacity_gb as number) >= 3, 'provisioned includes our 3 GiB volume');

      const exclusive = await openDriver({ exclusivePool: true, volumeBackendName: 'ceph-a', reservedPercentage: 5 });
      const ex = await exclusive.getVolumeStats(true);
      assert.equal('provisioned_capacity_gb' in ex, false);
      assert.equal(ex.volume_backend_name, 'ceph-a');
      assert.equal(ex.reserved_percentage, 5);
    });

    it('stats of an unreachable cluster: backend down, capacities unknown, no throw', async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'cinder-dead-'));
      try {
        const conf = path.join(dir, 'ceph.conf');
        writeFileSync(conf, '[global]\nmon host = 127.0.0.1:1\nauth client required = none\n');
        const dead = await openDriver({ confFile: conf, connectTimeoutMs: 1000, connectionRetries: 1 });
        const stats = await dead.getVolumeStats(true);
        assert.equal(stats.backend_state, 'down');
        assert.equal(stats.total_capacity_gb, 'unknown');
        assert.equal(stats.free_capacity_gb, 'unknown');
        assert.equal('provisioned_capacity_gb' in stats, false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('initialize_connection returns the rbd connection info with the monitors of ceph.conf', async () => {
      const v = vol();
      await driver.createVolume(v);
      const monHost = /^\s*mon[ _]host\s*=\s*(.+)$/m.exec(readFileSync(confFile(), 'utf8'))?.[1]?.trim() ?? '';
      const m = /(?:v[12]:)?\[?([0-9a-fA-F.:]+?)\]?:(\d+)/.exec(monHost);
      assert.ok(m, `mon host ${monHost}`);
      const info = await driver.initializeConnection(v, { host: 'compute-1' });
      assert.deepEqual(info, {
        driver_volume_type: 'rbd',
        data: {
          name: `rbd/${v.name}`,
          hosts: [m[1]],
          ports: [m[2]],
          cluster_name: 'ceph',
          auth_enabled: false,
          auth_username: null,
          secret_type: 'ceph',
          secret_uuid: fsid,
          volume_id: v.id,
          discard: true,
        },
      });
      const withUser = await openDriver({ user: 'admin', secretUuid: '11111111-2222-3333-4444-555555555555' });
      const info2 = await withUser.initializeConnection(v, {});
      assert.equal(info2.data.auth_enabled, true);
      assert.equal(info2.data.auth_username, 'admin');
      assert.equal(info2.data.secret_uuid, '11111111-2222-3333-4444-555555555555');
      await driver.terminateConnection(v, {});

      const dir = mkdtempSync(path.join(tmpdir(), 'cinder-keyring-'));
      try {
        const keyring = path.join(dir, 'ceph.client.cinder.keyring');
        writeFileSync(keyring, '[client.cinder]\n\tkey = AQBQ\n');
        const withKeyring = await openDriver({ keyringConf: keyring });
        await withKeyring.checkForSetupError();
        assert.equal((await withKeyring.initializeConnection(v)).data.keyring, '[client.cinder]\n\tkey = AQBQ\n');
        const unreadable = await openDriver({ keyringConf: path.join(dir, 'missing.keyring') });
        await assert.rejects(unreadable.checkForSetupError(), (e: unknown) => e instanceof InvalidConfigurationValue && e.option === 'keyringConf');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  // ---- manage ----------------------------------------------------------------------------------

  describe('manage / unmanage', () => {
    it('manage_existing_get_size rounds up to GiB; bad references are ManageExistingInvalidReference', async () => {
      const id = randomUUID();
      tracked.add(id);
      const name = `legacy-${id}`;
      await Rbd.create(rbd, name, GiB + 1);
      const v = vol();
      assert.equal(await driver.manageExistingGetSize(v, { 'source-name': name }), 2);
      await assert.rejects(driver.manageExistingGetSize(v, { 'source-name': `nope-${id}` }), (e: unknown) => {
        assert.ok(e instanceof ManageExistingInvalidReference);
        assert.equal(e.reason, 'Specified rbd image does not exist.');
        return true;
      });
      await assert.rejects(driver.manageExistingGetSize(v, {} as { 'source-name': string }), (e: unknown) => {
        assert.ok(e instanceof ManageExistingInvalidReference);
        assert.equal(e.reason, 'Reference must contain source-name element.');
        return true;
      });
    });

    it('manage_existing renames the image to the volume name; unmanage leaves it', async () => {
      const id = randomUUID();
      tracked.add(id);
      const name = `legacy-${id}`;
      await Rbd.create(rbd, name, GiB);
      const v = vol();
      await driver.manageExisting(v, { 'source-name': name });
      assert.deepEqual(await names(), [v.name]);
      await driver.unmanage(v);
      assert.deepEqual(await names(), [v.name]);
      await assert.rejects(driver.manageExisting(vol(), { 'source-name': name }), ManageExistingInvalidReference);
    });

    it('get_manageable_volumes lists sizes, Cinder ids and the reasons not to manage', async () => {
      const managed = vol(1);
      await driver.createVolume(managed);
      const inUse = vol(2);
      await driver.createVolume(inUse);
      const hidden = vol(1);
      await driver.createVolume(hidden);
      await Rbd.rename(rbd, hidden.name, `${hidden.name}.deleted`);
      const free = vol(1);
      await Rbd.create(rbd, free.name, GiB + 5);
      const held = await Image.open(secondRbd, inUse.name);
      try {
        const all = await driver.getManageableVolumes([{ id: managed.id }, { id: randomUUID() }], null, 1000, 0, ['reference'], ['asc']);
        const ours = all.filter((e) => mine(e.reference['source-name']));
        const byName = new Map(ours.map((e) => [e.reference['source-name'], e]));
        assert.deepEqual(byName.get(managed.name), {
          reference: { 'source-name': managed.name }, size: 1, cinder_id: managed.id, extra_info: null, safe_to_manage: false, reason_not_safe: 'already managed',
        });
        assert.deepEqual(byName.get(inUse.name), {
          reference: { 'source-name': inUse.name }, size: 2, cinder_id: null, extra_info: null, safe_to_manage: false, reason_not_safe: 'volume in use',
        });
        assert.deepEqual(byName.get(`${hidden.name}.deleted`), {
          reference: { 'source-name': `${hidden.name}.deleted` }, size: 1, cinder_id: null, extra_info: null, safe_to_manage: false, reason_not_safe: 'volume marked as deleted',
        });
        assert.deepEqual(byName.get(free.name), {
          reference: { 'source-name': free.name }, size: 2, cinder_id: null, extra_info: null, safe_to_manage: true, reason_not_safe: null,
        });
        const sorted = all.map((e) => e.reference['source-name']);
        assert.deepEqual(sorted, [...sorted].sort(), 'sorted by reference, ascending');
        const page = await driver.getManageableVolumes([], { 'source-name': sorted[0] }, 2, 1, ['reference'], ['asc']);
        assert.deepEqual(page.map((e) => e.reference['source-name']), sorted.slice(2, 4));
      } finally {
        await held.close();
      }
    });
  });

  // ---- Nova ----------------------------------------------------------------------------------

  describe('Nova direct snapshot', () => {
    async function disk(): Promise<{ name: string; data: Buffer }> {
      const id = randomUUID();
      tracked.add(id);
      const name = `${id}_disk`;
      await Rbd.create(rbd, name, 64 * MiB, { order: 22 });
      const data = randomBytes(MiB);
      const img = await Image.open(rbd, name);
      await img.write(data, 8 * MiB);
      await img.close();
      return { name, data };
    }

    it('snapshots the disk into the image pool: flattened, protected snap, temporary snapshot gone', async () => {
      const d = await disk();
      const imageId = randomUUID();
      tracked.add(imageId);
      const steps: string[] = [];
      const url = await directSnapshot(cluster, { pool: 'rbd', imageName: d.name, snapshotName: 'tmp-snap', imageId, parentPool: 'images', onStep: (s) => steps.push(s) });
      assert.equal(url, `rbd://${fsid}/images/${imageId}/snap`);
      assert.deepEqual(steps, ['snapshot', 'clone', 'flatten', 'protect']);
      assert.deepEqual(await names(images), [imageId]);
      assert.equal(await parent(imageId, images), null, 'flattened');
      assert.deepEqual(await snaps(imageId, images), ['snap (protected)']);
      assert.deepEqual(await snaps(d.name), [], 'the temporary snapshot is removed');
      const img = await Image.open(images, imageId, { readOnly: true, snapshot: 'snap' });
      try {
        assert.deepEqual(await img.read(8 * MiB, d.data.length), d.data);
      } finally {
        await img.close();
      }
    });

    it('the parent pool defaults to the pool of the disk’s parent; a flat disk without one is ImageUnacceptable', async () => {
      const base = randomUUID();
      tracked.add(base);
      await Rbd.create(images, base, 16 * MiB);
      let img = await Image.open(images, base);
      await img.createSnap('snap');
      await img.protectSnap('snap');
      await img.close();
      const child = `${base}_disk`;
      await Rbd.clone(images, base, 'snap', rbd, child);
      const imageId = randomUUID();
      tracked.add(imageId);
      const url = await directSnapshot(cluster, { pool: 'rbd', imageName: child, imageId });
      assert.equal(url, `rbd://${fsid}/images/${imageId}/snap`);
      assert.equal(await parent(imageId, images), null);
      img = await Image.open(rbd, child, { readOnly: true });
      await img.close();
      const flat = await disk();
      await assert.rejects(directSnapshot(cluster, { pool: 'rbd', imageName: flat.name, imageId: randomUUID() }), ImageUnacceptable);
      assert.deepEqual(await snaps(flat.name), []);
      // A flat disk: the pool of the first base image location on this cluster.
      const viaGlance = randomUUID();
      tracked.add(viaGlance);
      const baseImageLocations = [`http://glance/${base}`, `rbd://${randomUUID()}/rbd/${base}/snap`, `rbd://${fsid}/images/${base}/snap`];
      assert.equal(await directSnapshot(cluster, { pool: 'rbd', imageName: flat.name, imageId: viaGlance, baseImageLocations }), `rbd://${fsid}/images/${viaGlance}/snap`);
      assert.deepEqual(await names(images), [base, imageId, viaGlance].sort());
    });

    it('a failure after the clone removes the half-made image and the temporary snapshot (DESIGN D5)', async () => {
      const d = await disk();
      const imageId = randomUUID();
      tracked.add(imageId);
      const ac = new AbortController();
      await assert.rejects(
        directSnapshot(cluster, { pool: 'rbd', imageName: d.name, imageId, parentPool: 'images', signal: ac.signal, onStep: (s) => { if (s === 'flatten') ac.abort(); } }),
        AbortError,
      );
      assert.deepEqual(await names(images), [], 'no half-made image');
      assert.deepEqual(await snaps(d.name), [], 'no temporary snapshot');
    });

    it('a clone onto an existing image fails without touching that image', async () => {
      const d = await disk();
      const imageId = randomUUID();
      tracked.add(imageId);
      await Rbd.create(images, imageId, MiB);
      await assert.rejects(directSnapshot(cluster, { pool: 'rbd', imageName: d.name, imageId, parentPool: 'images' }), ImageExists);
      assert.deepEqual(await names(images), [imageId]);
      assert.deepEqual(await snaps(imageId, images), []);
      assert.deepEqual(await snaps(d.name), []);
    });
  });
});
