/**
 * The Cinder RBD driver against the real cluster: image <-> volume copies and
 * clones through a Glance store, stats and connection info.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import {
  GlanceStore,
  Image,
  ImageUnacceptable,
  type IoCtx,
  NotSupported,
  Rbd,
  RbdVolumeDriver,
  InvalidConfigurationValue,
} from '../../lib';
import { cli, confFile } from '../helpers/cluster';
import { cinderHarness } from '../helpers/cinder';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('Cinder RBD driver (real cluster): images and stats', function () {
  this.timeout(180_000);
  const h = cinderHarness();
  const { openDriver, track, vol, names, snaps, parent, sizeOf } = h;
  let rbd: IoCtx;
  let images: IoCtx;
  let fsid: string;
  let driver: RbdVolumeDriver;
  before(() => {
    ({ rbd, images, fsid, driver } = h.state());
  });

  describe('images', () => {
    /** A raw "Glance" image in pool images with a protected `snap`, as glance_store writes it. */
    async function glanceImage(data: Buffer): Promise<{ id: string; url: string }> {
      const id = randomUUID();
      track(id);
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
      const refusals: Array<[string, Parameters<RbdVolumeDriver['cloneImage']>[1], { disk_format?: string }, string]> = [
        ['another fsid', other, { disk_format: 'raw' }, 'other-cluster'],
        ['qcow2', g.url, { disk_format: 'qcow2' }, 'not-raw'],
        ['no disk format', g.url, {}, 'not-raw'],
        ['not rbd', `http://glance/${g.id}`, { disk_format: 'raw' }, 'bad-location'],
        ['legacy rbd://image', `rbd://${g.id}`, { disk_format: 'raw' }, 'bad-location'],
        ['blank component', `rbd://${fsid}//${g.id}/snap`, { disk_format: 'raw' }, 'bad-location'],
        ['missing snapshot', `rbd://${fsid}/images/${g.id}/nosnap`, { disk_format: 'raw' }, 'not-found'],
        ['missing image', `rbd://${fsid}/images/${randomUUID()}/snap`, { disk_format: 'raw' }, 'not-found'],
        ['missing pool', `rbd://${fsid}/no-such-pool/${g.id}/snap`, { disk_format: 'raw' }, 'not-found'],
        ['no location at all', [null, null], { disk_format: 'raw' }, 'no-location'],
      ];
      // Each refusal says why (issue 19: a bare { cloned: false } before).
      for (const [what, loc, meta, reason] of refusals) {
        const res = await driver.cloneImage(v, loc, meta);
        assert.equal(res.cloned, false, what);
        assert.deepEqual(res.modelUpdate, {}, what);
        assert.equal(res.cloned === false && res.reason, reason, what);
        assert.equal(typeof (res.cloned === false && res.detail), 'string', what);
      }
      const tiny = await driver.cloneImage({ ...vol(0) }, g.url, { disk_format: 'raw' });
      assert.equal(tiny.cloned === false && tiny.reason, 'too-large');
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
        track(imageId);
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
        track(backId);
        const back = await driver.copyVolumeToImage(v, store, backId);
        assert.equal(back.size, GiB);
        const md5 = createHash('md5').update(data);
        const zeros = Buffer.alloc(8 * MiB);
        for (let left = GiB - data.length; left > 0; left -= zeros.length) md5.update(zeros.subarray(0, Math.min(left, zeros.length)));
        assert.equal(back.checksum, md5.digest('hex'));
        assert.deepEqual(await snaps(backId, images), ['snap (protected)']);

        // A cloneable location is still copied: cloning is cloneImage's job.
        const v2 = vol(1);
        await driver.copyImageToVolume(v2, store, added.location, { disk_format: 'raw' });
        assert.equal(await parent(v2.name), null);
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
      const shared = await openDriver({ exclusivePool: false });
      const stats = await shared.getVolumeStats(true);
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
      assert.equal(stats.multiattach, true, 'multiattach types get their exclusive-lock features disabled');
      assert.equal(stats.qos_support, true, 'back-end QoS specs become rbd_qos_* image overrides');
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

      assert.equal(driver.config.exclusivePool, true, 'rbd_exclusive_cinder_pool defaults to true as upstream');
      assert.equal('provisioned_capacity_gb' in (await driver.getVolumeStats(true)), false, 'an exclusive pool is not scanned');
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
});
