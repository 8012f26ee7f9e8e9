/**
 * The Cinder RBD driver against the real cluster: clones, clone depth and
 * the parent chain (docs/DESIGN.md#d4-parent-chain-cleaned-on-every-path).
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';

import {
  Image,
  type IoCtx,
  Features,
  RbdVolumeDriver,
  VolumeBackendAPIException,
  type Volume,
} from '../../lib';
import { cinderHarness } from '../helpers/cinder';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('Cinder RBD driver (real cluster): clones', function () {
  this.timeout(180_000);
  const h = cinderHarness();
  const { openDriver, vol, snapOf, mine, names, trashNames, snaps, parent, sizeOf } = h;
  let rbd: IoCtx;
  let driver: RbdVolumeDriver;
  before(() => {
    ({ rbd, driver } = h.state());
  });

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
});
