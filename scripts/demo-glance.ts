/**
 * The Glance part of `npm run demo`: upload a generated 256 MiB image the
 * way Glance stores images (into pool `images`: chunked, MD5 + sha512,
 * protected snapshot `snap`) with the command line, as a user would type it
 * (`ceph-rbd image upload - ID --json`, the data on its stdin, its
 * progress bar on a terminal); then, with the library, read a range back
 * with GlanceStore.get(offset, length), check it, and delete the image.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { GlanceStore, type GlanceAddResult } from '../lib';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const BLOCK = MiB;

/**
 * The demo image, generated on the fly: 1 MiB pieces of one random block,
 * each stamped with its index so no two pieces are alike. Any range can be
 * regenerated to check what get() returns.
 */
function makeImage(): { stream: () => Readable; range: (offset: number, length: number) => Buffer } {
  const seed = randomBytes(BLOCK);
  const block = (i: number): Buffer => {
    const b = Buffer.from(seed);
    b.writeUInt32LE(i, 0);
    b.writeUInt32LE(i, BLOCK / 2);
    return b;
  };
  return {
    stream: () => Readable.from((function* () {
      for (let i = 0; i < SIZE / BLOCK; i++) yield block(i);
    })()),
    range: (offset, length) => {
      const first = Math.floor(offset / BLOCK);
      const last = Math.floor((offset + length - 1) / BLOCK);
      const parts = [];
      for (let i = first; i <= last; i++) parts.push(block(i));
      const start = offset - first * BLOCK;
      return Buffer.concat(parts).subarray(start, start + length);
    },
  };
}

const root = path.resolve(__dirname, '..', '..');

/**
 * Runs `ceph-rbd image upload - ID --size N --json` (node
 * dist/lib/cli/main.js) with `data` on its stdin; prints the command line;
 * its progress bar and messages go to our stderr. Resolves its JSON result.
 */
async function cliUpload(confFile: string, id: string, size: number, data: Readable, say: (line: string) => void): Promise<GlanceAddResult> {
  const args = ['dist/lib/cli/main.js', 'image', 'upload', '-', id, '--size', String(size), '--pool', 'images', '--conf', confFile, '--json'];
  say(`$ node ${args.join(' ')} < (the generated image)`);
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
  await pipeline(data, child.stdin).catch(() => undefined); // an early exit shows in the status
  const code = await exited;
  if (code !== 0) throw new Error(`ceph-rbd image upload exited with status ${code}`);
  return JSON.parse(Buffer.concat(out).toString('utf8')) as GlanceAddResult;
}

export async function glanceDemo(confFile: string, say: (line: string) => void): Promise<void> {
  await using store = await GlanceStore.open({ confFile, pool: 'images', connectTimeoutMs: 30_000 });
  const image = makeImage();
  const id = `glance-demo-${process.pid}`;
  say(`Glance store: pool ${store.pool}, ${store.chunkSize / MiB} MiB chunks, ${store.concurrency} in flight, md5 + ${store.hashAlgo} hashed ${store.hashOn === 'native' ? 'on worker threads' : 'on the JS thread'}`);
  say(`uploading a generated ${SIZE / MiB} MiB image as ${id} with the CLI ...`);
  const t0 = process.hrtime.bigint();
  const result = await cliUpload(confFile, id, SIZE, image.stream(), say);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    say(`  location  ${result.location}`);
    say(`  size      ${result.size} bytes`);
    say(`  checksum  ${result.checksum} (md5)`);
    say(`  multihash ${result.multihash.slice(0, 16)}… (${store.hashAlgo})`);
    say(`  speed     ${(SIZE / MiB / secs).toFixed(0)} MiB/s (${secs.toFixed(2)} s, the whole command)`);

    const offset = 100 * MiB + 12_345;
    const length = 8 * MiB + 1;
    const got = await store.get(result.location, { offset, length });
    const parts: Buffer[] = [];
    for await (const part of got.stream) parts.push(part as Buffer);
    const back = Buffer.concat(parts);
    const want = image.range(offset, length);
    const same = back.equals(want);
    say(`get(offset ${offset}, length ${length}): ${back.length} bytes, md5 ${createHash('md5').update(back).digest('hex').slice(0, 16)}… ${same ? 'matches' : 'DIFFERS'}`);
    if (!same) throw new Error('get() returned other bytes than were uploaded');
  } finally {
    await store.delete(result.location);
    say(`deleted ${result.location}`);
  }
}
