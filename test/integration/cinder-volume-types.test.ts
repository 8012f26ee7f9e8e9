/**
 * The Cinder RBD driver's volume types against the real cluster: QoS specs
 * as rbd_qos_* image overrides (and their effect), multiattach features
 * saved and restored, refused types, retype's QoS removal rules.
 */
import { strict as assert } from 'node:assert';
import { Readable } from 'node:stream';

import {
  Image,
  InvalidInput,
  type IoCtx,
  MULTIATTACH_EXCLUSIONS,
  InvalidArgument,
  RBDDriverException,
  ReplicationError,
  Rbd,
  RbdVolumeDriver,
  type ImageStoreLike,
  type VolumeType,
} from '../../lib';
import { cli } from '../helpers/cluster';
import { cinderHarness } from '../helpers/cinder';

const MiB = 1024 * 1024;
const EXCLUSIVE_LOCK = 4;

const qosType = (specs: Record<string, string>, consumer: 'front-end' | 'back-end' | 'both' = 'back-end'): VolumeType => ({ id: 't-qos', name: 'qos', qosSpecs: { consumer, specs } });
const MULTI: VolumeType = { id: 't-multi', name: 'multi', extraSpecs: { multiattach: '<is> True' } };

/** What `rbd config image get` reports for an image override (throws when unset). */
async function configGet(name: string, option: string): Promise<string> {
  return (await cli('rbd', ['config', 'image', 'get', `rbd/${name}`, option])).trim();
}

async function featuresOf(ioctx: IoCtx, name: string): Promise<number> {
  const img = await Image.open(ioctx, name, { readOnly: true });
  try {
    return await img.features();
  } finally {
    await img.close();
  }
}

/** Completed 4 KiB aioWrites per second over `ms` with `depth` in flight. */
async function writeIops(ioctx: IoCtx, name: string, ms: number, depth = 32): Promise<number> {
  const img = await Image.open(ioctx, name);
  try {
    const buf = Buffer.alloc(4096, 7);
    const end = Date.now() + ms;
    let done = 0;
    await Promise.all(
      Array.from({ length: depth }, async (_, w) => {
        for (let i = 0; Date.now() < end; i++) {
          await img.aioWrite(buf, ((w * 256 + (i % 256)) * 4096) % (64 * MiB));
          if (Date.now() <= end) done++;
        }
      }),
    );
    return done / (ms / 1000);
  } finally {
    await img.close();
  }
}

