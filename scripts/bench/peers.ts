/**
 * The peers this library is measured against, each a separate process on
 * the same cluster and input: `rbd import` (no hashing), `rbd bench` (the
 * cluster's ceiling for a write pattern) and Python's rbd bindings used the
 * way Glance uses them (python_upload.py). Every peer runs with
 * rbd_cache=false, as the library's store does.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { statFields } from './cpu';
import { repoRoot } from './cluster';
import { secondsSince } from './stats';

export const PYTHON = '/usr/bin/python3';
const pythonScript = path.join(repoRoot, 'scripts', 'bench', 'python_upload.py');
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
export function runMeasured(cmd: string, args: string[], timeoutMs = 600_000): Promise<ToolRun> {
  const script = '"$@"; rc=$?; echo "@@STAT $(cat /proc/$$/stat)" >&2; exit $rc';
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
