/**
 * `ceph-rbd volume failover`: Cinder's failover_host from the shell. The
 * replication devices are given as `--replication-device ID=CONF` or in
 * Cinder's replication_device form (`backend_id:ID,conf:CONF,user:U,secret_uuid:S`);
 * the volumes are every Cinder volume of the pool on the target cluster whose
 * mirroring is enabled there (or those named with --volume), plus the
 * volumes of the active cluster that are not mirrored, when it answers
 * (reported, never touched).
 */
import type { Command } from 'commander';

import { DELETED_SUFFIX } from '../cinder/clone-chain';
import { RbdVolumeDriver } from '../cinder/driver';
import { type ClusterTarget, targetConfig } from '../cinder/failover';
import { extractIdFromVolumeName } from '../cinder/manage';
import type { FailoverResult, RbdVolumeDriverOptions, ReplicationDevice, Volume } from '../cinder/types';
import { ImageNotFound } from '../errors';
import { withImage } from '../internal/image';
import { errorText } from '../internal/retry';
import { Rados } from '../rados';
import { Rbd } from '../rbd';
import '../rbd-mirror';
import { type CommonOptions, UsageError, collect, commonOptions, output, parseInteger, table, type Target, target } from './common';

interface FailoverOpts {
  pool: string;
  to?: string;
  active?: string;
  replicationDevice?: string[];
  volume?: string[];
  replicationTimeout?: number;
}

/** The keys of Cinder's replication_device option, as ReplicationDevice fields. */
const DEVICE_KEYS: Record<string, keyof ReplicationDevice> = { backend_id: 'backendId', conf: 'confFile', user: 'user', secret_uuid: 'secretUuid' };

const DEVICE_FORMS = "ID=CONF or backend_id:ID[,conf:CONF][,user:USER][,secret_uuid:UUID]";

/** A backend id is a name (Cinder's failover target), not 'default' (the configured cluster). */
function checkId(device: ReplicationDevice, spec: string): ReplicationDevice {
  if (device.backendId === 'default' || /[\s/:]/.test(device.backendId)) {
    throw new UsageError(`--replication-device: the backend id must be a name without spaces, '/' or ':', not 'default', got '${device.backendId}' (in '${spec}')`);
  }
  return device;
}

/**
 * One --replication-device: `ID=CONF` (an '=' before any ':'), else Cinder's
 * replication_device, comma-separated `key:value` pairs (a value runs to
 * the next ',' and may hold ':'). backend_id is required; conf defaults to
 * /etc/ceph/<ID>.conf (as Cinder); user, when not given, is left unset.
 */
export function parseReplicationDevice(spec: string): ReplicationDevice {
  const eq = spec.indexOf('=');
  const colon = spec.indexOf(':');
  if (eq >= 0 && (colon < 0 || eq < colon)) {
    if (eq === 0 || eq === spec.length - 1) throw new UsageError(`--replication-device must be ${DEVICE_FORMS}, got '${spec}'`);
    return checkId({ backendId: spec.slice(0, eq), confFile: spec.slice(eq + 1) }, spec);
  }
  const device: Partial<Record<keyof ReplicationDevice, string>> = {};
  for (const pair of spec.split(',')) {
    const sep = pair.indexOf(':');
    const key = pair.slice(0, sep).trim();
    const value = pair.slice(sep + 1).trim();
    if (sep < 0 || key === '' || value === '') throw new UsageError(`--replication-device must be ${DEVICE_FORMS}: '${pair}' is not key:value (in '${spec}')`);
    const field = Object.hasOwn(DEVICE_KEYS, key) ? DEVICE_KEYS[key] : undefined;
    if (field === undefined) throw new UsageError(`--replication-device: unknown key '${key}' in '${spec}' (known: ${Object.keys(DEVICE_KEYS).join(', ')})`);
    if (device[field] !== undefined) throw new UsageError(`--replication-device: '${key}' given twice in '${spec}'`);
    device[field] = value;
  }
  if (device.backendId === undefined) throw new UsageError(`--replication-device needs backend_id: (${DEVICE_FORMS}), got '${spec}'`);
  return checkId({ ...device, backendId: device.backendId }, spec);
}

/** The --replication-device list; a device without user: gets the command's cephx user (--id, default admin), which volumesOn() uses too. */
export function devices(specs: string[] | undefined, clientId: string | undefined): ReplicationDevice[] {
  return (specs ?? []).map((spec) => {
    const d = parseReplicationDevice(spec);
    return d.user === undefined ? { ...d, user: clientId ?? 'admin' } : d;
  });
}

