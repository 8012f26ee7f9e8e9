/**
 * The cluster the benchmark measures against: its own micro cluster
 * (scripts/micro-osd.sh, memstore sized for the run), or the one CEPH_CONF
 * names. Knows the daemons' pids so runs can account for their CPU.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { Rados } from '../../lib';
import { secondsSince } from './stats';

const run = promisify(execFile);

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
const microOsd = path.join(repoRoot, 'scripts', 'micro-osd.sh');

export interface BenchCluster {
  confFile: string;
  pool: string;
  /** Whether the bench started it (and stops it). */
  own: boolean;
  /** Seconds the start took (0 for a given cluster). */
  startSeconds: number;
  memstoreBytes: number | null;
  /** Pids of the cluster's daemons on this machine (empty when unknown). */
  daemonPids(): number[];
  stop(): Promise<void>;
}

/** The daemons' pids, from the pid files in the conf's `run dir` (micro-osd.sh writes them). */
function pidsFromConf(confFile: string): number[] {
  let runDir: string | undefined;
  try {
    const m = /^\s*run[ _]dir\s*=\s*(\S+)/m.exec(readFileSync(confFile, 'utf8'));
    runDir = m?.[1];
  } catch {
    return [];
  }
  if (!runDir || !existsSync(runDir)) return [];
  const pids: number[] = [];
  for (const f of readdirSync(runDir)) {
    if (!f.endsWith('.pid')) continue;
    const pid = Number.parseInt(readFileSync(path.join(runDir, f), 'utf8').trim(), 10);
    if (Number.isSafeInteger(pid) && existsSync(`/proc/${pid}`)) pids.push(pid);
  }
  return pids;
}

/** Checks that the pool exists (a clear message instead of ENOENT halfway through). */
async function checkPool(confFile: string, pool: string): Promise<void> {
  await using cluster = await Rados.connect({ confFile, timeoutMs: 30_000 });
  const pools = await cluster.listPools();
  if (!pools.includes(pool)) throw new Error(`pool '${pool}' does not exist in the cluster of ${confFile} (pools: ${pools.join(', ')}); use --pool`);
}

/**
 * Uses CEPH_CONF when set; otherwise starts a micro cluster in `dir` with
 * `memstoreBytes` of memstore and pool `pool`.
 */
export async function openCluster(o: { dir: string; memstoreBytes: number; pool: string; log: (line: string) => void }): Promise<BenchCluster> {
  const given = process.env.CEPH_CONF;
  if (given) {
    o.log(`using the cluster in CEPH_CONF=${given} (pool ${o.pool})`);
    await checkPool(given, o.pool);
    return { confFile: given, pool: o.pool, own: false, startSeconds: 0, memstoreBytes: null, daemonPids: () => pidsFromConf(given), stop: async () => undefined };
  }
  o.log(`starting a micro cluster in ${o.dir} (memstore ${(o.memstoreBytes / 2 ** 30).toFixed(2)} GiB, pool ${o.pool}) ...`);
  const t0 = process.hrtime.bigint();
  const stop = async () => {
    await run('bash', [microOsd, 'stop', o.dir, '--purge'], { maxBuffer: 16 << 20 }).catch((err: unknown) => {
      o.log(`stopping the micro cluster failed: ${(err as Error).message}`);
    });
  };
  const poolArgs = o.pool === 'rbd' ? [] : ['--pool', o.pool];
  // A start that fails (e.g. a mon command refused during the first
  // monmap's race, 'wrong fsid') is retried twice from scratch.
  for (let attempt = 1; ; attempt++) {
    try {
      await run('bash', [microOsd, 'start', o.dir, '--memstore-bytes', String(o.memstoreBytes), ...poolArgs], { maxBuffer: 16 << 20 });
      break;
    } catch (err) {
      await stop();
      if (attempt >= 3) throw err;
      const why = /error: .*|wrong fsid|!= [0-9a-f-]{36}/.exec(String((err as { stderr?: string }).stderr ?? ''))?.[0] ?? (err as Error).message.split('\n')[0];
      o.log(`cluster start failed (${why}); trying again (${attempt + 1}/3)`);
    }
  }
  const confFile = path.join(o.dir, 'ceph.conf');
  const startSeconds = secondsSince(t0);
  o.log(`cluster up in ${startSeconds.toFixed(1)} s`);
  return { confFile, pool: o.pool, own: true, startSeconds, memstoreBytes: o.memstoreBytes, daemonPids: () => pidsFromConf(confFile), stop };
}
