/**
 * Part 1 of the bench: uploads with MD5 + sha512 of one input file.
 *
 * - ours: GlanceStore.add(file) at a chunk size, concurrency and hashOn;
 * - the Glance way (a mode of the bench, not of the library): one chunk at a
 *   time, `await image.write`, then md5/sha512 with node:crypto on the JS
 *   thread, as glance_store's add loop does; same create/snap/protect steps;
 * - the real peer: Debian's glance_store `Store.add()` (peers.ts);
 * - the other peers of peers.ts (rbd import, rbd bench, Python).
 *
 * Ours and the real peer also report their steps: create → first write
 * (setup), the data (streaming), snapshot → protected (finish). Ours are
 * read from the store's own log line ("Stored …: data in N ms, snapshot in
 * M ms") through its `logger` option: the library is not changed for it.
 *
 * Every upload's digests are checked against the file's, computed once up
 * front; a mismatch throws. Each image is deleted after its run.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

import { GlanceStore, Image, ImageNotFound, InvalidArgument, Rados, Rbd, type IoCtx } from '../../lib';
import { defaultFeatures } from '../../lib/internal/features';
import type { BenchCluster } from './cluster';
import { cpuMeter, type CpuUse } from './cpu';
import { glanceStoreAdd, pythonUpload, rbdBench, rbdImport, rbdStartup } from './peers';
import { MiB, secondsSince } from './stats';

/** The client configuration every client in the bench uses (GlanceStore's defaults). */
export const CLIENT_CONF = { rbd_cache: 'false', rbd_disable_zero_copy_writes: 'false' } as const;

export interface InputFile {
  path: string;
  bytes: number;
  md5: string;
  sha512: string;
}

/** Writes `bytes` random bytes to `path`, hashing them on the way (the reference digests). */
export async function makeInput(path: string, bytes: number): Promise<InputFile> {
  const md5 = createHash('md5');
  const sha = createHash('sha512');
  const block = Buffer.allocUnsafe(16 * MiB);
  const fh = await open(path, 'w');
  try {
    for (let off = 0; off < bytes; off += block.length) {
      const piece = block.subarray(0, Math.min(block.length, bytes - off));
      randomFillSync(piece);
      md5.update(piece);
      sha.update(piece);
      await fh.write(piece, 0, piece.length, off);
    }
  } finally {
    await fh.close();
  }
  return { path, bytes, md5: md5.digest('hex'), sha512: sha.digest('hex') };
}

export interface HashSpeed {
  algo: string;
  /** MiB per CPU second on one core (node:crypto; the same OpenSSL code the native hasher runs). */
  mibPerCpuSecond: number;
  /** MiB per wall second (lower when others use the core). */
  mibps: number;
}

/** What hashing alone costs on this machine: `mib` MiB through md5 and sha512, one core each. */
export function hashSpeed(mib: number): HashSpeed[] {
  const buf = Buffer.alloc(8 * MiB, 0x5a);
  const n = Math.max(1, Math.round(mib / 8));
  return ['md5', 'sha512'].map((algo) => {
    const h = createHash(algo);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) h.update(buf);
    h.digest();
    const wall = secondsSince(t0);
    const c = process.cpuUsage(c0);
    return { algo, mibPerCpuSecond: (n * 8) / ((c.user + c.system) / 1e6), mibps: (n * 8) / wall };
  });
}

export type UploadKind = 'ours' | 'glance-store' | 'glance-way' | 'rbd-import' | 'rbd-bench' | 'python';

/** The fixed and the streaming parts of one upload, in seconds (NaN when not known). */
export interface UploadSteps {
  /** Rados.connect inside the call (the real glance_store connects per add(); ours uses the store's connection: 0). */
  connect: number;
  /** From the call (after connect) to the first write: create, open (ours: and the upload mark). */
  setup: number;
  /** The data: writes and hashing. */
  data: number;
  /** Last write → snapshot created and protected (ours: and the mark removed, the image closed). */
  finish: number;
}

/** The step timings the store logs for each add(): `Stored <name>: <n> bytes, data in <ms> ms, snapshot in <ms> ms`. */
const STORED_LINE = /^Stored (\S+): \d+ bytes, data in (\d+) ms, snapshot in (\d+) ms/;

