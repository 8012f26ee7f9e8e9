/** The Cinder RBD driver's back-end assisted migration against the real cluster. */
import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';

import { Image, type IoCtx, Rbd, RbdVolumeDriver } from '../../lib';
import { cinderHarness } from '../helpers/cinder';

describe('Cinder RBD driver (real cluster): migration', function () {
  this.timeout(120_000);
  const h = cinderHarness();
  const { vol, names, track } = h;
  let rbd: IoCtx;
  let images: IoCtx;
  let fsid: string;
  let driver: RbdVolumeDriver;
  before(() => {
    ({ rbd, images, fsid, driver } = h.state());
  });
  const host = (pool: string, f = fsid, protocol = 'ceph') => ({ host: 'dest@rbd#RBD', capabilities: { storage_protocol: protocol, location_info: `ceph:/etc/ceph/ceph.conf:${f}:None:${pool}` } });

  it('refuses what upstream refuses: status, protocol, location_info, another cluster, in-use across pools', async () => {
    const v = vol(1);
    await driver.createVolume(v);
    const cases: Array<[string, Parameters<RbdVolumeDriver['migrateVolume']>[0], Parameters<RbdVolumeDriver['migrateVolume']>[1]]> = [
      ['status error', { ...v, status: 'error' }, host('images')],
      ['no status', v, host('images')],
      ['not ceph', { ...v, status: 'available' }, host('images', fsid, 'iSCSI')],
      ['no location_info', { ...v, status: 'available' }, { capabilities: { storage_protocol: 'ceph' } }],
      ['bad location_info', { ...v, status: 'available' }, { capabilities: { storage_protocol: 'ceph', location_info: 'a:b' } }],
      ['another cluster', { ...v, status: 'available' }, host('images', randomUUID())],
      ['in-use across pools', { ...v, status: 'in-use' }, host('images')],
    ];
    for (const [what, volume, dest] of cases) assert.deepEqual(await driver.migrateVolume(volume, dest), { moved: false }, what);
    assert.deepEqual(await names(), [v.name]);
    assert.deepEqual(await driver.migrateVolume({ ...v, status: 'in-use' }, host('rbd')), { moved: true }, 'same pool: only the host changes');
    assert.deepEqual(await names(), [v.name]);
  });

  it('another pool of the same cluster: the data is copied and the source removed', async () => {
    const v = vol(1);
    await driver.createVolume(v);
    const data = randomBytes(1024 * 1024);
    let img = await Image.open(rbd, v.name);
    await img.write(data, 4096);
    await img.close();
    assert.deepEqual(await driver.migrateVolume({ ...v, status: 'available' }, host('images')), { moved: true });
    assert.deepEqual(await names(), []);
    assert.deepEqual(await names(images), [v.name]);
    img = await Image.open(images, v.name, { readOnly: true });
    try {
      assert.deepEqual(await img.read(4096, data.length), data);
    } finally {
      await img.close();
    }
  });

  it('update_migrated_volume renames the new volume back, except in use or when the rename fails', async () => {
    const v = vol(1);
    const n = vol(1);
    await driver.createVolume(n);
    assert.deepEqual(await driver.updateMigratedVolume(v, n, 'in-use'), { _name_id: n.id, provider_location: null });
    assert.deepEqual(await driver.updateMigratedVolume(v, n, 'available'), { _name_id: null, provider_location: null });
    assert.deepEqual(await names(), [v.name]);
    const missing = { id: randomUUID(), size: 1 };
    track(missing.id);
    assert.deepEqual(await driver.updateMigratedVolume(v, missing, 'available'), { _name_id: missing.id, provider_location: null });
    assert.equal((await Rbd.list(rbd)).includes(v.name), true);
  });
});
