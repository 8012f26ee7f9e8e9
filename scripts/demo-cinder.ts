/**
 * The Cinder part of `npm run demo`: image upload → volume from the image
 * (COW clone) → snapshot → volume from the snapshot → flatten → delete all,
 * printing the pool state (images, snapshots, parents) after each step.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { GlanceStore, Image, type IoCtx, type Rados, Rbd, RbdVolumeDriver } from '../lib';

const MiB = 1024 * 1024;

async function describeImage(ioctx: IoCtx, name: string): Promise<string> {
  const img = await Image.open(ioctx, name, { readOnly: true });
  try {
    const size = await img.size();
    const snaps = (await img.listSnaps()).map((s) => `${s.name}${s.protected ? ' (protected)' : ''}`);
    let parent = 'none';
    try {
      const p = await img.parentInfo();
      parent = `${p.pool}/${p.image}@${p.snapshot}`;
    } catch {
      // not a clone
    }
    return `${ioctx.pool}/${name}  ${size / MiB} MiB  parent: ${parent}  snapshots: [${snaps.join(', ')}]`;
  } finally {
    await img.close();
  }
}

/** Prints the demo's images in both pools (others' images are left out). */
async function poolState(pools: IoCtx[], ids: string[], say: (line: string) => void): Promise<void> {
  let any = false;
  for (const ioctx of pools) {
    for (const name of (await Rbd.list(ioctx)).sort()) {
      if (!ids.some((id) => name.includes(id))) continue;
      say(`    ${await describeImage(ioctx, name)}`);
      any = true;
    }
  }
  if (!any) say('    (no images left)');
}

export async function cinderDemo(cluster: Rados, confFile: string, say: (line: string) => void): Promise<void> {
  say('');
  say('Cinder RBD driver: image → volume (COW clone) → snapshot → volume → flatten → delete');
  await using rbd = await cluster.openIoctx('rbd');
  await using images = await cluster.openIoctx('images');
  await using store = await GlanceStore.open({ confFile, pool: 'images' });
  await using driver = await RbdVolumeDriver.open({ confFile, pool: 'rbd', connectionIntervalMs: 500 });
  await driver.checkForSetupError();

  const imageId = randomUUID();
  const vol1 = { id: randomUUID(), size: 1 };
  const vol2 = { id: randomUUID(), size: 2 };
  const snap = { id: randomUUID(), volumeName: `volume-${vol1.id}`, volumeSize: vol1.size };
  const ids = [imageId, vol1.id, vol2.id];
  const state = (): Promise<void> => poolState([images, rbd], ids, say);

  const added = await store.add(imageId, randomBytes(8 * MiB), 8 * MiB);
  say(`1. uploaded image ${imageId} (8 MiB) the Glance way: ${added.location}`);
  await state();

  const { cloned } = await driver.cloneImage(vol1, [added.location, null], { disk_format: 'raw' });
  say(`2. volume-${vol1.id} (1 GiB) from the image: ${cloned ? 'copy-on-write clone of images/<id>@snap' : 'NOT cloned'}`);
  await state();

  await driver.createSnapshot(snap);
  say(`3. snapshot snapshot-${snap.id} of volume-${vol1.id} (created and protected)`);
  await state();

  await driver.createVolumeFromSnapshot(vol2, snap);
  say(`4. volume-${vol2.id} (2 GiB) from the snapshot: a clone, grown to 2 GiB`);
  await state();

  {
    await using img = await Image.open(rbd, `volume-${vol2.id}`);
    await img.flatten();
  }
  say(`5. flattened volume-${vol2.id}: it no longer depends on the snapshot`);
  await state();

  await driver.deleteVolume(vol2);
  await driver.deleteSnapshot(snap);
  await driver.deleteVolume(vol1);
  await store.delete(added.location);
  say('6. deleted both volumes, the snapshot and the image');
  await state();
}
