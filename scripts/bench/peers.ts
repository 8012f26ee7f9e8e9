/**
 * The peers this library is measured against, each a separate process on
 * the same cluster and input: `rbd import` and `rbd export` (no hashing),
 * `rbd bench` (the cluster's ceiling for a write pattern), Python's rbd
 * bindings used the way Glance uses them (python_upload.py), and the real
 * thing: Debian's glance_store RBD driver (glance_store_peer.py). Every
 * peer runs with rbd_cache=false, as the library's store does.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { statFields } from './cpu';
import { repoRoot } from './cluster';
import { secondsSince } from './stats';

export const PYTHON = '/usr/bin/python3';
const pythonScript = path.join(repoRoot, 'scripts', 'bench', 'python_upload.py');
const glanceStoreScript = path.join(repoRoot, 'scripts', 'bench', 'glance_store_peer.py');
/** The Debian package of the real peer; the bench installs it when missing (not the library's bootstrap). */
export const GLANCE_STORE_PACKAGE = 'python3-glance-store';
/** The cephx id glance_store connects as (rbd_store_user): the bench's clients use the default, admin. */
const RADOS_ID = 'admin';
/** The peers' client configuration (the store's: no librbd cache). */
const NO_CACHE = ['--rbd_cache=false'];

export interface ToolRun {
  stdout: string;
  stderr: string;
  /** Wall time of the whole process, start and connect included. */
  wallSeconds: number;
  /** CPU seconds the process used (user + system, all threads). */
  cpuSeconds: number;
}

/**
 * Runs a command and measures its wall time and CPU time: a shell waits for
 * it and prints its own /proc stat, whose cutime/cstime then hold the
 * command's CPU time.
 */
export function runMeasured(cmd: string, args: string[], timeoutMs = 600_000, o: { stdoutToNull?: boolean } = {}): Promise<ToolRun> {
  const script = `"$@"${o.stdoutToNull ? ' > /dev/null' : ''}; rc=$?; echo "@@STAT $(cat /proc/$$/stat)" >&2; exit $rc`;
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', script, 'sh', cmd, ...args], { maxBuffer: 64 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      const wallSeconds = secondsSince(t0);
      if (err) {
        reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr.replace(/^@@STAT.*$/m, '').trim()}`));
        return;
      }
      const m = /^@@STAT (.*)$/m.exec(stderr);
      const cpuSeconds = m ? statFields(m[1]).children : Number.NaN;
      resolve({ stdout, stderr: stderr.replace(/^@@STAT.*\n?/m, ''), wallSeconds, cpuSeconds });
    });
  });
}

/** `rbd import` of `file` as a format-2 image with 2^order-byte objects. */
export async function rbdImport(conf: string, pool: string, name: string, file: string, order: number): Promise<ToolRun> {
  return runMeasured('rbd', ['--conf', conf, ...NO_CACHE, 'import', '--no-progress', '--image-format', '2', '--object-size', String(2 ** order), file, `${pool}/${name}`]);
}

/** What a CLI call costs before it does any work: process start, config, connect (`rbd ls`). */
export async function rbdStartup(conf: string, pool: string): Promise<ToolRun> {
  return runMeasured('rbd', ['--conf', conf, ...NO_CACHE, 'ls', pool]);
}

export interface RbdBenchResult extends ToolRun {
  opsPerSec: number;
  /** Bytes per second, from ops/sec × io size. */
  bytesPerSec: number;
}

/** `rbd bench` on an existing image; the rate is rbd bench's own (its start and connect excluded). */
export async function rbdBench(
  conf: string,
  pool: string,
  name: string,
  o: { ioType: 'write' | 'read'; ioSize: number; threads: number; pattern: 'seq' | 'rand'; total: number },
): Promise<RbdBenchResult> {
  const r = await runMeasured('rbd', [
    '--conf', conf, ...NO_CACHE, 'bench',
    '--io-type', o.ioType, '--io-size', String(o.ioSize), '--io-threads', String(o.threads),
    '--io-pattern', o.pattern, '--io-total', String(o.total), `${pool}/${name}`,
  ]);
  const m = /ops\/sec:\s*([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`rbd bench printed no ops/sec:\n${r.stdout}`);
  const opsPerSec = Number(m[1]);
  return { ...r, opsPerSec, bytesPerSec: opsPerSec * o.ioSize };
}

/** Python's rbd bindings: `ops` random 4 KiB aio_write/aio_read with `qd` in flight (python_upload.py smallio). */
export async function pythonSmallIo(conf: string, pool: string, name: string, op: 'randwrite' | 'randread', qd: number, ops: number): Promise<ToolRun & { opsPerSec: number }> {
  const r = await runMeasured(PYTHON, [pythonScript, 'smallio', conf, pool, name, op, String(qd), String(ops)]);
  return { ...r, opsPerSec: (JSON.parse(r.stdout) as { opsPerSec: number }).opsPerSec };
}

/** Whether Debian's python3 can import the rados and rbd modules; the reason when not. */
export function pythonPeerAvailable(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} not found` };
  const r = spawnSync(PYTHON, ['-c', 'import rados, rbd'], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, reason: `${PYTHON} cannot import rados/rbd (apt-get install python3-rados python3-rbd): ${(r.stderr || '').trim().split('\n').pop()}` };
  return { ok: true };
}

