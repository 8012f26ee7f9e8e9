/**
 * `ceph-rbd volume failover`: Cinder's failover_host from the shell. The
 * replication devices are given as `--replication-device ID=CONF`; the
 * volumes are every Cinder volume of the pool on the target cluster whose
 * mirroring is enabled there (or those named with --volume), plus the
 * volumes of the active cluster that are not mirrored, when it answers
 * (reported, never touched).
 */
import type { Command } from 'commander';

import { DELETED_SUFFIX } from '../cinder/clone-chain';
import { RbdVolumeDriver } from '../cinder/driver';
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

function devices(specs: string[] | undefined): ReplicationDevice[] {
  return (specs ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--replication-device must be ID=CONF (the secondary's ceph.conf), got '${spec}'`);
    return { backendId: spec.slice(0, eq), confFile: spec.slice(eq + 1) };
  });
}

/** The Cinder volumes of `pool` on the cluster of `conf`, each with its mirroring state there as replication_status. */
async function volumesOn(conf: string | undefined, user: string | undefined, pool: string, timeoutMs: number | undefined): Promise<Volume[]> {
  const rados = await Rados.connect({ ...(conf ? { confFile: conf } : {}), ...(user ? { clientId: user } : {}), ...(timeoutMs ? { timeoutMs } : {}) });
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
  const replicationDevices = devices(opts.replicationDevice);
  if (replicationDevices.length === 0) throw new UsageError('volume failover needs at least one --replication-device ID=CONF');
  const timeoutMs = opts.replicationTimeout === undefined ? undefined : opts.replicationTimeout * 1000;
  const driver = await RbdVolumeDriver.open({
    ...driverOptions(t, opts.pool),
    replicationDevices,
    ...(opts.active !== undefined ? { activeBackendId: opts.active } : {}),
    ...(timeoutMs !== undefined ? { replicationConnectTimeoutMs: timeoutMs } : {}),
  });
  try {
    const active = driver.activeBackendId;
    const conf = (id: string): string | undefined => (id === 'default' ? t.confFile : replicationDevices.find((d) => d.backendId === id)?.confFile);
    const to = opts.to ?? replicationDevices.map((d) => d.backendId).find((id) => id !== active);
    if (to === undefined || (to !== 'default' && conf(to) === undefined)) throw new UsageError(`--to must be 'default' or a --replication-device id, got '${String(opts.to)}'`);
    if (to === active) throw new UsageError(`the driver is already active on '${to}' (give --active for where it is now)`);
    let volumes = await volumesOn(conf(to), t.clientId, opts.pool, t.timeoutMs);
    const mirrored = new Set(volumes.filter((v) => v.replicationStatus === 'enabled').map((v) => v.id));
    volumes = volumes.filter((v) => mirrored.has(v.id));
    try {
      // The active site's plain volumes are reported (not-capable), never touched.
      const local = await volumesOn(conf(active), t.clientId, opts.pool, timeoutMs ?? 5000);
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
    .option('--replication-device <id=conf>', 'a secondary cluster: its backend id and ceph.conf (repeatable)', collect)
    .option('--volume <id>', 'only this volume (repeatable; default: every volume of the pool)', collect)
    .option('--replication-timeout <seconds>', 'bound of each demote/promote connection (replication_connect_timeout; default 5)', parseInteger(0, 3600))
    .action((opts: FailoverOpts, cmd: Command) => failover(commonOptions(cmd), opts, driverOptions));
}
