/**
 * What the driver reads from the monitors. Capacity figures for
 * get_volume_stats: the `df` and
 * `osd pool get-quota` mon commands with Cinder's arithmetic, and the
 * provisioned size of every image in the pool for non-exclusive pools.
 */
import { ImageNotFound } from '../errors';
import { errorText } from '../internal/retry';
import type { ClusterSession } from '../internal/session';
import type { IoCtx, Rados } from '../rados';
import { Image, Rbd } from '../rbd';
import { componentLogger, type Logger } from '../logger';
import { VolumeBackendAPIException } from './errors';
import { DEFAULT_BACKEND } from './failover';
import type { Resolved } from './options';
import type { VolumeStats } from './types';
import { ceilGiB, gib2 } from './util';

/** Whether volumes of a multiattach type get their exclusive-lock features disabled (`_setup_volume`). */
export const SUPPORTS_MULTIATTACH = true;
/** Whether a back-end QoS spec becomes per-image rbd_qos_* overrides (`_setup_volume`). */
export const SUPPORTS_QOS = true;

/** The Cinder RBD driver version this driver matches. */
export const DRIVER_VERSION = '1.3.0';

/**
 * `_update_volume_stats`: Cinder's report; capacities 'unknown' and
 * backend_state 'down' when the cluster cannot be asked. Never throws.
 */
export async function volumeStats(session: ClusterSession, c: Readonly<Resolved>, logger: Logger): Promise<VolumeStats> {
  const stats: VolumeStats = {
    vendor_name: 'Open Source',
    driver_version: DRIVER_VERSION,
    storage_protocol: 'ceph',
    total_capacity_gb: 'unknown',
    free_capacity_gb: 'unknown',
    reserved_percentage: c.reservedPercentage,
    // Only what the driver implements (docs/DESIGN.md#d16-stats-report-implemented-capabilities).
    multiattach: SUPPORTS_MULTIATTACH,
    thin_provisioning_support: true,
    max_over_subscription_ratio: c.maxOverSubscriptionRatio,
    location_info: '',
    backend_state: 'down',
    qos_support: SUPPORTS_QOS && Rbd.version().minor >= 15,
    volume_backend_name: c.volumeBackendName || 'RBD',
    replication_enabled: c.replicationDevices.length > 0,
    // location_info stays the configured cluster (with the active one's fsid), as upstream.
    ...(c.replicationDevices.length > 0 ? { replication_targets: [DEFAULT_BACKEND, ...c.replicationDevices.map((d) => d.backendId)] } : {}),
  };
  try {
    await session.run(async () => {
      const rados = await session.rados();
      await session.fsid();
      const cap = await poolCapacity(rados, c.pool, c.reportDynamicTotalCapacity, logger);
      if (cap !== 'unknown') {
        stats.free_capacity_gb = cap.free;
        stats.total_capacity_gb = cap.total;
      }
      if (!c.exclusivePool) stats.provisioned_capacity_gb = await provisionedGiB(await session.ioctx(c.pool), logger);
      stats.backend_state = 'up';
    });
  } catch (err) {
    logger.error(`error refreshing volume stats: ${errorText(err)}`);
    stats.total_capacity_gb = 'unknown';
    stats.free_capacity_gb = 'unknown';
    delete stats.provisioned_capacity_gb;
    stats.backend_state = 'down';
  }
  // Cinder writes Python's str(None) for an unset user here.
  stats.location_info = `${c.clusterName}:${c.confFile ?? ''}:${session.knownFsid ?? ''}:${c.user ?? 'None'}:${c.pool}`;
  return stats;
}

/** `_get_mon_addrs`: hosts and ports (strings) of the monitors from `mon dump`. */
export async function monAddrs(rados: Rados): Promise<{ hosts: string[]; ports: string[] }> {
  const reply = await rados.monCommand({ prefix: 'mon dump', format: 'json' });
  if (reply.status !== 0) throw new VolumeBackendAPIException(`mon dump failed: ${reply.outs} (${reply.status})`);
  return parseMonDump(reply.outbuf.toString('utf8'));
}

interface DfPoolStats {
  stored?: number;
  bytes_used: number;
  max_avail: number;
}