describe('Cinder RBD driver (real cluster): volume types', function () {
  this.timeout(180_000);
  const h = cinderHarness();
  const { vol, snapOf, names } = h;
  let rbd: IoCtx;
  let driver: RbdVolumeDriver;
  before(() => {
    ({ rbd, driver } = h.state());
  });

  describe('QoS', () => {
    it('a back-end QoS type becomes rbd_qos_* image overrides that rbd config image get shows', async () => {
      const v = vol(1, { volumeType: qosType({ total_iops_sec: '500', write_bytes_sec_max: '2048000', total_iops_sec_max: '900', 'unknown_key': '5' }, 'both') });
      assert.deepEqual(await driver.createVolume(v), {});
      assert.equal(await configGet(v.name, 'rbd_qos_iops_limit'), '500');
      assert.equal(await configGet(v.name, 'rbd_qos_write_bps_burst'), '2048000');
      assert.equal(await configGet(v.name, 'rbd_qos_iops_burst'), '900');
      const qos = await driver.getRbdImageQos(v);
      assert.equal(qos.rbd_qos_iops_limit, '500');
      assert.equal(qos.rbd_qos_read_iops_limit, '0');

      await driver.updateRbdImageQos(v, { read_iops_sec: '77' });
      assert.equal(await configGet(v.name, 'rbd_qos_read_iops_limit'), '77');
      await driver.deleteRbdImageQosKeys(v, ['read_iops_sec', 'total_iops_sec', 'write_iops_sec']);
      assert.equal((await driver.getRbdImageQos(v)).rbd_qos_read_iops_limit, '0');
      assert.equal((await driver.getRbdImageQos(v)).rbd_qos_iops_limit, '0');
      await assert.rejects(driver.updateRbdImageQos(v, { total_iops_sec: 'lots' }), InvalidInput);
      await assert.rejects(driver.deleteRbdImageQosKeys(v, ['nope']), InvalidInput);
    });

    it('a front-end consumer sets nothing on the image', async () => {
      const v = vol(1, { volumeType: qosType({ total_iops_sec: '500' }, 'front-end') });
      await driver.createVolume(v);
      assert.equal((await driver.getRbdImageQos(v)).rbd_qos_iops_limit, '0');
      const meta = await cli('rbd', ['image-meta', 'list', `rbd/${v.name}`]);
      assert.doesNotMatch(meta, /rbd_qos/);
    });

    it('every creating path applies the type: from snapshot, cloned, manage, copy from an image', async () => {
      const type = qosType({ write_iops_sec: '321' });
      const src = vol(1);
      await driver.createVolume(src);
      const snap = snapOf(src);
      await driver.createSnapshot(snap);
      const fromSnap = vol(1, { volumeType: type });
      await driver.createVolumeFromSnapshot(fromSnap, snap);
      const cloned = vol(1, { volumeType: type });
      await driver.createClonedVolume(cloned, src);
      const managed = vol(1, { volumeType: type });
      const raw = `manage-${managed.id}`;
      await Rbd.create(rbd, raw, 4 * MiB);
      await driver.manageExisting(managed, { 'source-name': raw });
      const data = Buffer.alloc(2 * MiB, 1);
      const store: ImageStoreLike = {
        add: () => Promise.reject(new Error('unused')),
        get: async () => ({ stream: Readable.from([data]), size: data.length }),
      };
      const copied = vol(1, { volumeType: type });
      await driver.copyImageToVolume(copied, store, 'file:///not-rbd', { disk_format: 'raw' });
      for (const v of [fromSnap, cloned, managed, copied]) assert.equal(await configGet(v.name, 'rbd_qos_write_iops_limit'), '321', v.name);
    });

    it('a 20-IOPS limit caps 4 KiB aioWrites at QD32', async function () {
      const limited = vol(1, { volumeType: qosType({ total_iops_sec: '20' }) });
      const free = vol(1);
      await driver.createVolume(limited);
      await driver.createVolume(free);
      const capped = await writeIops(rbd, limited.name, 3000);
      const uncapped = await writeIops(rbd, free.name, 3000);
      assert.ok(capped < 60, `limited volume did ${capped} IOPS`);
      assert.ok(uncapped > 2 * capped, `unlimited ${uncapped} IOPS vs limited ${capped}`);
    });
  });

  describe('multiattach and refused types', () => {
    it('a multiattach type drops exclusive-lock, object-map, fast-diff, journaling and saves the features; retype away restores them', async () => {
      const plain = vol(1);
      await driver.createVolume(plain);
      const dflt = await featuresOf(rbd, plain.name);
      const v = vol(1, { volumeType: MULTI });
      const update = await driver.createVolume(v);
      assert.deepEqual(update, { provider_location: `{"saved_features":${dflt}}` });
      assert.equal((await featuresOf(rbd, v.name)) & MULTIATTACH_EXCLUSIONS, 0);

      // A managed image with exclusive-lock explicitly.
      const m = vol(1, { volumeType: MULTI });
      const raw = `manage-${m.id}`;
      await Rbd.create(rbd, raw, 4 * MiB, { features: 1 | EXCLUSIVE_LOCK | 8 | 16 });
      const mu = await driver.manageExisting(m, { 'source-name': raw });
      assert.deepEqual(mu, { provider_location: `{"saved_features":${1 | EXCLUSIVE_LOCK | 8 | 16}}` });
      assert.equal(await featuresOf(rbd, m.name), 1);

      // Multiattach → multiattach keeps the saved features; → plain restores them.
      const same = await driver.retype({ ...m, providerLocation: mu.provider_location as string }, { ...MULTI, id: 't-multi-2' });
      assert.deepEqual(same, { changed: true, modelUpdate: {} });
      const back = await driver.retype({ ...m, providerLocation: mu.provider_location as string }, null);
      assert.deepEqual(back, { changed: true, modelUpdate: { provider_location: null } });
      assert.equal(await featuresOf(rbd, m.name), 1 | EXCLUSIVE_LOCK | 8 | 16);
      await assert.rejects(driver.retype({ ...m, providerLocation: null }, null), RBDDriverException);
    });

    it('a replicated type on a pool without mirroring is ReplicationError (image removed); replication + multiattach is RBDDriverException', async () => {
      const repl: VolumeType = { name: 'repl', extraSpecs: { replication_enabled: '<is> True' } };
      const v = vol(1, { volumeType: repl });
      await assert.rejects(
        driver.createVolume(v),
        (e: unknown) =>
          e instanceof ReplicationError && e.code === 'ERR_CINDER_REPLICATION_ERROR' && e.volumeId === v.id && /Failed to enable image replication/.test(e.message) && e.cause instanceof InvalidArgument,
      );
      const both = vol(1, { volumeType: { extraSpecs: { replication_enabled: '<is> True', multiattach: '<is> True' } } });
      await assert.rejects(driver.createVolume(both), (e: unknown) => e instanceof RBDDriverException && e.code === 'ERR_CINDER_RBD_DRIVER' && /mutually exclusive/.test(e.message));
      const bad = vol(1, { volumeType: qosType({ total_iops_sec: '-1' }) });
      await assert.rejects(driver.createVolume(bad), InvalidInput);
      assert.deepEqual(await names(), []);
    });
  });

  describe('retype', () => {
    it('drops QoS keys the new type does not set, keeps and sets the others', async () => {
      const oldType = qosType({ total_iops_sec: '500', read_bytes_sec: '1000000' });
      const v = vol(1, { volumeType: oldType });
      await driver.createVolume(v);
      const newType = qosType({ total_iops_sec: '600', write_iops_sec: '70' });
      const res = await driver.retype(v, newType);
      assert.deepEqual(res, { changed: true, modelUpdate: {} });
      const q = await driver.getRbdImageQos(v);
      assert.equal(q.rbd_qos_iops_limit, '600');
      assert.equal(q.rbd_qos_write_iops_limit, '70');
      assert.equal(q.rbd_qos_read_bps_limit, '0');

      // A consumer turning front-end drops every key the diff names.
      await driver.retype({ ...v, volumeType: newType }, qosType({ total_iops_sec: '600', write_iops_sec: '70' }, 'front-end'));
      const f = await driver.getRbdImageQos(v);
      assert.equal(f.rbd_qos_iops_limit, '0');
      assert.equal(f.rbd_qos_write_iops_limit, '0');

      // An explicit Cinder diff: [old, null] removes, a key absent from the diff with a value set removes too.
      await driver.updateRbdImageQos(v, { total_iops_sec: '10', read_iops_sec: '11' });
      await driver.retype(v, qosType({ read_iops_sec: '11' }), { qos_specs: { consumer: ['back-end', 'back-end'], read_iops_sec: ['11', '11'] } });
      const g = await driver.getRbdImageQos(v);
      assert.equal(g.rbd_qos_iops_limit, '0');
      assert.equal(g.rbd_qos_read_iops_limit, '11');
    });
  });
});
