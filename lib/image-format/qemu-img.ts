/**
 * qemu-img as a child process: `info --output=json` under a resource limit
 * (as Cinder runs it: 1 GiB of address space, 30 s of CPU, so a hostile
 * header cannot make it eat the host) and `convert` with progress. Paths are
 * always made absolute, so a file name is never read as a qemu protocol
 * ('rbd:', 'nbd:', 'json:'); an RBD image is given as an `RbdTarget`. An
 * abort through `signal` kills the child (SIGKILL), waits for it to exit and
 * removes what this call created, then rejects with AbortError.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, open, unlink } from 'node:fs/promises';
import * as path from 'node:path';

import { QemuImgFailed, QemuImgMissing } from './errors';
import { AbortError } from '../errors';
import { invalidType, invalidValue, outOfRange } from '../validate';

/** The limits `qemuImgInfo` runs under (Cinder's QEMU_IMG_LIMITS). */
export const QEMU_IMG_INFO_LIMITS = { addressSpaceBytes: 1024 ** 3, cpuSeconds: 30 } as const;

/** qemu driver names qemuImgInfo may be told (`-f`) and qemuImgConvert reads from. */
export const QEMU_SOURCE_FORMATS: readonly string[] = ['raw', 'qcow2', 'vmdk', 'vpc', 'vhdx', 'vdi'];

/** An RBD image as a qemu block target (Debian's qemu-block-extra provides the driver). */
export interface RbdTarget {
  pool: string;
  image: string;
  namespace?: string;
  /** Snapshot to read from (source only). */
  snapshot?: string;
  /** ceph.conf path; default: librados' search path. */
  confFile?: string;
  /** Client id without 'client.' (e.g. 'cinder'); default 'admin'. */
  id?: string;
  /** Keyring path. Keys are never put on a command line. */
  keyring?: string;
}

export interface QemuImgBaseOptions {
  signal?: AbortSignal;
  /** The qemu-img program: a name looked up in PATH or a path. Default 'qemu-img'. */
  qemuImgPath?: string;
}

/** What `qemu-img info --output=json` says about an image. */
export interface QemuImgInfo {
  /** qemu's format name (vpc for vhd). */
  format: string;
  virtualSize: number;
  actualSize: number | null;
  clusterSize: number | null;
  /** The backing file named in the image, or null. */
  backingFile: string | null;
  /** qcow2: the external data file, or null. */
  dataFile: string | null;
  /** vmdk: the createType, or null. */
  createType: string | null;
  encrypted: boolean;
  dirty: boolean;
  /** The `format-specific` object as qemu printed it, or null. */
  formatSpecific: { type: string; data: Record<string, unknown> } | null;
}

export interface QemuImgInfoOptions extends QemuImgBaseOptions {
  /** qemu format name to open the file as (`-f`); default: let qemu probe (what Cinder does). */
  format?: string;
}

export interface QemuImgConvertOptions extends QemuImgBaseOptions {
  /** qemu format of the source: always given, qemu never probes here. */
  srcFormat: string;
  /** Output format. */
  dstFormat: 'raw' | 'qcow2';
  /** Called with the percentage done (0–100) and 100, from qemu-img's `-p` output. */
  onProgress?: (done: number, total: number) => void;
  /** qemu-img's `-W` (out-of-order writes) with `-m` coroutines (1–16). Default: off (in order). */
  parallel?: number;
}

const STDERR_KEEP = 64 * 1024;
const STDOUT_MAX = 4 << 20;

function isRbdTarget(value: unknown): value is RbdTarget {
  return typeof value === 'object' && value !== null && typeof (value as RbdTarget).pool === 'string' && typeof (value as RbdTarget).image === 'string';
}

/** Backslash-escapes the characters qemu's rbd: filename parser splits on (names: / @ :, option values: :). */
function rbdEscape(value: string, name: string, option = false): string {
  if (value === '' || value.includes('\0')) throw invalidValue(name, 'a non-empty string without NUL', value);
  return value.replace(option ? /[\\:]/g : /[\\:@/]/g, (c) => `\\${c}`);
}

