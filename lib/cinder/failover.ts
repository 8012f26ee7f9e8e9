/**
 * Failover and failback of replicated volumes between the configured
 * cluster ('default') and the replication devices, with upstream's steps:
 * `_get_target_config`, `_get_failover_target_config`, `_demote_volumes`
 * (on the active cluster, stopping at the first failure), `_failover_volume`
 * (promote on the target, forced for a volume that was not demoted). What
 * Cinder's volume manager does around the driver call is done here too,
 * since there is no manager: volumes that are not replicated are left out of
 * demote/promote and reported `not-capable` with status 'error' on a
 * failover (untouched on a failback).
 */
import { ImageBusy } from '../errors';
import { withImage } from '../internal/image';
import { errorText, retry, type RetryPolicy } from '../internal/retry';
import type { Logger } from '../logger';
import { Rados, type IoCtx } from '../rados';
import '../rbd-mirror';
import { InvalidReplicationTarget, UnableToFailOver } from './errors';
import type { Resolved } from './options';
import { ReplicationStatus } from './replication';
import type { FailoverResult, Volume, VolumeUpdate } from './types';
import { isReplicatedType } from './volume-type';

/** A cluster the driver can be active on: the configured one ('default') or a replication device. */
export interface ClusterTarget {
  /** 'default' or the device's backendId. */
  backendId: string;
  /** The configured clusterName; a device's is its backendId, as upstream (librados' $cluster, the connection info's cluster_name). */
  clusterName: string;
  confFile?: string;
  user?: string;
  secretUuid?: string;
}

/** Cinder's FAILBACK_SENTINEL. */
export const DEFAULT_BACKEND = 'default';

/** `_get_target_config`: a replication device by id; unset or 'default' is the configured cluster; else InvalidReplicationTarget. */
export function targetConfig(config: Readonly<Resolved>, id: string | undefined): ClusterTarget {
  const device = config.replicationDevices.find((d) => d.backendId === id);
  if (device) {
    return {
      backendId: device.backendId,
      clusterName: device.backendId,
      confFile: device.confFile,
      user: device.user,
      ...(device.secretUuid ? { secretUuid: device.secretUuid } : {}),
    };
  }
  if (id === undefined || id === DEFAULT_BACKEND) {
    return {
      backendId: DEFAULT_BACKEND,
      clusterName: config.clusterName,
      ...(config.confFile ? { confFile: config.confFile } : {}),
      ...(config.user ? { user: config.user } : {}),
      ...(config.secretUuid ? { secretUuid: config.secretUuid } : {}),
    };
  }
  throw new InvalidReplicationTarget(`RBD: Unknown failover target host ${id}.`);
}

/** `_get_failover_target_config`: without an id, a device other than 'default' and the active one. */
export function failoverTarget(config: Readonly<Resolved>, activeBackendId: string, secondaryId: string | undefined): ClusterTarget {
  if (secondaryId !== undefined && typeof secondaryId !== 'string') throw new InvalidReplicationTarget(`RBD: Unknown failover target host ${String(secondaryId)}.`);
  let id = secondaryId;
  if (!id) {
    id = config.replicationDevices.map((d) => d.backendId).find((name) => name !== activeBackendId);
    if (id === undefined) throw new InvalidReplicationTarget('RBD: No available failover target host.');
  }
  return targetConfig(config, id);
}

/** Whether failover handles the volume: its replication_status when given (not 'disabled'/'not-capable', as Cinder's manager), else its type. */
export function isReplicatedVolume(volume: Volume): boolean {
  const status = volume.replicationStatus;
  if (typeof status === 'string' && status !== '') return status !== ReplicationStatus.DISABLED && status !== ReplicationStatus.NOT_CAPABLE;
  return isReplicatedType(volume.volumeType);
}

export interface FailoverContext {
  config: Readonly<Resolved>;
  logger: Logger;
  /** The cluster the driver is active on now. */
  active: ClusterTarget;
}

/** Connects to `target` for one failover step, bounded by replicationConnectTimeoutMs; always shut down after `fn`. */
async function onCluster<T>(ctx: FailoverContext, target: ClusterTarget, fn: (ioctx: IoCtx) => Promise<T>): Promise<T> {
  const timeoutMs = ctx.config.replicationConnectTimeoutMs;
  const rados = await Rados.connect({
    clusterName: target.clusterName,
    ...(target.confFile ? { confFile: target.confFile } : {}),
    ...(target.user ? { clientId: target.user } : {}),
    ...(timeoutMs !== undefined && timeoutMs > 0 ? { timeoutMs } : {}),
  });
  try {
    return await fn(await rados.openIoctx(ctx.config.pool));
  } finally {
    await rados.shutdown().catch((err: unknown) => ctx.logger.debug(`shutdown of the ${target.backendId} connection: ${errorText(err)}`));
  }
}

