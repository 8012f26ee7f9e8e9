/**
 * Back-end assisted migration (upstream migrate_volume and
 * update_migrated_volume): a move inside the same pool only changes the
 * host; to another pool of the same cluster the image is copied and the
 * source deleted; anything else falls back to Cinder's generic migration
 * (`moved: false`).
 */
import { ImageExists, ImageNotFound } from '../errors';
import { withImage } from '../internal/image';
import { errorText } from '../internal/retry';
import type { ClusterSession } from '../internal/session';
import type { Logger } from '../logger';
import { Rbd } from '../rbd';
import { VolumeMigrationFailed } from './errors';
import type { VolumeRef } from './options';
import type { ModelUpdate, Volume } from './types';

/** The destination host as Cinder passes it: its capabilities from get_volume_stats. */
export interface MigrationHost {
  host?: string;
  capabilities: { storage_protocol?: string; location_info?: string; [key: string]: unknown };
}

const MIGRATABLE = ['available', 'retyping', 'maintenance', 'in-use'];

/**
 * migrate_volume's decision table. `deleteVolume` removes the source after
 * a cross-pool copy (its failure is VolumeMigrationFailed; the copy stays).
 */
export async function migrateVolume(
  session: ClusterSession,
  pool: string,
  logger: Logger,
  v: VolumeRef,
  volume: Volume,
  host: MigrationHost,
  deleteVolume: () => Promise<void>,
): Promise<{ moved: boolean; modelUpdate?: ModelUpdate }> {
  const refuse = { moved: false };
  if (!MIGRATABLE.includes(volume.status ?? '')) {
    logger.debug('Only available or in-use volumes can be migrated using backend assisted migration. Falling back to generic migration.');
    return refuse;
  }
  const caps = host?.capabilities;
  if (!caps || caps.storage_protocol !== 'ceph') {
    logger.debug('Source and destination drivers need to be RBD to use backend assisted migration. Falling back to generic migration.');
    return refuse;
  }
  const loc = caps.location_info;
  if (!loc) {
    logger.debug('Could not find location_info in capabilities reported by the destination driver. Falling back to generic migration.');
    return refuse;
  }
  const parts = String(loc).split(':');
  if (parts.length !== 5) {
    logger.error(`Location info needed for backend enabled volume migration not in correct format: ${loc}. Falling back to generic volume migration.`);
    return refuse;
  }
  const [, , fsid, , targetPool] = parts as [string, string, string, string, string];
  // docs/DESIGN.md#d20-migration-reuses-the-connection: same fsid = same cluster, reached over this connection.
  if (fsid !== (await session.fsid())) {
    logger.info('Migration between clusters is not supported. Falling back to generic migration.');
    return refuse;
  }
  if (targetPool === pool) {
    logger.debug("Migration in the same pool, just need to update volume's host value to destination host.");
    return { moved: true };
  }
  if (volume.status === 'in-use') {
    logger.debug('Migration in-use volume between different pools. Falling back to generic migration.');
    return refuse;
  }
  const source = await session.ioctx(pool);
  const target = await session.ioctx(targetPool);
  try {
    await withImage(source, v.name, { readOnly: true }, (img) => img.copy(target, v.name));
  } catch (err) {
    logger.error(`Error copying rbd image ${v.name} to target pool ${targetPool}: ${errorText(err)}`);
    if (!(err instanceof ImageExists)) await Rbd.remove(target, v.name).catch(() => undefined);
    throw err;
  }
  try {
    await deleteVolume();
  } catch (err) {
    throw new VolumeMigrationFailed(`Failed to delete migration source volume ${v.id}.`, { cause: err });
  }
  logger.info('Successful RBD assisted volume migration.');
  return { moved: true };
}

/**
 * update_migrated_volume: renames `volume-<new id>` back to `volume-<id>`;
 * an in-use volume (or a failed rename) keeps the new name (`_name_id`).
 */
export async function updateMigratedVolume(
  session: ClusterSession,
  pool: string,
  logger: Logger,
  volume: Volume,
  newVolume: Volume,
  originalStatus: string,
): Promise<ModelUpdate> {
  const keep = { _name_id: newVolume.id, provider_location: newVolume.providerLocation ?? null };
  if (originalStatus === 'in-use') return keep;
  const ioctx = await session.ioctx(pool);
  try {
    await Rbd.rename(ioctx, `volume-${newVolume.id}`, `volume-${volume.id}`);
  } catch (err) {
    if (!(err instanceof ImageNotFound) && !(err instanceof ImageExists)) throw err;
    logger.error(`Unable to rename the logical volume for volume ${volume.id}.`);
    return keep;
  }
  return { _name_id: null, provider_location: null };
}
