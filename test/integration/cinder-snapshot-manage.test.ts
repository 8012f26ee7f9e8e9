/** The Cinder RBD driver's snapshot manage/unmanage against the real cluster. */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';

import { Image, type IoCtx, ManageExistingInvalidReference, RbdVolumeDriver } from '../../lib';
import { cinderHarness } from '../helpers/cinder';

describe('Cinder RBD driver (real cluster): snapshot manage', function () {
  this.timeout(120_000);
  const h = cinderHarness();
  const { vol, snaps } = h;
  let rbd: IoCtx;
  let driver: RbdVolumeDriver;
  before(() => {
    ({ rbd, driver } = h.state());
  });

  async function rawSnap(volumeName: string, snap: string): Promise<void> {
    const img = await Image.open(rbd, volumeName);
    try {
      await img.createSnap(snap);
    } finally {
      await img.close();
    }
  }

  it('get size, manage (rename + protect), list with reasons, unmanage (unprotect)', async () => {
    const v = vol(2);
    await driver.createVolume(v);
    await rawSnap(v.name, 'outside');
    await rawSnap(v.name, `${v.name}x.clone_snap`);
    await rawSnap(v.name, `backup.${randomUUID()}.snap.1700000000.1`);
    const id = randomUUID();
    const s = { id, volumeName: v.name, volumeSize: 2 };
    assert.equal(await driver.manageExistingSnapshotGetSize(s, { 'source-name': 'outside' }), 2);
    await assert.rejects(driver.manageExistingSnapshotGetSize(s, { 'source-name': 'nope' }), ManageExistingInvalidReference);
    await assert.rejects(driver.manageExistingSnapshotGetSize(s, {} as never), ManageExistingInvalidReference);

    const listed = await driver.getManageableSnapshots([{ id }], null, 1000, 0);
    const mine = listed.filter((e) => e.source_reference['source-name'] === v.name);
    const byName = Object.fromEntries(mine.map((e) => [e.reference['source-name'], e]));
    assert.equal(byName.outside.safe_to_manage, true);
    assert.equal(byName.outside.size, 2);
    assert.equal(byName[`${v.name}x.clone_snap`].reason_not_safe, 'used for clone snap');
    assert.equal(Object.values(byName).filter((e) => e.reason_not_safe === 'used for volume backup').length, 1);

    assert.deepEqual(await driver.manageExistingSnapshot(s, 'outside'), {});
    assert.ok((await snaps(v.name)).includes(`snapshot-${id} (protected)`));
    const again = (await driver.getManageableSnapshots([{ id }], null, 1000, 0)).find((e) => e.reference['source-name'] === `snapshot-${id}`);
    assert.equal(again?.reason_not_safe, 'already managed');
    assert.equal(again?.cinder_id, id);

    await driver.unmanageSnapshot(s);
    assert.ok((await snaps(v.name)).includes(`snapshot-${id}`), 'unmanaged: kept, no longer protected');
    await assert.rejects(driver.manageExistingSnapshot({ ...s, id: randomUUID() }, 'gone'), ManageExistingInvalidReference);
  });

  it('unmanage keeps a snapshot protected while it has clones', async () => {
    const v = vol(1);
    await driver.createVolume(v);
    const s = h.snapOf(v);
    await driver.createSnapshot(s);
    const child = vol(1);
    await driver.createVolumeFromSnapshot(child, s);
    await driver.unmanageSnapshot(s);
    assert.ok((await snaps(v.name)).includes(`${s.name} (protected)`));
  });
});
