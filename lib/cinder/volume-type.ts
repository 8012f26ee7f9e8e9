/**
 * Volume types: upstream `_setup_volume` and what it applies to a volume's
 * image. QoS specs of a `back-end`/`both` consumer become per-image librbd
 * config overrides (`conf_rbd_qos_*` image metadata, as `rbd config image
 * set` writes them); a multiattach type disables the features that make
 * two hosts fight over the image (exclusive-lock, object-map, fast-diff,
 * journaling) and saves the original features in `provider_location`;
 * a replicated type enables RBD mirroring of the image
 * (lib/cinder/replication.ts).
 */
import { RBD_FEATURE_EXCLUSIVE_LOCK, RBD_FEATURE_FAST_DIFF, RBD_FEATURE_JOURNALING, RBD_FEATURE_OBJECT_MAP } from '../constants';
import { ImageNotFound } from '../errors';
import { withImage } from '../internal/image';
import { errorText } from '../internal/retry';
import type { Logger } from '../logger';
import type { IoCtx } from '../rados';
import { RbdConfig } from '../rbd-config';
import type { Image } from '../rbd';
import { InvalidInput, RBDDriverException, ReplicationError, VolumeBackendAPIException } from './errors';
import { ReplicationStatus, disableReplication, enableReplication, type ReplicationSetup } from './replication';
import type { ModelUpdate, Volume, VolumeType } from './types';

/** Cinder QoS spec key → librbd option (upstream QOS_KEY_MAP; docs/DESIGN.md#d17-qos-total-iops-burst-key). */
export const QOS_KEY_MAP: Readonly<Record<string, string>> = Object.freeze({
  total_iops_sec: 'rbd_qos_iops_limit',
  read_iops_sec: 'rbd_qos_read_iops_limit',
  write_iops_sec: 'rbd_qos_write_iops_limit',
  total_bytes_sec: 'rbd_qos_bps_limit',
  read_bytes_sec: 'rbd_qos_read_bps_limit',
  write_bytes_sec: 'rbd_qos_write_bps_limit',
  total_iops_sec_max: 'rbd_qos_iops_burst',
  read_iops_sec_max: 'rbd_qos_read_iops_burst',
  write_iops_sec_max: 'rbd_qos_write_iops_burst',
  total_bytes_sec_max: 'rbd_qos_bps_burst',
  read_bytes_sec_max: 'rbd_qos_read_bps_burst',
  write_bytes_sec_max: 'rbd_qos_write_bps_burst',
});

/** Features a multiattach volume must not have (upstream MULTIATTACH_EXCLUSIONS). */
export const MULTIATTACH_EXCLUSIONS = RBD_FEATURE_JOURNALING | RBD_FEATURE_FAST_DIFF | RBD_FEATURE_OBJECT_MAP | RBD_FEATURE_EXCLUSIVE_LOCK;

const IS_TRUE = '<is> True';

export function isMultiattachType(type: VolumeType | null | undefined): boolean {
  return type?.extraSpecs?.multiattach === IS_TRUE;
}

export function isReplicatedType(type: VolumeType | null | undefined): boolean {
  return type?.extraSpecs?.replication_enabled === IS_TRUE;
}

/** `_qos_specs_from_volume_type`: the specs when the consumer is `back-end` or `both`, else null. */
export function backEndQosSpecs(type: VolumeType | null | undefined): Record<string, string> | null {
  const qos = type?.qosSpecs;
  if (!qos || (qos.consumer !== 'back-end' && qos.consumer !== 'both')) return null;
  return qos.specs ?? {};
}

/**
 * Refuses a type the driver cannot honour, before anything is created:
 * replication with multiattach (RBDDriverException, as upstream), a
 * back-end QoS value that is not a non-negative integer (InvalidInput).
 */
export function checkVolumeType(type: VolumeType | null | undefined): void {
  if (type === null || type === undefined) return;
  if (typeof type !== 'object') throw new InvalidInput(`volumeType must be an object, got ${typeof type}`);
  const replicated = isReplicatedType(type);
  if (replicated && isMultiattachType(type)) throw new RBDDriverException('Replication and Multiattach are mutually exclusive.');
  const specs = backEndQosSpecs(type);
  for (const [key, value] of Object.entries(specs ?? {})) {
    if (key in QOS_KEY_MAP && !/^\d+$/.test(String(value).trim())) throw new InvalidInput(`QoS spec ${key}=${String(value)} is not a non-negative integer`);
  }
}

/** Sets the librbd option of every known key of `specs` on the open image; unknown keys are logged and skipped. */
export async function applyQos(image: Image, specs: Record<string, string | number>, logger: Logger): Promise<void> {
  for (const [key, value] of Object.entries(specs)) {
    const option = QOS_KEY_MAP[key];
    if (option === undefined) {
      logger.warn(`qos_specs: the requested qos key ${key} does not exist`);
      continue;
    }
    await RbdConfig.imageSet(image, option, String(value).trim());
    logger.debug(`qos_specs: ${key} successfully set to ${String(value)}`);
  }
}

/** The effective value of every rbd_qos_* option of the open image (librbd option name → value). */
export async function imageQos(image: Image): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const o of await RbdConfig.imageList(image)) if (o.name.startsWith('rbd_qos_')) out[o.name] = o.value;
  return out;
}

