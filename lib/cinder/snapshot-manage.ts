/**
 * Managing existing snapshots (upstream manage_existing_snapshot*,
 * get_manageable_snapshots, unmanage_snapshot): a snapshot made outside
 * Cinder is renamed to `snapshot-<id>` and protected; listing reports every
 * snapshot of the pool with why it is not safe to manage.
 */
import { ImageNotFound } from '../errors';
import { withImage } from '../internal/image';
import type { Logger } from '../logger';
import type { IoCtx } from '../rados';
import { Image, Rbd } from '../rbd';
import { CLONE_SNAP_SUFFIX } from './clone-chain';
import { ManageExistingInvalidReference } from './errors';
import type { ManageableVolume } from './types';
import { ceilGiB } from './util';

/** One entry of get_manageable_snapshots. */
export interface ManageableSnapshot extends ManageableVolume {
  /** The volume (image) the snapshot is on. */
  source_reference: { 'source-name': string };
}

/** A reference as upstream takes it: `{ 'source-name': name }` or the bare name. */
export function snapshotSourceName(existingRef: unknown): string {
  const ref = typeof existingRef === 'string' ? { 'source-name': existingRef } : (existingRef as Record<string, unknown> | null);
  const name = ref && typeof ref === 'object' ? ref['source-name'] : undefined;
  if (typeof name !== 'string' || name === '') throw new ManageExistingInvalidReference(existingRef, 'Reference must contain source-name element.');
  return name;
}

/** manage_existing_snapshot_get_size: the snapshot's size in GiB, rounded up. */
export async function manageableSnapshotSize(ioctx: IoCtx, volumeName: string, snapName: string): Promise<number> {
  try {
    return ceilGiB(await withImage(ioctx, volumeName, { readOnly: true, snapshot: snapName }, (img) => img.size()));
  } catch (err) {
    if (err instanceof ImageNotFound) throw new ManageExistingInvalidReference(snapName, 'Specified snapshot does not exist.', { cause: err });
    throw err;
  }
}

/** manage_existing_snapshot: rename to the Cinder name, protect when not protected yet. */
export async function manageSnapshot(ioctx: IoCtx, volumeName: string, snapName: string, cinderName: string): Promise<void> {
  try {
    await withImage(ioctx, volumeName, {}, async (img) => {
      await img.renameSnap(snapName, cinderName);
      if (!(await img.isProtectedSnap(cinderName))) await img.protectSnap(cinderName);
    });
  } catch (err) {
    if (err instanceof ImageNotFound) throw new ManageExistingInvalidReference(snapName, 'Specified snapshot does not exist.', { cause: err });
    throw err;
  }
}

/** unmanage_snapshot: unprotect the snapshot when it is protected and has no clones; it keeps its name. */
export async function unmanageSnapshot(ioctx: IoCtx, volumeName: string, snapName: string): Promise<void> {
  await withImage(ioctx, volumeName, {}, async (img) => {
    await img.setSnap(snapName);
    const children = await img.listChildren();
    await img.setSnap(null);
    if (children.length === 0 && (await img.isProtectedSnap(snapName))) await img.unprotectSnap(snapName);
  });
}

/** Every snapshot of every image of the pool as a manageable entry (upstream's reasons). */
export async function listManageableSnapshots(ioctx: IoCtx, cinderIds: Set<string>, logger: Logger): Promise<ManageableSnapshot[]> {
  const out: ManageableSnapshot[] = [];
  for (const imageName of await Rbd.list(ioctx)) {
    let image: Image;
    try {
      image = await Image.open(ioctx, imageName, { readOnly: true });
    } catch (err) {
      if (!(err instanceof ImageNotFound)) throw err;
      logger.debug(`Image ${imageName} is not found.`);
      continue;
    }
    try {
      for (const snap of await image.listSnaps()) {
        const id = /^snapshot-(.+)/s.exec(snap.name)?.[1] ?? null;
        const entry: ManageableSnapshot = {
          reference: { 'source-name': snap.name },
          size: ceilGiB(snap.size),
          cinder_id: null,
          extra_info: null,
          safe_to_manage: false,
          reason_not_safe: null,
          source_reference: { 'source-name': imageName },
        };
        if (id !== null && cinderIds.has(id)) {
          entry.reason_not_safe = 'already managed';
          entry.cinder_id = id;
        } else if (snap.name.endsWith(CLONE_SNAP_SUFFIX)) {
          entry.reason_not_safe = 'used for clone snap';
        } else if (snap.name.startsWith('backup') && snap.name.includes('.snap.')) {
          entry.reason_not_safe = 'used for volume backup';
        } else {
          entry.safe_to_manage = true;
        }
        out.push(entry);
      }
    } finally {
      await image.close();
    }
  }
  return out;
}
