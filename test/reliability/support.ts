/**
 * Shared pieces of the reliability suites (test/reliability/*.test.ts, the
 * long runs, and test/integration/reliability-short.test.ts): throwaway
 * clusters and their daemons by pid, process figures (fds, RSS), checksums,
 * the error classes a call may end with, and the figures table.
 */
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { AbortError, CephError, CinderError, GlanceStoreError, HandleClosedError, type IoCtx, type Rados, Rbd } from '../../lib';
import { microOsd, repoRoot, startCluster, type StartedCluster } from '../helpers/cluster';

const run = promisify(execFile);
export { sleep };
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;


// ---- process figures --------------------------------------------------------

/** Open file descriptors of this process. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Resident set size in MiB (now, and the peak so far: VmHWM). */
export function rssMiB(): { now: number; peak: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Samples RSS every `everyMs` until stopped; resolves the peak seen (MiB). */
export function rssSampler(everyMs = 100): { stop(): number } {
  let peak = rssMiB().now;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB().now);
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMiB().now);
    },
  };
}

// ---- clusters and daemons ---------------------------------------------------

/** A throwaway cluster for a fault test, with its daemons' pids. */
export class FaultCluster {
  private constructor(readonly started: StartedCluster) {}

  static async start(args: string[]): Promise<FaultCluster> {
    return new FaultCluster(await startCluster(args));
  }

  get dir(): string {
    return this.started.dir;
  }

  get confFile(): string {
    return this.started.confFile;
  }

  /** Daemon name → pid, from DIR/run/*.pid, only pids that still run this cluster's conf. */
  daemons(): Map<string, number> {
    const out = new Map<string, number>();
    const runDir = path.join(this.dir, 'run');
    for (const f of readdirSync(runDir)) {
      if (!f.endsWith('.pid')) continue;
      const pid = Number(readFileSync(path.join(runDir, f), 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 1) continue;
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      // The same check micro-osd.sh makes: a ceph daemon started with this cluster's conf.
      if (/^\S*ceph-(mon|mgr|osd)\0/.test(cmdline) && cmdline.split('\0').includes(this.confFile)) out.set(f.slice(0, -4), pid);
    }
    return out;
  }

  /** Sends `signal` to the daemons whose names match (by pid; never by name). */
  signal(signal: NodeJS.Signals, match: (name: string) => boolean = () => true): string[] {
    const hit: string[] = [];
    for (const [name, pid] of this.daemons()) {
      if (!match(name)) continue;
      process.kill(pid, signal);
      hit.push(name);
    }
    return hit;
  }

  async killOsd(id: number): Promise<void> {
    await run('bash', [microOsd, 'kill-osd', this.dir, String(id)]);
  }

  /** Continues every daemon (in case a test stopped them), then stops and removes the cluster. */
  async stop(): Promise<void> {
    try {
      this.signal('SIGCONT');
    } catch {
      // already gone
    }
    await this.started.stop();
  }

  /** Runs a ceph CLI tool against this cluster. */
  async cli(tool: 'rbd' | 'rados' | 'ceph', args: string[]): Promise<string> {
    const { stdout } = await run(tool, ['--conf', this.confFile, ...args], { maxBuffer: 64 << 20 });
    return stdout;
  }

  /** MD5 of `rbd export <spec> -`, streamed (never held in memory). */
  exportMd5(spec: string): Promise<{ md5: string; bytes: number }> {
    return new Promise((resolve, reject) => {
      const child = spawn('rbd', ['--conf', this.confFile, 'export', spec, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const hash = createHash('md5');
      let bytes = 0;
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        hash.update(b);
        bytes += b.length;
      });
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve({ md5: hash.digest('hex'), bytes }) : reject(new Error(`rbd export ${spec}: exit ${code}: ${stderr}`))));
    });
  }
}

/** The cluster's fsid as the monitors know it. */
export async function monFsid(cluster: Rados): Promise<string> {
  const reply = await cluster.monCommand({ prefix: 'fsid', format: 'json' });
  return (JSON.parse(reply.outbuf.toString()) as { fsid: string }).fsid;
}

/** Sets a pool option through the monitors (e.g. size, min_size). */
export async function poolSet(cluster: Rados, pool: string, key: string, value: string): Promise<void> {
  const reply = await cluster.monCommand({ prefix: 'osd pool set', pool, var: key, val: value });
  assert.equal(reply.status, 0, `osd pool set ${pool} ${key} ${value}: ${reply.outs}`);
}