/** The `rbd:` filename qemu understands for a target. */
export function rbdTargetString(target: RbdTarget): string {
  if (!isRbdTarget(target)) throw invalidType('target', 'an RbdTarget ({ pool, image, … })', target);
  let spec = `rbd:${rbdEscape(target.pool, 'target.pool')}/`;
  if (target.namespace !== undefined) spec += `${rbdEscape(target.namespace, 'target.namespace')}/`;
  spec += rbdEscape(target.image, 'target.image');
  if (target.snapshot !== undefined) spec += `@${rbdEscape(target.snapshot, 'target.snapshot')}`;
  if (target.id !== undefined) spec += `:id=${rbdEscape(target.id, 'target.id', true)}`;
  if (target.confFile !== undefined) spec += `:conf=${rbdEscape(path.resolve(target.confFile), 'target.confFile', true)}`;
  if (target.keyring !== undefined) spec += `:keyring=${rbdEscape(path.resolve(target.keyring), 'target.keyring', true)}`;
  return spec;
}

/** A local file as qemu must see it: absolute, so no protocol prefix is ever parsed. */
function localPath(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw invalidType(name, 'a non-empty path string or an RbdTarget', value);
  if (value.includes('\0')) throw invalidValue(name, 'a path without NUL', value);
  return path.resolve(value);
}

async function findProgram(program: string): Promise<string | null> {
  const candidates = program.includes('/') ? [program] : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, program));
  for (const candidate of candidates) {
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return null;
}

/** The absolute path of qemu-img, or QemuImgMissing. */
export async function resolveQemuImg(qemuImgPath = 'qemu-img'): Promise<string> {
  if (typeof qemuImgPath !== 'string' || qemuImgPath === '') throw invalidType('qemuImgPath', 'a non-empty string', qemuImgPath);
  const found = await findProgram(qemuImgPath);
  if (found === null) throw new QemuImgMissing(qemuImgPath);
  return found;
}

interface RunResult {
  stdout: string;
}

interface RunOptions {
  signal?: AbortSignal;
  limit?: boolean;
  onStdout?: (chunk: string) => void;
}

/** argv (program first) with Cinder's limits: prlimit(1) when installed, else the shell's ulimit. */
async function limited(program: string, args: string[]): Promise<string[]> {
  const { addressSpaceBytes, cpuSeconds } = QEMU_IMG_INFO_LIMITS;
  const prlimit = await findProgram('prlimit');
  if (prlimit !== null) return [prlimit, `--as=${addressSpaceBytes}`, `--cpu=${cpuSeconds}`, '--', program, ...args];
  return ['/bin/sh', '-c', `ulimit -v ${addressSpaceBytes / 1024} && ulimit -t ${cpuSeconds} && exec "$0" "$@"`, program, ...args];
}

/** Runs qemu-img; rejects with QemuImgFailed, QemuImgMissing or AbortError. */
async function run(program: string, args: string[], options: RunOptions): Promise<RunResult> {
  const { signal } = options;
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  const argv = options.limit ? await limited(program, args) : [program, ...args];
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    let overflow = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (options.onStdout) options.onStdout(chunk);
      else if (stdout.length + chunk.length > STDOUT_MAX) overflow = true;
      else stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
    });
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) reject(new AbortError(undefined, { cause: signal.reason }));
      else if (spawnError?.code === 'ENOENT') reject(new QemuImgMissing(program, { cause: spawnError }));
      else if (spawnError) reject(new QemuImgFailed(args, null, null, stderr, `could not start: ${spawnError.message}`));
      else if (code !== 0) reject(new QemuImgFailed(args, code, sig, stderr));
      else if (overflow) reject(new QemuImgFailed(args, code, sig, stderr, `printed more than ${STDOUT_MAX} bytes`));
      else resolve({ stdout });
    });
  });
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Turns qemu-img's JSON into QemuImgInfo; anything off-shape is a QemuImgFailed. */
export function parseQemuImgInfo(json: string, args: readonly string[] = ['info']): QemuImgInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new QemuImgFailed(args, 0, null, '', 'printed output that is not JSON');
  }
  const o = (typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const format = str(o.format);
  const virtualSize = num(o['virtual-size']);
  if (format === null || virtualSize === null) throw new QemuImgFailed(args, 0, null, '', 'printed JSON without format or virtual-size');
  const fs = o['format-specific'] as { type?: unknown; data?: unknown } | undefined;
  const formatSpecific =
    typeof fs === 'object' && fs !== null && typeof fs.type === 'string' && typeof fs.data === 'object' && fs.data !== null
      ? { type: fs.type, data: fs.data as Record<string, unknown> }
      : null;
  return {
    format,
    virtualSize,
    actualSize: num(o['actual-size']),
    clusterSize: num(o['cluster-size']),
    backingFile: str(o['backing-filename']) ?? str(o['full-backing-filename']),
    dataFile: str(formatSpecific?.data['data-file']),
    createType: str(formatSpecific?.data['create-type']),
    encrypted: o.encrypted === true,
    dirty: o['dirty-flag'] === true,
    formatSpecific,
  };
}

