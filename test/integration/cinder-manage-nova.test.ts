/**
 * The Cinder RBD driver's manage/unmanage and Nova's direct snapshot against
 * the real cluster.
 */
import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';

import {
  AbortError,
  Image,
  ImageExists,
  ImageUnacceptable,
  type IoCtx,
  ManageExistingInvalidReference,
  Rados,
  Rbd,
  RbdVolumeDriver,
  directSnapshot,
} from '../../lib';
import { cinderHarness } from '../helpers/cinder';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('Cinder RBD driver (real cluster): manage and Nova', function () {
  this.timeout(180_000);
  const h = cinderHarness();
  const { track, vol, mine, names, snaps, parent } = h;
  let cluster: Rados;
  let rbd: IoCtx;
  let images: IoCtx;
  let secondRbd: IoCtx;
  let fsid: string;
  let driver: RbdVolumeDriver;
  before(() => {
    ({ cluster, rbd, images, secondRbd, fsid, driver } = h.state());
  });

  describe('manage / unmanage', () => {
    it('manage_existing_get_size rounds up to GiB; bad references are ManageExistingInvalidReference', async () => {
      const id = randomUUID();
      track(id);
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
      track(id);
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
      track(id);
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
      track(imageId);
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
      track(base);
      await Rbd.create(images, base, 16 * MiB);
      let img = await Image.open(images, base);
      await img.createSnap('snap');
      await img.protectSnap('snap');
      await img.close();
      const child = `${base}_disk`;
      await Rbd.clone(images, base, 'snap', rbd, child);
      const imageId = randomUUID();
      track(imageId);
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
      track(viaGlance);
      const baseImageLocations = [`http://glance/${base}`, `rbd://${randomUUID()}/rbd/${base}/snap`, `rbd://${fsid}/images/${base}/snap`];
      assert.equal(await directSnapshot(cluster, { pool: 'rbd', imageName: flat.name, imageId: viaGlance, baseImageLocations }), `rbd://${fsid}/images/${viaGlance}/snap`);
      assert.deepEqual(await names(images), [base, imageId, viaGlance].sort());
    });

    it('a failure after the clone removes the half-made image and the temporary snapshot (DESIGN D5)', async () => {
      const d = await disk();
      const imageId = randomUUID();
      track(imageId);
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
      track(imageId);
      await Rbd.create(images, imageId, MiB);
      await assert.rejects(directSnapshot(cluster, { pool: 'rbd', imageName: d.name, imageId, parentPool: 'images' }), ImageExists);
      assert.deepEqual(await names(images), [imageId]);
      assert.deepEqual(await snaps(imageId, images), []);
      assert.deepEqual(await snaps(d.name), []);
    });
  });
});