export interface UploadRun {
  kind: UploadKind;
  chunkMiB: number;
  concurrency?: number;
  hashOn?: 'native' | 'js';
  /** The timed span (see each kind). */
  seconds: number;
  mibps: number;
  /** Wall time of the whole process, for the CLI peers (start and connect included). */
  wallSeconds?: number;
  cpu: CpuUse;
  /** md5 and sha512 equal the file's (undefined: the peer computes none). */
  checksumOk?: boolean;
  /** The image read back equals the file (checked on the first run of each kind). */
  readbackOk?: boolean;
  /** Ours and the real glance_store: the fixed and streaming parts. */
  steps?: UploadSteps;
}

export class ChecksumMismatch extends Error {}

function orderOf(chunkMiB: number): number {
  return Math.floor(Math.log2(chunkMiB * MiB));
}

/** Uploads and peers against one cluster and input file. */
export class UploadBench {
  readonly #cluster: BenchCluster;
  readonly #input: InputFile;
  readonly #stores = new Map<string, GlanceStore>();
  readonly #prefix: string;
  #seq = 0;
  /** Data and snapshot milliseconds per image name, from the stores' log lines. */
  readonly #logged = new Map<string, { dataMs: number; snapMs: number }>();
  #admin: { rados: Rados; ioctx: IoCtx } | null = null;

  constructor(cluster: BenchCluster, input: InputFile) {
    this.#cluster = cluster;
    this.#input = input;
    this.#prefix = `bench-${process.pid}-${Date.now().toString(36)}`;
  }

