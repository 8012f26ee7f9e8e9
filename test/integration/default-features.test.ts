/**
 * `rbd default features` written as names in ceph.conf: Glance images,
 * Cinder volumes and Nova's direct snapshots get exactly those features.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Features, GlanceStore, Image, Rados, Rbd, RbdVolumeDriver, directSnapshot, cleanupDirectSnapshot } from '../../lib';
import { confFile, uniqueName } from '../helpers/cluster';

const CASES = [
  {
    names: 'layering,exclusive-lock,object-map,fast-diff,deep-flatten',
    bits: Features.LAYERING | Features.EXCLUSIVE_LOCK | Features.OBJECT_MAP | Features.FAST_DIFF | Features.DEEP_FLATTEN,
  },
  { names: 'layering,exclusive-lock', bits: Features.LAYERING | Features.EXCLUSIVE_LOCK },
];

describe('rbd default features given as names', function () {
  this.timeout(120_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-features-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function confWith(names: string): string {
    const file = path.join(dir, `${names.replace(/,/g, '_')}.conf`);
    writeFileSync(file, `${readFileSync(confFile(), 'utf8')}\n[client]\nrbd default features = ${names}\n`);
    return file;
  }

  for (const { names, bits } of CASES) {
    describe(names, () => {
      it('Glance images get exactly those features', async () => {
        await using store = await GlanceStore.open({ confFile: confWith(names), pool: 'images', chunkSizeMiB: 1 });
        const name = uniqueName('feat-glance');
        const added = await store.add(name, Buffer.alloc(64 * 1024, 7));
        try {
          await using cluster = await Rados.connect({ confFile: confFile() });
          await using ioctx = await cluster.openIoctx('images');
          await using image = await Image.open(ioctx, name, { readOnly: true });
          assert.equal(await image.features(), bits);
        } finally {
          await store.delete(added.location);
        }
      });

      it('Cinder volumes get exactly those features', async () => {
        await using driver = await RbdVolumeDriver.open({ confFile: confWith(names), pool: 'rbd', connectionIntervalMs: 50 });
        const volume = { id: uniqueName('feat-cinder'), size: 1 };
        await driver.createVolume(volume);
        try {
          await using cluster = await Rados.connect({ confFile: confFile() });
          await using ioctx = await cluster.openIoctx('rbd');
          await using image = await Image.open(ioctx, `volume-${volume.id}`, { readOnly: true });
          assert.equal(await image.features(), bits);
        } finally {
          await driver.deleteVolume(volume);
        }
      });

      it("Nova's direct snapshot image gets those features", async () => {
        await using cluster = await Rados.connect({ confFile: confWith(names) });
        await using rbd = await cluster.openIoctx('rbd');
        const disk = uniqueName('feat-disk');
        const imageId = uniqueName('feat-snap');
        await Rbd.create(rbd, disk, 4 * 1024 * 1024, { features: Features.LAYERING });
        try {
          const location = await directSnapshot(cluster, { pool: 'rbd', imageName: disk, imageId, parentPool: 'images' });
          try {
            await using images = await cluster.openIoctx('images');
            await using image = await Image.open(images, imageId, { readOnly: true });
            assert.equal(await image.features(), bits);
          } finally {
            await cleanupDirectSnapshot(cluster, location, { alsoDestroyVolume: true, retries: 2, intervalMs: 100 });
          }
        } finally {
          await Rbd.remove(rbd, disk);
        }
      });
    });
  }
});