/** Waits until every PG is active+clean (or only `active` when `activeOnly`). */
export async function waitForPgs(cluster: Rados, timeoutMs = 60_000, activeOnly = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const reply = await cluster.monCommand({ prefix: 'status', format: 'json' });
      const s = JSON.parse(reply.outbuf.toString()) as { pgmap: { num_pgs: number; pgs_by_state?: Array<{ state_name: string; count: number }> } };
      const states = s.pgmap.pgs_by_state ?? [];
      last = states.map((x) => `${x.count} ${x.state_name}`).join(', ');
      const good = states
        .filter((x) => (activeOnly ? x.state_name.split('+').includes('active') && !/peering|activating|unknown/.test(x.state_name) : x.state_name === 'active+clean'))
        .reduce((n, x) => n + x.count, 0);
      if (s.pgmap.num_pgs > 0 && good === s.pgmap.num_pgs) return;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`PGs not ${activeOnly ? 'active' : 'active+clean'} after ${timeoutMs} ms: ${last}`);
    await sleep(250);
  }
}

/** Whether the OSD map flags `pool` full (or full_quota). */
export async function poolFlaggedFull(cluster: Rados, pool: string): Promise<boolean> {
  const reply = await cluster.monCommand({ prefix: 'osd dump', format: 'json' });
  const dump = JSON.parse(reply.outbuf.toString()) as { pools: Array<{ pool_name: string; flags_names: string }> };
  return (dump.pools.find((p) => p.pool_name === pool)?.flags_names ?? '').split(',').some((f) => f === 'full' || f === 'full_quota');
}

/** What a pool holds: image names, trash entries and RADOS object names. */
export async function poolContents(ioctx: IoCtx): Promise<{ images: string[]; trash: string[]; objects: string[] }> {
  return {
    images: (await Rbd.list(ioctx)).sort(),
    trash: (await Rbd.trashList(ioctx)).map((t) => t.name).sort(),
    objects: (await ioctx.listObjects()).map((o) => o.oid).sort(),
  };
}

/** A test-unique name. */
export function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

// ---- data ----------------------------------------------------------------------

/**
 * `total` bytes of random data in `piece`-byte Buffers, hashed (MD5) as they
 * are handed out; `onPiece` runs before each piece (the fault injector).
 */
export function randomSource(total: number, piece: number, onPiece?: (sent: number) => void | Promise<void>): { source: AsyncGenerator<Buffer>; md5(): string } {
  const hash = createHash('md5');
  async function* gen(): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < total; ) {
      await onPiece?.(sent);
      const n = Math.min(piece, total - sent);
      const buf = randomBytes(n);
      hash.update(buf);
      sent += n;
      yield buf;
    }
  }
  return { source: gen(), md5: () => hash.digest('hex') };
}

export function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

// ---- the error contract -----------------------------------------------------------

/**
 * The error contract of the public API: argument errors are TypeError or
 * RangeError with Node's codes (or the drivers' "Expected …" text), and
 * everything else is one of the library's own classes. A TypeError from a
 * bug (e.g. "Cannot read properties of undefined") breaks it.
 */
export function contractViolation(err: unknown): string | null {
  if (err instanceof CephError || err instanceof HandleClosedError || err instanceof GlanceStoreError || err instanceof CinderError || err instanceof AbortError) return null;
  if (err instanceof TypeError || err instanceof RangeError) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_')) return null;
    if (/^Expected /.test(err.message)) return null;
    return `${err.name} without a code: ${err.message}`;
  }
  return `unexpected ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : typeof err}`;
}

/** Whether the error is an argument error (the call failed validation). */
export function isArgumentError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError;
}

// ---- figures ------------------------------------------------------------------------

export interface Figure {
  suite: 'short' | 'long';
  test: string;
  tried: string;
  held: string;
  figures: Record<string, string | number>;
}

/**
 * Records a row of the figures table: printed, and appended as JSON lines to
 * $RELIABILITY_FIGURES (default test-results/reliability-figures.jsonl: outside dist/, which every build empties) for
 * docs/RELIABILITY.md.
 */
export function recordFigure(f: Figure): void {
  const file = process.env.RELIABILITY_FIGURES ?? path.join(repoRoot, 'test-results', 'reliability-figures.jsonl');
  mkdirSync(path.dirname(file), { recursive: true });
  const line = JSON.stringify({ at: new Date().toISOString(), ...f });
  appendFileSync(file, `${line}\n`);
  const figs = Object.entries(f.figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  process.stdout.write(`      [figure] ${f.test}: ${f.held} (${figs})\n`);
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
