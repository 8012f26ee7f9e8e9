/**
 * Which way is faster to turn a qcow2 into an RBD volume:
 *   A. `qemu-img convert -O raw` straight into `rbd:pool/image` (in order),
 *   B. the same with qemu-img's out-of-order writes (`-W -m 8`),
 *   C. `qemu-img convert -O raw` into a temp file, then a pipelined write of
 *      that file into the image (Image.aioWrite, 8 MiB chunks, 4 in flight).
 *
 *   CEPH_CONF=… node dist/scripts/image-convert-bench.js [--size MiB] [--reps N] [--pool NAME] [--dir DIR]
 *
 * The input is a qcow2 made by qemu-img from a raw file whose every block
 * holds data (no holes: the worst case for a copy). Prints one line per run
 * and a summary; times are wall clock, in seconds.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

import { Image, Rados, Rbd, type IoCtx } from '../lib';
import { qemuImgConvert } from '../lib/image-format';

const MiB = 1024 * 1024;

function arg(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}

/** A raw file of `size` bytes, every 4 KiB block different and non-zero. */
function makeRaw(file: string, size: number): void {
  const chunk = Buffer.alloc(8 * MiB);
  const fd = openSync(file, 'w');
  try {
    for (let at = 0; at < size; at += chunk.length) {
      for (let b = 0; b < chunk.length; b += 4096) chunk.writeDoubleLE(Math.random() + at + b + 1, b);
      writeSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes a local file into an open image: `chunk`-sized aioWrites, `depth` in flight. */
async function pipelinedWrite(file: string, image: Image, chunk = 8 * MiB, depth = 4): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    let next = 0;
    const worker = async (): Promise<void> => {
      const buf = Buffer.allocUnsafe(chunk);
      while (next < size) {
        const offset = next;
        next += chunk;
        const len = Math.min(chunk, size - offset);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        await image.aioWrite(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead), offset);
      }
    };
    await Promise.all(Array.from({ length: depth }, worker));
    await image.aioFlush();
  } finally {
    await fh.close();
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main(): Promise<void> {
  const confFile = process.env.CEPH_CONF;
  if (!confFile) throw new Error('set CEPH_CONF to a cluster with enough room for the volume');
  const size = Number(arg('size', '1024')) * MiB;
  const reps = Number(arg('reps', '3'));
  const pool = arg('pool', 'rbd');
  const dir = mkdtempSync(path.join(arg('dir', os.tmpdir()), 'image-convert-bench-'));
  const rados = await Rados.connect({ confFile });
  let ioctx: IoCtx | undefined;
  try {
    ioctx = await rados.openIoctx(pool);
    const raw = path.join(dir, 'input.raw');
    const qcow2 = path.join(dir, 'input.qcow2');
    makeRaw(raw, size);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
    rmSync(raw);
    const results: Record<string, number[]> = { 'A rbd: direct': [], 'B rbd: -W -m 8': [], 'C temp file + aioWrite 8MiBx4': [], '  C1 convert to file': [], '  C2 write file to image': [] };
    for (let rep = 0; rep < reps; rep++) {
      for (const method of ['A', 'B', 'C'] as const) {
        const name = `convert-bench-${process.pid}-${method}${rep}`;
        await Rbd.create(ioctx, name, size);
        try {
          if (method === 'C') {
            const tmp = path.join(dir, 'volume.raw');
            const c1 = await timed(() => qemuImgConvert(qcow2, tmp, { srcFormat: 'qcow2', dstFormat: 'raw' }));
            const image = await Image.open(ioctx, name);
            let c2: number;
            try {
              c2 = await timed(() => pipelinedWrite(tmp, image));
            } finally {
              await image.close();
              rmSync(tmp, { force: true });
            }
            results['C temp file + aioWrite 8MiBx4'].push(c1 + c2);
            results['  C1 convert to file'].push(c1);
            results['  C2 write file to image'].push(c2);
            console.log(`rep ${rep} C: ${(c1 + c2).toFixed(2)} s (convert ${c1.toFixed(2)} + write ${c2.toFixed(2)})`);
          } else {
            const t = await timed(() => qemuImgConvert(qcow2, { pool, image: name, confFile }, { srcFormat: 'qcow2', dstFormat: 'raw', ...(method === 'B' ? { parallel: 8 } : {}) }));
            results[method === 'A' ? 'A rbd: direct' : 'B rbd: -W -m 8'].push(t);
            console.log(`rep ${rep} ${method}: ${t.toFixed(2)} s`);
          }
        } finally {
          await Rbd.remove(ioctx, name);
        }
      }
    }
    console.log(`\n${size / MiB} MiB qcow2 -> RBD volume, ${reps} reps (median, MiB/s of the virtual size)`);
    for (const [label, times] of Object.entries(results)) {
      const sorted = [...times].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      console.log(`${label.padEnd(32)} ${median.toFixed(2)} s  ${(size / MiB / median).toFixed(0)} MiB/s   [${times.map((t) => t.toFixed(2)).join(', ')}]`);
    }
  } finally {
    await ioctx?.close();
    await rados.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