  #name(kind: string): string {
    return `${this.#prefix}-${kind}-${++this.#seq}`;
  }

  async #adminIoctx(): Promise<IoCtx> {
    if (!this.#admin) {
      const rados = await Rados.connect({ confFile: this.#cluster.confFile, timeoutMs: 120_000, conf: { ...CLIENT_CONF } });
      this.#admin = { rados, ioctx: await rados.openIoctx(this.#cluster.pool) };
    }
    return this.#admin.ioctx;
  }

  async #store(chunkMiB: number, concurrency: number, hashOn: 'native' | 'js'): Promise<GlanceStore> {
    const key = `${chunkMiB}/${concurrency}/${hashOn}`;
    let store = this.#stores.get(key);
    if (!store) {
      store = await GlanceStore.open({
        pool: this.#cluster.pool,
        confFile: this.#cluster.confFile,
        chunkSizeMiB: chunkMiB,
        concurrency,
        hashAlgo: 'sha512',
        hashOn,
        thinProvisioning: false,
        connectTimeoutMs: 120_000,
        logger: {
          info: (msg: string) => {
            const m = STORED_LINE.exec(msg);
            if (m) this.#logged.set(m[1], { dataMs: Number(m[2]), snapMs: Number(m[3]) });
          },
        },
      });
      this.#stores.set(key, store);
    }
    return store;
  }

  #check(kind: string, md5: string, sha512: string): true {
    if (md5 !== this.#input.md5 || sha512 !== this.#input.sha512) {
      throw new ChecksumMismatch(`${kind}: checksum mismatch: md5 ${md5} (file ${this.#input.md5}), sha512 ${sha512.slice(0, 16)}… (file ${this.#input.sha512.slice(0, 16)}…)`);
    }
    return true;
  }

  /** md5 of the image's first `bytes` bytes, read back with pipelined aio reads. */
  async #readback(name: string): Promise<boolean> {
    const ioctx = await this.#adminIoctx();
    await using image = await Image.open(ioctx, name, { readOnly: true });
    const md5 = createHash('md5');
    const piece = 8 * MiB;
    const total = this.#input.bytes;
    const reads: Array<Promise<Buffer>> = [];
    let next = 0;
    const issue = () => {
      if (next < total) {
        reads.push(image.aioRead(next, Math.min(piece, total - next)));
        next += piece;
      }
    };
    for (let i = 0; i < 4; i++) issue();
    while (reads.length > 0) {
      md5.update(await (reads.shift() as Promise<Buffer>));
      issue();
    }
    return md5.digest('hex') === this.#input.md5;
  }

  /** Removes an image and its protected snapshot 'snap' (if any). */
  async #remove(name: string): Promise<void> {
    const ioctx = await this.#adminIoctx();
    try {
      const image = await Image.open(ioctx, name);
      try {
        if (await image.snapExists('snap')) {
          await image.unprotectSnap('snap').catch((err: unknown) => {
            if (!(err instanceof InvalidArgument)) throw err;
          });
          await image.removeSnap('snap');
        }
      } finally {
        await image.close();
      }
      await Rbd.remove(ioctx, name);
    } catch (err) {
      if (!(err instanceof ImageNotFound)) throw err;
    }
  }

  #rate(seconds: number): number {
    return this.#input.bytes / MiB / seconds;
  }

  /** GlanceStore.add of the file; timed from add() to its return (create … protect). */
  async ours(chunkMiB: number, concurrency: number, hashOn: 'native' | 'js', readback: boolean): Promise<UploadRun> {
    const store = await this.#store(chunkMiB, concurrency, hashOn);
    const name = this.#name('ours');
    const meter = cpuMeter(this.#cluster.daemonPids());
    const t0 = process.hrtime.bigint();
    const res = await store.add(name, this.#input.path, this.#input.bytes);
    const seconds = secondsSince(t0);
    const cpu = meter();
    // The log line's figures are whole milliseconds (Date.now()): setup is clamped at 0.
    const logged = this.#logged.get(name);
    this.#logged.delete(name);
    const steps: UploadSteps = logged
      ? { connect: 0, setup: Math.max(0, seconds - (logged.dataMs + logged.snapMs) / 1000), data: logged.dataMs / 1000, finish: logged.snapMs / 1000 }
      : { connect: 0, setup: Number.NaN, data: Number.NaN, finish: Number.NaN };
    try {
      const checksumOk = this.#check(`ours ${chunkMiB} MiB c=${concurrency} ${hashOn}`, res.checksum, res.multihash);
      const readbackOk = readback ? await this.#readback(name) : undefined;
      return { kind: 'ours', chunkMiB, concurrency, hashOn, seconds, mibps: this.#rate(seconds), cpu, checksumOk, readbackOk, steps };
    } finally {
      await store.delete(res.location);
    }
  }

  /**
   * The Glance way through this library: create, then per chunk read it,
   * `await image.write`, md5.update, sha512.update (glance_store's order),
   * then snapshot and protect. Timed from create to close.
   */
  async glanceWay(chunkMiB: number, readback: boolean): Promise<UploadRun> {
    const ioctx = await this.#adminIoctx();
    const name = this.#name('glance');
    const chunk = chunkMiB * MiB;
    const features = defaultFeatures(this.#admin?.rados.confGet('rbd_default_features'));
    const fh = await open(this.#input.path, 'r');
    const meter = cpuMeter(this.#cluster.daemonPids());
    const t0 = process.hrtime.bigint();
    let md5hex: string;
    let shahex: string;
    try {
      await Rbd.create(ioctx, name, this.#input.bytes, { order: orderOf(chunkMiB), features });
      const image = await Image.open(ioctx, name);
      try {
        const md5 = createHash('md5');
        const sha = createHash('sha512');
        const buf = Buffer.allocUnsafe(chunk);
        let offset = 0;
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, chunk, offset);
          if (bytesRead === 0) break;
          const data = bytesRead === chunk ? buf : buf.subarray(0, bytesRead);
          await image.write(data, offset);
          offset += bytesRead;
          md5.update(data);
          sha.update(data);
        }
        await image.createSnap('snap');
        await image.protectSnap('snap');
        md5hex = md5.digest('hex');
        shahex = sha.digest('hex');
      } finally {
        await image.close();
      }
    } finally {
      await fh.close();
    }
    const seconds = secondsSince(t0);
    const cpu = meter();
    try {
      const checksumOk = this.#check(`glance-way ${chunkMiB} MiB`, md5hex, shahex);
      const readbackOk = readback ? await this.#readback(name) : undefined;
      return { kind: 'glance-way', chunkMiB, seconds, mibps: this.#rate(seconds), cpu, checksumOk, readbackOk };
    } finally {
      await this.#remove(name);
    }
  }

  /**
   * `rbd import` of the file with objects of the chunk size. `seconds` is
   * the process's wall time minus `startupSeconds` (what `rbd ls` takes: CLI
   * start and connect); wallSeconds is the whole.
   */
  async rbdImport(chunkMiB: number, startupSeconds: number, readback: boolean): Promise<UploadRun> {
    const name = this.#name('import');
    const meter = cpuMeter(this.#cluster.daemonPids());
    const r = await rbdImport(this.#cluster.confFile, this.#cluster.pool, name, this.#input.path, orderOf(chunkMiB));
    const cpu = { ...meter(), client: r.cpuSeconds };
    try {
      const seconds = Math.max(r.wallSeconds - startupSeconds, 1e-3);
      const readbackOk = readback ? await this.#readback(name) : undefined;
      return { kind: 'rbd-import', chunkMiB, seconds, wallSeconds: r.wallSeconds, mibps: this.#rate(seconds), cpu, readbackOk };
    } finally {
      await this.#remove(name);
    }
  }

  /** Seconds `rbd ls` takes (CLI start + connect), to take out of rbd import's wall time. */
  async rbdStartup(): Promise<number> {
    return (await rbdStartup(this.#cluster.confFile, this.#cluster.pool)).wallSeconds;
  }

  /** `rbd bench --io-type write --io-size <chunk> --io-threads 16 --io-pattern seq --io-total <file size>` on a fresh image. */
  async rbdBench(chunkMiB: number): Promise<UploadRun> {
    const ioctx = await this.#adminIoctx();
    const name = this.#name('bench');
    const features = defaultFeatures(this.#admin?.rados.confGet('rbd_default_features'));
    await Rbd.create(ioctx, name, this.#input.bytes, { order: orderOf(chunkMiB), features });
    try {
      const meter = cpuMeter(this.#cluster.daemonPids());
      const r = await rbdBench(this.#cluster.confFile, this.#cluster.pool, name, {
        ioType: 'write',
        ioSize: chunkMiB * MiB,
        threads: 16,
        pattern: 'seq',
        total: this.#input.bytes,
      });
      const cpu = { ...meter(), client: r.cpuSeconds };
      const mibps = r.bytesPerSec / MiB;
      return { kind: 'rbd-bench', chunkMiB, seconds: this.#input.bytes / MiB / mibps, wallSeconds: r.wallSeconds, mibps, cpu };
    } finally {
      await this.#remove(name);
    }
  }

  /** Python's rbd bindings, Glance's loop (python_upload.py); timed by the script from create to protect. */
  async python(chunkMiB: number, readback: boolean): Promise<UploadRun> {
    const name = this.#name('python');
    const meter = cpuMeter(this.#cluster.daemonPids());
    let r;
    try {
      r = await pythonUpload(this.#cluster.confFile, this.#cluster.pool, name, this.#input.path, chunkMiB * MiB, orderOf(chunkMiB));
    } catch (err) {
      await this.#remove(name);
      throw err;
    }
    const cpu = { ...meter(), client: r.cpuSeconds };
    try {
      const checksumOk = this.#check(`python ${chunkMiB} MiB`, r.md5, r.sha512);
      const readbackOk = readback ? await this.#readback(name) : undefined;
      return { kind: 'python', chunkMiB, seconds: r.seconds, wallSeconds: r.wallSeconds, mibps: this.#rate(r.seconds), cpu, checksumOk, readbackOk };
    } finally {
      await this.#remove(name);
    }
  }

  /**
   * The real peer: Debian's glance_store RBD driver, `Store.add(name, file,
   * size, hashing_algo='sha512')` with rbd_store_chunk_size = the chunk size
   * (glance_store_peer.py). Timed by the script over the whole call (it
   * connects and disconnects inside, as it does in Glance).
   */
  async glanceStore(chunkMiB: number, readback: boolean): Promise<UploadRun> {
    const name = this.#name('gstore');
    const meter = cpuMeter(this.#cluster.daemonPids());
    let r;
    try {
      r = await glanceStoreAdd(this.#cluster.confFile, this.#cluster.pool, chunkMiB, name, this.#input.path);
    } catch (err) {
      await this.#remove(name);
      throw err;
    }
    const cpu = { ...meter(), client: r.cpuSeconds };
    const steps: UploadSteps = { connect: r.connectSeconds, setup: r.setupSeconds ?? Number.NaN, data: r.dataSeconds ?? Number.NaN, finish: r.finishSeconds ?? Number.NaN };
    try {
      const checksumOk = this.#check(`glance_store ${chunkMiB} MiB`, r.md5, r.sha512);
      const readbackOk = readback ? await this.#readback(name) : undefined;
      return { kind: 'glance-store', chunkMiB, seconds: r.seconds, wallSeconds: r.wallSeconds, mibps: this.#rate(r.seconds), cpu, checksumOk, readbackOk, steps };
    } finally {
      await this.#remove(name);
    }
  }

  /** Removes anything of this bench left in the pool (after a failure) and disconnects. */
  async close(): Promise<void> {
    try {
      const ioctx = await this.#adminIoctx();
      for (const name of await Rbd.list(ioctx)) {
        if (name.startsWith(this.#prefix)) await this.#remove(name).catch(() => undefined);
      }
    } catch {
      // best effort
    }
    for (const store of this.#stores.values()) await store.close().catch(() => undefined);
    this.#stores.clear();
    await this.#admin?.rados.shutdown().catch(() => undefined);
    this.#admin = null;
  }
}