function checkSignal(signal: unknown): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidType('options.signal', 'an AbortSignal', signal);
}

/**
 * `qemu-img info --output=json [-f format] PATH` under QEMU_IMG_INFO_LIMITS.
 * Run it only on a file the inspector has passed: opening a qcow2 with an
 * external data file, or a vmdk with extents, makes qemu open those files.
 */
export async function qemuImgInfo(file: string, options: QemuImgInfoOptions = {}): Promise<QemuImgInfo> {
  const target = localPath(file, 'path');
  checkSignal(options.signal);
  if (options.format !== undefined && !QEMU_SOURCE_FORMATS.includes(options.format)) throw invalidValue('options.format', `one of ${QEMU_SOURCE_FORMATS.join(', ')}`, options.format);
  const program = await resolveQemuImg(options.qemuImgPath);
  const args = ['info', '--output=json', ...(options.format ? ['-f', options.format] : []), target];
  const { stdout } = await run(program, args, { signal: options.signal, limit: true });
  return parseQemuImgInfo(stdout, args);
}

/** Parses `(12.34/100%)` progress lines from `qemu-img convert -p`. */
function progressParser(onProgress: (done: number, total: number) => void): (chunk: string) => void {
  let pending = '';
  return (chunk) => {
    pending = (pending + chunk).slice(-256);
    const matches = [...pending.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
    if (matches.length === 0) return;
    pending = pending.slice((matches[matches.length - 1].index ?? 0) + matches[matches.length - 1][0].length);
    onProgress(Math.min(100, Number(matches[matches.length - 1][1])), 100);
  };
}

/**
 * `qemu-img convert -f SRC_FORMAT -O DST_FORMAT SRC DST`. A file destination
 * must not exist: it is created (exclusively) by this call and removed if
 * the conversion fails or is aborted. An RbdTarget destination must exist
 * and be large enough (`-n`: qemu writes into it and never creates or
 * removes it). The source format is always given, never probed.
 */
export async function qemuImgConvert(src: string | RbdTarget, dst: string | RbdTarget, options: QemuImgConvertOptions): Promise<void> {
  if (typeof options !== 'object' || options === null) throw invalidType('options', 'an object with srcFormat and dstFormat', options);
  const { srcFormat, dstFormat, onProgress, parallel } = options;
  if (typeof srcFormat !== 'string' || !QEMU_SOURCE_FORMATS.includes(srcFormat)) throw invalidValue('options.srcFormat', `one of ${QEMU_SOURCE_FORMATS.join(', ')}`, srcFormat);
  if (dstFormat !== 'raw' && dstFormat !== 'qcow2') throw invalidValue('options.dstFormat', "'raw' or 'qcow2'", dstFormat);
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalidType('options.onProgress', 'a function', onProgress);
  if (parallel !== undefined && (!Number.isInteger(parallel) || parallel < 1 || parallel > 16)) throw outOfRange('options.parallel', 'an integer from 1 to 16', parallel);
  checkSignal(options.signal);
  const source = isRbdTarget(src) ? rbdTargetString(src) : localPath(src, 'src');
  const dstIsRbd = isRbdTarget(dst);
  const target = dstIsRbd ? rbdTargetString(dst) : localPath(dst, 'dst');
  const program = await resolveQemuImg(options.qemuImgPath);
  if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });

  const args = ['convert', '-f', srcFormat, '-O', dstFormat];
  if (onProgress) args.push('-p');
  if (parallel !== undefined) args.push('-W', '-m', String(parallel));
  if (dstIsRbd) args.push('-n');
  args.push(source, target);
  if (!dstIsRbd) await (await open(target, 'wx')).close();
  try {
    await run(program, args, { signal: options.signal, onStdout: onProgress ? progressParser(onProgress) : () => undefined });
  } catch (err) {
    if (!dstIsRbd) await unlink(target).catch(() => undefined);
    throw err;
  }
}