export interface PythonUpload extends ToolRun {
  /** Seconds from create to protect, as the script times it (connect excluded). */
  seconds: number;
  bytes: number;
  md5: string;
  sha512: string;
}

/** Python's rbd bindings writing `file` sequentially with hashlib md5 + sha512 (Glance's loop). */
export async function pythonUpload(conf: string, pool: string, name: string, file: string, chunk: number, order: number): Promise<PythonUpload> {
  const r = await runMeasured(PYTHON, [pythonScript, 'upload', conf, pool, name, file, String(chunk), String(order)]);
  const out = JSON.parse(r.stdout) as { seconds: number; bytes: number; md5: string; sha512: string };
  return { ...r, ...out };
}

/** Calls per second of Python's image.size() and a cached 4 KiB image.read(). */
export async function pythonCalls(conf: string, pool: string, name: string, seconds: number): Promise<{ size: number; read4k: number }> {
  const r = await runMeasured(PYTHON, [pythonScript, 'calls', conf, pool, name, String(seconds)]);
  return JSON.parse(r.stdout) as { size: number; read4k: number };
}

/** `rbd export` of `image@snap` to a null sink (stdout to /dev/null). */
export async function rbdExport(conf: string, pool: string, image: string, snap: string): Promise<ToolRun> {
  return runMeasured('rbd', ['--conf', conf, ...NO_CACHE, 'export', '--no-progress', `${pool}/${image}@${snap}`, '-'], 600_000, { stdoutToNull: true });
}

/** md5 of what `rbd export` of `image@snap` writes (the check run, not timed). */
export function rbdExportMd5(conf: string, pool: string, image: string, snap: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('rbd', ['--conf', conf, ...NO_CACHE, 'export', '--no-progress', `${pool}/${image}@${snap}`, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const md5 = createHash('md5');
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => md5.update(b));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(md5.digest('hex')) : reject(new Error(`rbd export failed (${code}): ${stderr.trim()}`))));
  });
}

