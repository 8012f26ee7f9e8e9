/**
 * Cinder's way to boot from an image: upload an image, create a volume from
 * it (a copy-on-write clone of the image's protected snapshot), clone that
 * volume, print the chain, then delete everything.
 *
 *   CEPH_CONF=/etc/ceph/ceph.conf node dist/examples/clone-volume.js
 *
 * Uses pools 'images' (Glance) and 'rbd' (volumes). In your own project,
 * import from 'ceph-rbd' instead of '../lib'.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { GlanceStore, Image, Rados, RbdVolumeDriver } from '../lib';

async function parentOf(cluster: Rados, pool: string, name: string): Promise<string> {
  await using ioctx = await cluster.openIoctx(pool);
  await using image = await Image.open(ioctx, name, { readOnly: true });
  try {
    const p = await image.parentInfo();
    return `${p.pool}/${p.image}@${p.snapshot}`;
  } catch {
    return '(none)';
  }
}

async function main(): Promise<void> {
  const confFile = process.env.CEPH_CONF;
  if (!confFile) {
    process.stderr.write("clone-volume: set CEPH_CONF to the cluster's ceph.conf\n");
    process.exitCode = 2;
    return;
  }
  await using cluster = await Rados.connect({ confFile, timeoutMs: 30_000 });
  await using store = await GlanceStore.open({ confFile, pool: 'images', chunkSizeMiB: 1 });
  await using driver = await RbdVolumeDriver.open({ confFile, pool: 'rbd', connectionIntervalMs: 200 });

  const imageId = randomUUID();
  const base = { id: randomUUID(), size: 1 }; // GiB
  const copy = { id: randomUUID(), size: 2 };
  const added = await store.add(imageId, randomBytes(4 * 1024 * 1024), 4 * 1024 * 1024);
  console.log(`image      ${added.location}`);
  try {
    const { cloned } = await driver.cloneImage(base, added.location, { disk_format: 'raw' });
    if (!cloned) throw new Error('the image could not be cloned (another cluster, or not raw)');
    console.log(`volume     rbd/volume-${base.id} parent ${await parentOf(cluster, 'rbd', `volume-${base.id}`)}`);
    try {
      await driver.createClonedVolume(copy, base);
      console.log(`clone      rbd/volume-${copy.id} parent ${await parentOf(cluster, 'rbd', `volume-${copy.id}`)}`);
      await driver.deleteVolume(copy);
      console.log(`deleted    rbd/volume-${copy.id}`);
    } finally {
      await driver.deleteVolume(base);
      console.log(`deleted    rbd/volume-${base.id}`);
    }
  } finally {
    await store.delete(added.location);
    console.log(`deleted    ${added.location}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
