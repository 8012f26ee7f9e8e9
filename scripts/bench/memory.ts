/**
 * Part 4 of the bench: peak RSS growth of one streamed upload, in a child
 * process of its own (so nothing else of the bench is in its RSS).
 *
 * The source is a Readable producing fresh 64 KiB Buffers of non-zero
 * data, like an HTTP request body. The child resets the kernel's high-water
 * mark (/proc/self/clear_refs, 5) just before add(), reads VmRSS then, and
 * VmHWM after: growth = VmHWM − VmRSS at the start.
 *
 * Run as a child: node memory.js '<json of ChildArgs>' → one JSON line.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';

import { GlanceStore } from '../../lib';
import { KiB, MiB, secondsSince } from './stats';

const PIECE = 64 * KiB;

interface ChildArgs {
  confFile: string;
  pool: string;
  chunkMiB: number;
  concurrency: number;
  bytes: number;
  /** Announce the size to add() (true) or pass 0 (unknown: resize as it goes). */
  known: boolean;
  name: string;
}

export interface MemoryRun {
  known: boolean;
  baselineMiB: number;
  peakMiB: number;
  growthMiB: number;
  seconds: number;
  mibps: number;
  checksum: string;
  /** Whether the peak could be reset before the upload (clear_refs); else it counts from process start. */
  peakReset: boolean;
}

/** A deterministic pattern of non-zero bytes (xorshift32). */
function pattern(): Buffer {
  const buf = Buffer.allocUnsafe(MiB);
  let x = 0x9e3779b9;
  for (let i = 0; i < buf.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE((x | 0x01010101) >>> 0, i);
  }
  return buf;
}

/** The upload's data: `bytes` bytes in fresh 64 KiB Buffers, each stamped with its index. */
export function dataStream(bytes: number): Readable {
  const src = pattern();
  let off = 0;
  let k = 0;
  return new Readable({
    highWaterMark: PIECE,
    read() {
      if (off >= bytes) {
        this.push(null);
        return;
      }
      const n = Math.min(PIECE, bytes - off);
      const piece = Buffer.allocUnsafe(n);
      const from = (k * PIECE) % src.length;
      src.copy(piece, 0, from, from + n);
      if (n >= 4) piece.writeUInt32LE((k | 0x01000000) >>> 0, 0);
      off += n;
      k++;
      this.push(piece);
    },
  });
}

/** md5 of dataStream(bytes). */
export async function dataMd5(bytes: number): Promise<string> {
  const md5 = createHash('md5');
  for await (const piece of dataStream(bytes)) md5.update(piece as Buffer);
  return md5.digest('hex');
}

function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'latin1'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function child(a: ChildArgs): Promise<MemoryRun> {
  const store = await GlanceStore.open({ pool: a.pool, confFile: a.confFile, chunkSizeMiB: a.chunkMiB, concurrency: a.concurrency, connectTimeoutMs: 120_000 });
  try {
    const source = dataStream(a.bytes);
    let peakReset = true;
    try {
      writeFileSync('/proc/self/clear_refs', '5');
    } catch {
      peakReset = false;
    }
    const baselineMiB = status('VmRSS');
    const t0 = process.hrtime.bigint();
    const res = await store.add(a.name, source, a.known ? a.bytes : 0);
    const seconds = secondsSince(t0);
    const peakMiB = status('VmHWM');
    await store.delete(res.location);
    return { known: a.known, baselineMiB, peakMiB, growthMiB: peakMiB - baselineMiB, seconds, mibps: a.bytes / MiB / seconds, checksum: res.checksum, peakReset };
  } finally {
    await store.close();
  }
}

/** Runs one measured upload in a child process. */
export function runMemory(a: ChildArgs): Promise<MemoryRun> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [__filename, JSON.stringify(a)], { maxBuffer: 1 << 20, timeout: 900_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`memory child failed: ${err.message}\n${stderr}`));
        return;
      }
      const line = stdout.trim().split('\n').pop() ?? '';
      resolve(JSON.parse(line) as MemoryRun);
    });
  });
}

if (require.main === module) {
  child(JSON.parse(process.argv[2] ?? '{}') as ChildArgs).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