/** Whether Debian's python3 can import glance_store's RBD driver; the reason when not. */
export function glanceStoreAvailable(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} not found` };
  const r = spawnSync(PYTHON, ['-c', 'import glance_store._drivers.rbd, rados, rbd'], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, reason: `${PYTHON} cannot import glance_store (apt-get install ${GLANCE_STORE_PACKAGE}): ${(r.stderr || '').trim().split('\n').pop()}` };
  return { ok: true };
}

/**
 * Makes the real peer importable: when glance_store is missing and apt-get
 * can be used (root), installs python3-glance-store (after an `apt-get
 * update` if the first try fails). Returns whether it is available, and why not.
 */
export function ensureGlanceStore(log: (line: string) => void): { ok: true } | { ok: false; reason: string } {
  const first = glanceStoreAvailable();
  if (first.ok || !existsSync(PYTHON)) return first;
  if (!existsSync('/usr/bin/apt-get')) return { ok: false, reason: `${first.reason}; no apt-get to install it` };
  if (process.getuid?.() !== 0) return { ok: false, reason: `${first.reason}; not root, so the bench does not install it` };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another apt user holding the dpkg lock: wait for it (up to 5 min) rather than fail.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const install = () => spawnSync('apt-get', [...lock, 'install', '-y', '--no-install-recommends', GLANCE_STORE_PACKAGE], { encoding: 'utf8', env, timeout: 600_000 });
  log(`glance_store is not importable: installing ${GLANCE_STORE_PACKAGE} with apt-get`);
  let r = install();
  if (r.status !== 0) {
    log('apt-get install failed; running apt-get update and trying once more');
    spawnSync('apt-get', [...lock, 'update'], { encoding: 'utf8', env, timeout: 600_000 });
    r = install();
  }
  if (r.status !== 0) return { ok: false, reason: `apt-get install ${GLANCE_STORE_PACKAGE} failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}` };
  return glanceStoreAvailable();
}

/** The peers' versions: the Debian package (dpkg-query), glance_store's own and Python's. */
export function glanceStoreVersions(): { package: string; glanceStore: string; python: string } {
  const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', GLANCE_STORE_PACKAGE], { encoding: 'utf8' });
  const v = spawnSync(PYTHON, [glanceStoreScript, 'version'], { encoding: 'utf8' });
  let parsed: { glance_store?: string; python?: string } = {};
  try {
    parsed = JSON.parse(v.stdout) as typeof parsed;
  } catch {
    // the versions stay '?'
  }
  return { package: dpkg.status === 0 ? `${GLANCE_STORE_PACKAGE} ${dpkg.stdout.trim()}` : '?', glanceStore: parsed.glance_store ?? '?', python: parsed.python ?? '?' };
}

/** Timed steps of one glance_store call, from glance_store_peer.py (null when a step did not happen). */
export interface GlanceStoreSteps {
  /** Seconds in Rados.connect (the driver connects in every call). */
  connectSeconds: number;
  /** create → first write. */
  setupSeconds: number | null;
  /** first write → snapshot create: the streaming part. */
  dataSeconds: number | null;
  /** snapshot create → protected. */
  finishSeconds: number | null;
}

export interface GlanceStoreAdd extends ToolRun, GlanceStoreSteps {
  /** The whole Store.add() call. */
  seconds: number;
  bytes: number;
  md5: string;
  sha512: string;
  location: string;
}

/** Debian's glance_store `Store.add()` of `file` (md5 + sha512), with chunk size `chunkMiB` (rbd_store_chunk_size). */
export async function glanceStoreAdd(conf: string, pool: string, chunkMiB: number, name: string, file: string): Promise<GlanceStoreAdd> {
  const r = await runMeasured(PYTHON, [glanceStoreScript, 'add', conf, pool, RADOS_ID, String(chunkMiB), name, file]);
  const out = JSON.parse(r.stdout) as Omit<GlanceStoreAdd, keyof ToolRun>;
  return { ...r, ...out };
}

export interface GlanceStoreGet extends ToolRun {
  /** From Store.get() to the last chunk. */
  seconds: number;
  bytes: number;
  connectSeconds: number;
  md5: string | null;
}

/** Debian's glance_store `Store.get()` of `location`, drained into a null sink (md5 of the data with `md5`). */
export async function glanceStoreGet(conf: string, pool: string, chunkMiB: number, location: string, md5 = false): Promise<GlanceStoreGet> {
  const r = await runMeasured(PYTHON, [glanceStoreScript, 'get', conf, pool, RADOS_ID, String(chunkMiB), location, ...(md5 ? ['md5'] : [])]);
  const out = JSON.parse(r.stdout) as Omit<GlanceStoreGet, keyof ToolRun>;
  return { ...r, ...out };
}