/** (free, total) in GiB with two decimals, or 'unknown' when a mon command answers non-zero. */
export async function poolCapacity(
  rados: Rados,
  pool: string,
  dynamicTotal: boolean,
  logger: Logger,
): Promise<{ free: number; total: number } | 'unknown'> {
  const df = await rados.monCommand({ prefix: 'df', format: 'json' });
  if (df.status !== 0) {
    logger.warn('Unable to get rados pool stats.');
    return 'unknown';
  }
  const quota = await rados.monCommand({ prefix: 'osd pool get-quota', pool, format: 'json' });
  if (quota.status !== 0) {
    logger.warn('Unable to get rados pool quotas.');
    return 'unknown';
  }
  return capacityFrom(df.outbuf.toString('utf8'), quota.outbuf.toString('utf8'), pool, dynamicTotal, logger);
}

/**
 * Cinder's capacity arithmetic over the JSON of `df` and `osd pool
 * get-quota`: used = the pool's `stored` (else `bytes_used`); with a byte
 * quota, total = quota and free = max(min(quota - used, max_avail), 0);
 * without, total = the cluster's total_bytes and free = max_avail; with a
 * dynamic total, total = free + used. GiB with two decimals.
 */
export function capacityFrom(dfJson: string, quotaJson: string, pool: string, dynamicTotal: boolean, logger: Logger = componentLogger('cinder')): { free: number; total: number } | 'unknown' {
  const dfData = JSON.parse(dfJson) as { stats: { total_bytes: number }; pools: Array<{ name: string; stats: DfPoolStats }> };
  const poolEntry = dfData.pools.find((p) => p.name === pool);
  if (!poolEntry) {
    logger.warn(`pool ${pool} is not in the df output`);
    return 'unknown';
  }
  const stats = poolEntry.stats;
  const used = stats.stored ?? stats.bytes_used;
  const bytesQuota = (JSON.parse(quotaJson) as { quota_max_bytes: number }).quota_max_bytes;
  let total: number;
  let free: number;
  if (bytesQuota) {
    // With a quota the total is the quota and free is what is left of it.
    total = bytesQuota;
    free = Math.max(Math.min(total - used, stats.max_avail), 0);
  } else {
    // Without one: free is the pool's max_avail, total the cluster's size.
    total = dfData.stats.total_bytes;
    free = stats.max_avail;
  }
  if (dynamicTotal) total = free + used;
  return { free: gib2(free), total: gib2(total) };
}

/** `_get_usage_info`: ceil GiB of the sum of the sizes of all images in the pool. */
export async function provisionedGiB(ioctx: IoCtx, logger: Logger): Promise<number> {
  let total = 0;
  for (const name of await Rbd.list(ioctx)) {
    try {
      const image = await Image.open(ioctx, name, { readOnly: true });
      try {
        total += await image.size();
      } finally {
        await image.close();
      }
    } catch (err) {
      if (!(err instanceof ImageNotFound)) throw err;
      logger.debug(`Image ${name} is not found.`);
    }
  }
  return ceilGiB(total);
}

/** Parses `mon dump --format=json` output as Cinder does (a leading "dumped monmap epoch" line dropped). */
export function parseMonDump(text: string): { hosts: string[]; ports: string[] } {
  let lines = text.split('\n');
  if ((lines[0] ?? '').startsWith('dumped monmap epoch')) lines = lines.slice(1);
  const monmap = JSON.parse(lines.join('\n')) as { mons: Array<{ addr?: string; public_addrs?: { addrvec?: Array<{ addr: string }> } }> };
  const hosts: string[] = [];
  const ports: string[] = [];
  for (const mon of monmap.mons) {
    const addr = mon.addr ?? `${mon.public_addrs?.addrvec?.[0]?.addr ?? ''}/0`;
    const slash = addr.lastIndexOf('/');
    const hostPort = slash >= 0 ? addr.slice(0, slash) : addr;
    const colon = hostPort.lastIndexOf(':');
    hosts.push(hostPort.slice(0, colon).replace(/^\[+|\]+$/g, ''));
    ports.push(hostPort.slice(colon + 1));
  }
  return { hosts, ports };
}
