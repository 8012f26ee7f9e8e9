/**
 * `retype`: which per-image QoS overrides a retype removes (upstream's
 * rules over Cinder's type diff), then `_setup_volume(volume, newType)`.
 */
import type { Logger } from '../logger';
import type { IoCtx } from '../rados';
import { withImage } from '../internal/image';
import type { ReplicationSetup } from './replication';
import type { ModelUpdate, Volume, VolumeType } from './types';
import { QOS_KEY_MAP, checkVolumeType, imageQos, removeQosKeys, setupVolume } from './volume-type';

/** Cinder's volume type diff: each changed key as `[old, new]` (null when absent). */
export interface VolumeTypeDiff {
  encryption?: Record<string, [unknown, unknown]>;
  extra_specs?: Record<string, [string | null, string | null]>;
  qos_specs?: Record<string, [string | null, string | null]>;
}

function pairs(a: Record<string, string> | null | undefined, b: Record<string, string> | null | undefined): Record<string, [string | null, string | null]> {
  const out: Record<string, [string | null, string | null]> = {};
  for (const k of new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])) out[k] = [a?.[k] ?? null, b?.[k] ?? null];
  return out;
}

/** The diff Cinder would pass (`volume_types.volume_types_diff`), for callers that have none. */
export function volumeTypeDiff(oldType: VolumeType | null | undefined, newType: VolumeType | null | undefined): VolumeTypeDiff {
  const diff: VolumeTypeDiff = { extra_specs: pairs(oldType?.extraSpecs, newType?.extraSpecs), encryption: {} };
  const oq = oldType?.qosSpecs;
  const nq = newType?.qosSpecs;
  diff.qos_specs = oq || nq ? { consumer: [oq?.consumer ?? null, nq?.consumer ?? null], ...pairs(oq?.specs, nq?.specs) } : {};
  return diff;
}

/**
 * Upstream's removal rules: a consumer turning front-end drops every QoS key
 * the diff names; otherwise a key is dropped when the image has a non-default
 * value and the new type does not set it (absent from the diff, or `[old, null]`).
 */
export function qosKeysToRemove(qosDiff: Record<string, [string | null, string | null]>, current: Record<string, string>): string[] {
  const consumer = qosDiff.consumer;
  if (consumer && consumer[1] === 'front-end' && consumer[0] !== 'front-end') return Object.keys(qosDiff).filter((k) => k in QOS_KEY_MAP);
  const remove: string[] = [];
  for (const [key, option] of Object.entries(QOS_KEY_MAP)) {
    const value = Number.parseInt(current[option] ?? '0', 10);
    const change = qosDiff[key];
    if (!change || change[1] === null) {
      if (value !== 0) remove.push(key);
    }
  }
  return remove;
}

/** `retype(context, volume, new_type, diff, host)`: always done in place (`changed: true`). */
export async function retypeVolume(
  ioctx: IoCtx,
  name: string,
  volume: Volume,
  newType: VolumeType | null,
  diff: VolumeTypeDiff | undefined,
  logger: Logger,
  replication?: ReplicationSetup,
): Promise<{ changed: boolean; modelUpdate: ModelUpdate }> {
  checkVolumeType(newType);
  const d = diff ?? volumeTypeDiff(volume.volumeType, newType);
  if (d.qos_specs && Object.keys(d.qos_specs).length > 0) {
    await withImage(ioctx, name, {}, async (img) => removeQosKeys(img, qosKeysToRemove(d.qos_specs ?? {}, await imageQos(img)), logger));
  }
  // New keys are set by _setup_volume (only for a back-end/both consumer).
  return { changed: true, modelUpdate: await setupVolume(ioctx, name, volume, newType, logger, replication) };
}
