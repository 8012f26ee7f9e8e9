/**
 * Replicated volume types (`replication_enabled='<is> True'`): upstream's
 * `_enable_replication` / `_disable_replication` on a volume's image, and
 * the mirror snapshots snapshot-mode mirroring needs. Journal mode (the
 * default, as upstream) turns on exclusive-lock and journaling when the
 * image lacks them and records what it found in `replication_driver_data`
 * (`{"had_exclusive_lock":B,"had_journaling":B}`, compact sorted JSON), so
 * disabling takes away only what enabling added.
 */
import { RBD_FEATURE_EXCLUSIVE_LOCK, RBD_FEATURE_JOURNALING } from '../constants';
import { ImageNotFound } from '../errors';
import { withImage } from '../internal/image';
import { errorText } from '../internal/retry';
import type { Logger } from '../logger';
import type { IoCtx } from '../rados';
import { Rbd, type Image } from '../rbd';
import { RbdMirror } from '../rbd-mirror';
import { RBDDriverException } from './errors';
import type { ModelUpdate } from './types';

/** Cinder's fields.ReplicationStatus values the driver writes. */
export const ReplicationStatus = Object.freeze({
  ENABLED: 'enabled',
  DISABLED: 'disabled',
  FAILED_OVER: 'failed-over',
  FAILOVER_ERROR: 'failover-error',
  NOT_CAPABLE: 'not-capable',
});

/** How the driver mirrors a replicated type's volumes. */
export interface ReplicationSetup {
  /** replication devices are configured (a non-replicated type then reports replication_status 'disabled', as upstream). */
  enabled: boolean;
  mode: 'journal' | 'snapshot';
}

interface DriverData {
  had_exclusive_lock: boolean;
  had_journaling: boolean;
  mode?: 'snapshot';
}

/** upstream `_dumps`: compact JSON with sorted keys. */
function dumps(obj: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/**
 * `_enable_replication` on the open image. Journal mode: exclusive-lock and
 * journaling on (those it lacked), then mirror enable in journal mode.
 * Snapshot mode: no feature change; mirror enable in snapshot mode (librbd
 * takes the first mirror snapshot); the data records `"mode":"snapshot"`.
 */
export async function enableReplication(image: Image, mode: ReplicationSetup['mode']): Promise<ModelUpdate> {
  const features = await image.features();
  const data: DriverData = {
    had_exclusive_lock: (features & RBD_FEATURE_EXCLUSIVE_LOCK) !== 0,
    had_journaling: (features & RBD_FEATURE_JOURNALING) !== 0,
  };
  if (mode === 'journal') {
    if (!data.had_exclusive_lock) await image.updateFeatures(RBD_FEATURE_EXCLUSIVE_LOCK, true);
    if (!data.had_journaling) await image.updateFeatures(RBD_FEATURE_JOURNALING, true);
  } else {
    data.mode = 'snapshot';
  }
  await image.mirrorEnable(mode);
  return { replication_status: ReplicationStatus.ENABLED, replication_driver_data: dumps({ ...data }) };
}

function parseDriverData(text: string | null | undefined): DriverData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    parsed = undefined;
  }
  const d = parsed as Partial<DriverData> | undefined;
  if (!d || typeof d !== 'object' || typeof d.had_exclusive_lock !== 'boolean' || typeof d.had_journaling !== 'boolean') {
    throw new RBDDriverException(`replication_driver_data ${JSON.stringify(text ?? null)} is not {"had_exclusive_lock":B,"had_journaling":B}`);
  }
  return d as DriverData;
}

/**
 * `_disable_replication` on the open image: mirror disable (not forced),
 * then journaling and exclusive-lock off when enabling added them (and they
 * are still on).
 */
export async function disableReplication(image: Image, driverData: string | null | undefined): Promise<ModelUpdate> {
  const data = parseDriverData(driverData);
  await image.mirrorDisable({ force: false });
  let features = await image.features();
  if (!data.had_journaling && (features & RBD_FEATURE_JOURNALING) !== 0) await image.updateFeatures(RBD_FEATURE_JOURNALING, false);
  features = await image.features();
  if (!data.had_exclusive_lock && (features & RBD_FEATURE_EXCLUSIVE_LOCK) !== 0) await image.updateFeatures(RBD_FEATURE_EXCLUSIVE_LOCK, false);
  return { replication_status: ReplicationStatus.DISABLED, replication_driver_data: null };
}

/** What createMirrorSnapshots() did. */
export interface MirrorSnapshotRound {
  /** Images (by name) that got a new mirror snapshot. */
  created: string[];
  /** Images that could not, with the error. */
  failed: Array<{ name: string; error: Error }>;
}

/**
 * One round of the driver's snapshot-mirroring schedule: a mirror snapshot
 * of every image of the pool that is mirrored in snapshot mode and primary
 * on this cluster (non-primary copies and disabled images are skipped; the
 * pool listing cannot tell primary from non-primary, so each is opened).
 */
export async function createMirrorSnapshots(ioctx: IoCtx, logger: Logger): Promise<MirrorSnapshotRound> {
  const round: MirrorSnapshotRound = { created: [], failed: [] };
  const ids: string[] = [];
  for await (const entry of RbdMirror.imageInfos(ioctx, { mode: 'snapshot' })) if (entry.info.state === 'enabled') ids.push(entry.id);
  const names = new Map((ids.length > 0 ? await Rbd.list2(ioctx) : []).map((e) => [e.id, e.name]));
  for (const id of ids) {
    const name = names.get(id);
    if (name === undefined) continue; // removed meanwhile
    try {
      await withImage(ioctx, name, {}, async (image) => {
        if (!(await image.mirrorGetInfo()).primary) return;
        await image.mirrorCreateSnapshot();
        round.created.push(name);
      });
    } catch (err) {
      if (err instanceof ImageNotFound) continue; // removed meanwhile
      logger.warn(`cannot create a mirror snapshot of ${name}: ${errorText(err)}`);
      round.failed.push({ name, error: err as Error });
    }
  }
  return round;
}
