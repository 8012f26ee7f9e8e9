/**
 * Id-based reads of the Cinder layer: volume and snapshot names from ids,
 * and what the pool says about a volume (size, parent, snapshots, features,
 * watchers), so a stateless service needs nothing but ids.
 */
import { ImageNotFound } from '../errors';
import { withImage } from '../internal/image';
import type { IoCtx } from '../rados';
import { type Image, Rbd } from '../rbd';
import { checkRbdName } from '../validate';
import { CLONE_SNAP_SUFFIX, DELETED_SUFFIX } from './clone-chain';
import { SnapshotNotFound, VolumeNotFound } from './errors';

export const VOLUME_PREFIX = 'volume-';
export const SNAPSHOT_PREFIX = 'snapshot-';

/** Cinder's volume_name_template: `volume-<id>` (the id validated: no '/', '@', NUL, not empty, not too long). */
export function volumeName(id: string): string {
  return `${VOLUME_PREFIX}${checkRbdName(id, 'volumeId', VOLUME_PREFIX)}`;
}

/** Cinder's snapshot_name_template: `snapshot-<id>` (the id validated like volumeName's). */
export function snapshotName(id: string): string {
  return `${SNAPSHOT_PREFIX}${checkRbdName(id, 'snapshotId', SNAPSHOT_PREFIX)}`;
}

/** One snapshot of a volume. */
export interface SnapshotInfo {
  /** The Cinder snapshot id when the name is `snapshot-<id>`, else null (backup or clone snapshots). */
  id: string | null;
  name: string;
  /** The volume's size when the snapshot was taken, in bytes. */
  sizeBytes: number;
  protected: boolean;
  createdAt: Date;
  /** Images cloned from this snapshot, as `pool/name`. */
  children: string[];
}

/** What getVolume() reports. */
export interface VolumeInfo {
  id: string;
  /** `volume-<id>`. */
  name: string;
  pool: string;
  /** Size in GiB, rounded up (Cinder's unit). */
  size: number;
  sizeBytes: number;
  /** `pool/image@snapshot` of the clone parent, or null. */
  parent: string | null;
  /** Feature bits (RBD_FEATURE_*). */
  features: number;
  /** Clients that have the image open (hypervisors). */
  watchers: Array<{ address: string; id: number; cookie: number }>;
  snapshots: SnapshotInfo[];
}

const GiB = 1024 ** 3;

async function snapshotsOf(image: Image): Promise<SnapshotInfo[]> {
  const out: SnapshotInfo[] = [];
  for (const s of await image.listSnaps()) {
    let children: string[] = [];
    try {
      await image.setSnap(s.name);
      children = (await image.listChildren()).map((c) => `${c.pool}/${c.image}`);
    } finally {
      await image.setSnap(null);
    }
    out.push({
      id: s.name.startsWith(SNAPSHOT_PREFIX) ? s.name.slice(SNAPSHOT_PREFIX.length) : null,
      name: s.name,
      sizeBytes: s.size,
      protected: s.protected,
      createdAt: new Date(s.timestampMs),
      children,
    });
  }
  return out;
}

/** The volume with id `id`; VolumeNotFound when its image does not exist. */
export async function readVolume(ioctx: IoCtx, pool: string, id: string): Promise<VolumeInfo> {
  const name = volumeName(id);
  try {
    return await withImage(ioctx, name, { readOnly: true }, async (img) => {
      const sizeBytes = await img.size();
      let parent: string | null = null;
      try {
        const p = await img.parentInfo();
        parent = `${p.pool}/${p.image}@${p.snapshot}`;
      } catch (err) {
        if (!(err instanceof ImageNotFound)) throw err;
      }
      return {
        id,
        name,
        pool,
        size: Math.ceil(sizeBytes / GiB),
        sizeBytes,
        parent,
        features: await img.features(),
        watchers: await img.listWatchers(),
        snapshots: await snapshotsOf(img),
      };
    });
  } catch (err) {
    if (err instanceof ImageNotFound) throw new VolumeNotFound(name, { cause: err, pool });
    throw err;
  }
}

/** The ids of the pool's Cinder volumes (`volume-<id>` images, not the hidden `.deleted` ones), sorted. */
export async function readVolumeIds(ioctx: IoCtx): Promise<string[]> {
  return (await Rbd.list(ioctx))
    .filter((n) => n.startsWith(VOLUME_PREFIX) && !n.endsWith(DELETED_SUFFIX))
    .map((n) => n.slice(VOLUME_PREFIX.length))
    .sort();
}

/** The snapshots of volume `volumeId` (Cinder's and the driver's own `.clone_snap`/backup ones). */
export async function readSnapshots(ioctx: IoCtx, pool: string, volumeId: string): Promise<SnapshotInfo[]> {
  const name = volumeName(volumeId);
  try {
    return await withImage(ioctx, name, { readOnly: true }, snapshotsOf);
  } catch (err) {
    if (err instanceof ImageNotFound) throw new VolumeNotFound(name, { cause: err, pool });
    throw err;
  }
}

/** One Cinder snapshot (`snapshot-<snapId>`) of volume `volumeId`; VolumeNotFound / SnapshotNotFound. */
export async function readSnapshot(ioctx: IoCtx, pool: string, volumeId: string, snapId: string): Promise<SnapshotInfo> {
  const snap = snapshotName(snapId);
  const found = (await readSnapshots(ioctx, pool, volumeId)).find((s) => s.name === snap);
  if (!found) throw new SnapshotNotFound(`${volumeName(volumeId)}@${snap}`, { pool });
  return found;
}

/** Cinder's user snapshots of a volume (not the backup or `.clone_snap` ones the driver manages itself). */
export function isUserSnapshot(name: string, backupRe: RegExp): boolean {
  return !backupRe.test(name) && !name.endsWith(CLONE_SNAP_SUFFIX);
}