/** `_demote_volumes`: demotes each volume on the active cluster until the first failure; one result per volume. */
export async function demoteVolumes(ctx: FailoverContext, volumes: Volume[]): Promise<boolean[]> {
  const result: boolean[] = volumes.map(() => false);
  if (volumes.length === 0) return result;
  try {
    await onCluster(ctx, ctx.active, async (ioctx) => {
      for (const [i, volume] of volumes.entries()) {
        const name = volume.name ?? `volume-${volume.id}`;
        try {
          await withImage(ioctx, name, {}, (image) => image.mirrorDemote());
          result[i] = true;
        } catch (err) {
          ctx.logger.debug(`Failed to demote ${name} with error: ${errorText(err)}.`);
          return;
        }
      }
    });
  } catch (err) {
    ctx.logger.debug(`cannot reach ${ctx.active.backendId} to demote volumes: ${errorText(err)}`);
  }
  return result;
}

/**
 * `_failover_volume` for every volume: promote on `remote` (forced when not
 * demoted), ImageBusy retried as upstream (rados_connection_retries /
 * interval: a demoted image answers EBUSY until its peer's rbd-mirror has
 * replayed the demotion). Success: `replication_status`; failure: status
 * 'error', previous_status, 'failover-error'.
 */
async function promoteVolumes(ctx: FailoverContext, remote: ClusterTarget, volumes: Volume[], demoted: boolean[], status: string): Promise<VolumeUpdate[]> {
  const policy: RetryPolicy = { retries: ctx.config.connectionRetries, intervalMs: ctx.config.connectionIntervalMs };
  const failed = (volume: Volume): VolumeUpdate => ({
    volume_id: volume.id,
    updates: { status: 'error', previous_status: volume.status ?? null, replication_status: ReplicationStatus.FAILOVER_ERROR },
  });
  const out: VolumeUpdate[] = [];
  try {
    await onCluster(ctx, remote, async (ioctx) => {
      for (const [i, volume] of volumes.entries()) {
        const name = volume.name ?? `volume-${volume.id}`;
        try {
          await retry(policy, (e) => e instanceof ImageBusy, () => withImage(ioctx, name, {}, (image) => image.mirrorPromote({ force: !demoted[i] })));
          out.push({ volume_id: volume.id, updates: { replication_status: status } });
        } catch (err) {
          ctx.logger.error(`Failed to failover volume ${name} with error: ${errorText(err)}.`);
          out.push(failed(volume));
        }
      }
    });
  } catch (err) {
    ctx.logger.error(`cannot reach ${remote.backendId} to promote volumes: ${errorText(err)}`);
    for (const volume of volumes.slice(out.length)) out.push(failed(volume));
  }
  return out;
}

/**
 * `failover(volumes, secondaryId)`: the replicated volumes are demoted on
 * the active cluster where it answers, then promoted on the target. Resolves
 * the target's backend id and one update per volume, in the order given.
 */
export async function failoverVolumes(ctx: FailoverContext, volumes: Volume[], secondaryId: string | undefined): Promise<FailoverResult> {
  if (ctx.config.replicationDevices.length === 0) throw new UnableToFailOver('RBD: Replication is not enabled.');
  const failback = secondaryId === DEFAULT_BACKEND;
  const status = failback ? ReplicationStatus.ENABLED : ReplicationStatus.FAILED_OVER;
  const remote = failoverTarget(ctx.config, ctx.active.backendId, secondaryId);
  ctx.logger.info(`RBD driver failover started (${ctx.active.backendId} -> ${remote.backendId}).`);
  const replicated = volumes.filter(isReplicatedVolume);
  const demoted = await demoteVolumes(ctx, replicated);
  const promoted = await promoteVolumes(ctx, remote, replicated, demoted, status);
  const byId = new Map(promoted.map((u) => [u.volume_id, u]));
  const volumeUpdates = volumes.map((volume): VolumeUpdate => {
    const update = byId.get(volume.id);
    if (update && isReplicatedVolume(volume)) return update;
    // Not replicated: Cinder's manager errors it on a failover and leaves it on a failback.
    if (failback) return { volume_id: volume.id, updates: {} };
    return { volume_id: volume.id, updates: { status: 'error', previous_status: volume.status ?? null, replication_status: ReplicationStatus.NOT_CAPABLE } };
  });
  ctx.logger.info('RBD driver failover completed.');
  return { activeBackendId: remote.backendId, volumeUpdates, groupUpdates: [] };
}