/** The Cinder volumes of `pool` on the cluster `on` (as the driver connects to it: conf, user, cluster name), each with its mirroring state there as replication_status. */
async function volumesOn(on: ClusterTarget, pool: string, timeoutMs: number | undefined): Promise<Volume[]> {
  const rados = await Rados.connect({
    clusterName: on.clusterName,
    ...(on.confFile ? { confFile: on.confFile } : {}),
    ...(on.user ? { clientId: on.user } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  try {
    const ioctx = await rados.openIoctx(pool);
    const out: Volume[] = [];
    for (const name of await Rbd.list(ioctx)) {
      const id = extractIdFromVolumeName(name);
      if (id === null || name.endsWith(DELETED_SUFFIX)) continue;
      try {
        const state = await withImage(ioctx, name, { readOnly: true }, async (img) => (await img.mirrorGetInfo()).state);
        out.push({ id, name, size: 0, replicationStatus: state === 'enabled' ? 'enabled' : 'disabled', status: 'available' });
      } catch (err) {
        if (!(err instanceof ImageNotFound)) throw err;
      }
    }
    return out;
  } finally {
    await rados.shutdown();
  }
}

async function failover(o: CommonOptions, opts: FailoverOpts, driverOptions: (t: Target, pool: string) => RbdVolumeDriverOptions): Promise<void> {
  const t = target(o);
  const replicationDevices = devices(opts.replicationDevice, t.clientId);
  if (replicationDevices.length === 0) throw new UsageError(`volume failover needs at least one --replication-device ${DEVICE_FORMS}`);
  const timeoutMs = opts.replicationTimeout === undefined ? undefined : opts.replicationTimeout * 1000;
  const driver = await RbdVolumeDriver.open({
    ...driverOptions(t, opts.pool),
    replicationDevices,
    ...(opts.active !== undefined ? { activeBackendId: opts.active } : {}),
    ...(timeoutMs !== undefined ? { replicationConnectTimeoutMs: timeoutMs } : {}),
  });
  try {
    const active = driver.activeBackendId;
    const to = opts.to ?? replicationDevices.map((d) => d.backendId).find((id) => id !== active);
    if (to === undefined || (to !== 'default' && !replicationDevices.some((d) => d.backendId === to))) {
      throw new UsageError(`--to must be 'default' or a --replication-device id, got '${String(opts.to)}'`);
    }
    if (to === active) throw new UsageError(`the driver is already active on '${to}' (give --active for where it is now)`);
    // Where and as whom the driver itself connects (the device's conf, user and cluster name).
    const cluster = (id: string): ClusterTarget => targetConfig(driver.config, id);
    let volumes = await volumesOn(cluster(to), opts.pool, t.timeoutMs);
    const mirrored = new Set(volumes.filter((v) => v.replicationStatus === 'enabled').map((v) => v.id));
    volumes = volumes.filter((v) => mirrored.has(v.id));
    try {
      // The active site's plain volumes are reported (not-capable), never touched.
      const local = await volumesOn(cluster(active), opts.pool, timeoutMs ?? 5000);
      volumes.push(...local.filter((v) => v.replicationStatus !== 'enabled' && !mirrored.has(v.id)));
    } catch (err) {
      process.stderr.write(`ceph-rbd: the active cluster '${active}' does not answer (${errorText(err)}); failing over the mirrored volumes found on '${to}'\n`);
    }
    if (opts.volume !== undefined) {
      const wanted = new Set(opts.volume);
      volumes = volumes.filter((v) => wanted.has(v.id));
      for (const id of wanted) if (!volumes.some((v) => v.id === id)) throw new UsageError(`volume ${id} is not a volume of pool ${opts.pool} on '${to}' or '${active}'`);
    }
    const result: FailoverResult = await driver.failoverHost(volumes, to);
    output(o, { from: active, ...result }, () => [
      `failed over from '${active}' to '${result.activeBackendId}'`,
      ...table(
        ['VOLUME', 'REPLICATION', 'STATUS'],
        result.volumeUpdates.map((u) => [u.volume_id, String(u.updates.replication_status ?? '-'), String(u.updates.status ?? '-')]),
      ),
    ]);
    if (result.volumeUpdates.some((u) => u.updates.replication_status === 'failover-error')) process.exitCode = 1;
  } finally {
    await driver.close();
  }
}

export function registerFailover(leaf: (name: string, description: string) => Command, driverOptions: (t: Target, pool: string) => RbdVolumeDriverOptions): void {
  leaf('failover', "Cinder's failover_host: demote the mirrored volumes where the active cluster answers, promote them on the target (forced when not demoted)")
    .option('--to <id>', "target: a --replication-device id, or 'default' to fail back (default: the first device that is not active)")
    .option('--active <id>', "where the volumes are active now (Cinder's active_backend_id; default 'default')")
    .option(
      '--replication-device <spec>',
      "a secondary cluster (repeatable): ID=CONF, or Cinder's backend_id:ID[,conf:CONF][,user:USER][,secret_uuid:UUID] (conf default /etc/ceph/ID.conf, user default --id)",
      collect,
    )
    .option('--volume <id>', 'only this volume (repeatable; default: every volume of the pool)', collect)
    .option('--replication-timeout <seconds>', 'bound of each demote/promote connection (replication_connect_timeout; default 5)', parseInteger(0, 3600))
    .action((opts: FailoverOpts, cmd: Command) => failover(commonOptions(cmd), opts, driverOptions));
}