/** Drops the image overrides of the given Cinder QoS keys (a key not set is fine). */
export async function removeQosKeys(image: Image, keys: Iterable<string>, logger: Logger): Promise<void> {
  for (const key of keys) {
    const option = QOS_KEY_MAP[key];
    if (option === undefined) throw new InvalidInput(`unknown QoS key ${key}`);
    try {
      await RbdConfig.imageRemove(image, option);
      logger.debug(`qos_specs: ${key} was successfully unset`);
    } catch (err) {
      if (!(err instanceof ImageNotFound)) throw err;
    }
  }
}

/** `_enable_multiattach`: drops the exclusions, returns provider_location with the saved features. */
async function enableMultiattach(image: Image): Promise<ModelUpdate> {
  const features = await image.features();
  const change = features & MULTIATTACH_EXCLUSIONS;
  if (change !== 0) await image.updateFeatures(change, false);
  return { provider_location: JSON.stringify({ saved_features: features }) };
}

/** `_disable_multiattach`: restores the excluded features saved in provider_location. */
async function disableMultiattach(image: Image, providerLocation: string | null | undefined): Promise<ModelUpdate> {
  let saved: unknown;
  try {
    saved = (JSON.parse(providerLocation ?? '') as { saved_features?: unknown }).saved_features;
  } catch {
    saved = undefined;
  }
  if (typeof saved !== 'number' || !Number.isSafeInteger(saved)) throw new RBDDriverException('Could not find saved image features.');
  const change = saved & MULTIATTACH_EXCLUSIONS;
  try {
    if (change !== 0) await image.updateFeatures(change, true);
  } catch (err) {
    throw new RBDDriverException(`Failed to restore image features: ${errorText(err)}`, { cause: err });
  }
  return { provider_location: null };
}

/**
 * `_setup_volume(volume, newType?)`: applies the (new) type to the volume's
 * image. Without `newType` the volume's own type is set up from scratch (a
 * create path); with it, the change from the volume's current type (retype).
 * Resolves the model update (`provider_location`, `replication_status`,
 * `replication_driver_data`). Mirroring that cannot be enabled or disabled
 * is ReplicationError (the Ceph error as `cause`).
 */
export async function setupVolume(
  ioctx: IoCtx,
  name: string,
  volume: Volume,
  newType: VolumeType | null | undefined,
  logger: Logger,
  replication: ReplicationSetup = { enabled: false, mode: 'journal' },
): Promise<ModelUpdate> {
  const retyping = newType !== undefined;
  const type = retyping ? newType : volume.volumeType;
  checkVolumeType(type);
  const hadMultiattach = retyping && isMultiattachType(volume.volumeType);
  const wantMultiattach = isMultiattachType(type);
  const hadReplication = retyping && isReplicatedType(volume.volumeType);
  const wantReplication = isReplicatedType(type);
  const specs = backEndQosSpecs(type);
  return withImage(ioctx, name, {}, async (image) => {
    const update: ModelUpdate = {};
    if (specs) {
      try {
        await applyQos(image, specs, logger);
      } catch (err) {
        throw new VolumeBackendAPIException(`Failed to set qos specs for rbd image ${name}, due to ${errorText(err)}.`, { cause: err });
      }
    }
    // A multiattach type going away first gives back the features journaling needs.
    if (!wantMultiattach && hadMultiattach) Object.assign(update, await disableMultiattach(image, volume.providerLocation));
    if (wantReplication && !hadReplication) {
      try {
        Object.assign(update, await enableReplication(image, replication.mode));
      } catch (err) {
        logger.error(`cannot enable mirroring of ${name}: ${errorText(err)}`);
        throw new ReplicationError('Failed to enable image replication', volume.id, { cause: err });
      }
    } else if (!wantReplication && hadReplication) {
      try {
        Object.assign(update, await disableReplication(image, volume.replicationDriverData));
      } catch (err) {
        logger.error(`cannot disable mirroring of ${name}: ${errorText(err)}`);
        throw new ReplicationError('Failed to disable image replication', volume.id, { cause: err });
      }
    } else if (!wantReplication && replication.enabled) {
      update.replication_status = ReplicationStatus.DISABLED;
    }
    // docs/DESIGN.md#d18-multiattach-features-saved-once: a type that stays multiattach keeps the saved features.
    if (wantMultiattach && !hadMultiattach) Object.assign(update, await enableMultiattach(image));
    return update;
  });
}

/** Cinder QoS key → effective value of the image (Cinder's keys, for getRbdImageQos). */
export function qosByCinderKey(byOption: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, option] of Object.entries(QOS_KEY_MAP)) if (option in byOption) out[key] = byOption[option];
  return out;
}

/** Runs `fn` on the open volume image; a missing image is VolumeBackendAPIException with `what` (upstream wording). */
export async function onVolumeImage<T>(ioctx: IoCtx, name: string, what: string, fn: (image: Image) => Promise<T>): Promise<T> {
  try {
    return await withImage(ioctx, name, {}, fn);
  } catch (err) {
    if (err instanceof InvalidInput) throw err;
    throw new VolumeBackendAPIException(`Failed to ${what} for rbd image ${name}, due to ${errorText(err)}.`, { cause: err });
  }
}
