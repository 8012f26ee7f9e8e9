/**
 * The download part of the bench: one image, stored once by
 * GlanceStore.add() from the input file, read whole by
 *
 * - ours: `GlanceStore.get(location)` piped into a null sink (a Writable
 *   that drops what it gets), on an open store;
 * - the real peer: Debian's glance_store `Store.get()`, its iterator drained
 *   (glance_store_peer.py; it connects inside, as in Glance);
 * - `rbd export <image>@snap -` to /dev/null.
 *
 * Before the timed runs each reader hashes the whole image once (md5,
 * untimed) and must match the input file: a mismatch throws.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { GlanceStore, parseGlanceLocation } from '../../lib';
import type { BenchCluster } from './cluster';
import { cpuMeter, type CpuUse } from './cpu';
import { glanceStoreGet, rbdExport, rbdExportMd5, rbdStartup } from './peers';
import { MiB, secondsSince } from './stats';
import type { InputFile } from './upload';

export type DownloadKind = 'ours' | 'glance-store' | 'rbd-export';

export interface DownloadRun {
  kind: DownloadKind;
  /** The timed span: ours get() → the sink's last byte; glance_store get() → its last chunk; rbd export's wall time minus its CLI start. */
  seconds: number;
  mibps: number;
  /** CLI and Python peers: the whole process. */
  wallSeconds?: number;
  /** glance_store: seconds in Rados.connect inside the timed span (get() connects twice: size and data). */
  connectSeconds?: number;
  cpu: CpuUse;
  /** Ours: minor page faults of this process during the run (a fresh page per 4 KiB touched). */
  minorFaults?: number;
}

/** A Writable that drops everything: the null sink. */
function nullSink(): { sink: Writable; bytes: () => number } {
  let n = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb();
    },
  });
  return { sink, bytes: () => n };
}

export class DownloadBench {
  readonly #cluster: BenchCluster;
  readonly #input: InputFile;
  #store: GlanceStore | null = null;
  #location = '';
  #image = '';
  #snap = '';
  readonly #startup: number[] = [];

  constructor(cluster: BenchCluster, input: InputFile) {
    this.#cluster = cluster;
    this.#input = input;
  }

  /** The store's chunk size in MiB (glance_store reads with the same, rbd_store_chunk_size). */
  get chunkMiB(): number {
    return (this.#store?.chunkSize ?? 0) / MiB;
  }

  /** Stores the input file with GlanceStore.add() (the store's defaults, sha512). */
  async prepare(): Promise<void> {
    this.#store = await GlanceStore.open({ pool: this.#cluster.pool, confFile: this.#cluster.confFile, hashAlgo: 'sha512', connectTimeoutMs: 120_000 });
    const res = await this.#store.add(`bench-${process.pid}-${Date.now().toString(36)}-download`, this.#input.path, this.#input.bytes);
    this.#location = res.location;
    const loc = parseGlanceLocation(res.location);
    this.#image = loc.image;
    this.#snap = loc.snapshot ?? 'snap';
  }

  #mismatch(kind: string, md5: string | null): never {
    throw new Error(`download ${kind}: md5 ${md5 ?? '-'} of what it read differs from the file's ${this.#input.md5}`);
  }

  /** Each reader once, hashing what it reads (untimed); throws on a mismatch. */
  async verify(withGlanceStore: boolean): Promise<void> {
    const store = this.#need();
    const { stream } = await store.get(this.#location);
    const md5 = createHash('md5');
    await pipeline(stream, new Writable({ write: (c: Buffer, _e, cb) => (md5.update(c), cb()) }));
    const ours = md5.digest('hex');
    if (ours !== this.#input.md5) this.#mismatch('ours', ours);
    const exp = await rbdExportMd5(this.#cluster.confFile, this.#cluster.pool, this.#image, this.#snap);
    if (exp !== this.#input.md5) this.#mismatch('rbd export', exp);
    if (withGlanceStore) {
      const r = await glanceStoreGet(this.#cluster.confFile, this.#cluster.pool, this.chunkMiB, this.#location, true);
      if (r.md5 !== this.#input.md5 || r.bytes !== this.#input.bytes) this.#mismatch('glance_store', r.md5);
    }
  }

  #need(): GlanceStore {
    if (!this.#store) throw new Error('DownloadBench: prepare() first');
    return this.#store;
  }

  #rate(seconds: number): number {
    return this.#input.bytes / MiB / seconds;
  }

  /** GlanceStore.get() piped into a null sink. */
  async ours(): Promise<DownloadRun> {
    const store = this.#need();
    const meter = cpuMeter(this.#cluster.daemonPids());
    const faults0 = process.resourceUsage().minorPageFault;
    const t0 = process.hrtime.bigint();
    const { stream } = await store.get(this.#location);
    const { sink, bytes } = nullSink();
    await pipeline(stream, sink);
    const seconds = secondsSince(t0);
    const cpu = meter();
    if (bytes() !== this.#input.bytes) throw new Error(`download ours: read ${bytes()} bytes, the image has ${this.#input.bytes}`);
    return { kind: 'ours', seconds, mibps: this.#rate(seconds), cpu, minorFaults: process.resourceUsage().minorPageFault - faults0 };
  }

  /** Debian's glance_store Store.get(), drained (timed by the script). */
  async glanceStore(): Promise<DownloadRun> {
    const meter = cpuMeter(this.#cluster.daemonPids());
    const r = await glanceStoreGet(this.#cluster.confFile, this.#cluster.pool, this.chunkMiB, this.#location);
    const cpu = { ...meter(), client: r.cpuSeconds };
    if (r.bytes !== this.#input.bytes) throw new Error(`download glance_store: read ${r.bytes} bytes, the image has ${this.#input.bytes}`);
    return { kind: 'glance-store', seconds: r.seconds, mibps: this.#rate(r.seconds), wallSeconds: r.wallSeconds, connectSeconds: r.connectSeconds, cpu };
  }

  /** Seconds an `rbd ls` takes (CLI start + connect), measured again here. */
  async startup(): Promise<number> {
    const s = (await rbdStartup(this.#cluster.confFile, this.#cluster.pool)).wallSeconds;
    this.#startup.push(s);
    return s;
  }

  get startupSamples(): number[] {
    return [...this.#startup];
  }

  /** `rbd export` to /dev/null; `seconds` is its wall time minus the median `rbd ls`. */
  async rbdExport(): Promise<DownloadRun> {
    const sorted = [...this.#startup].sort((a, b) => a - b);
    const startup = sorted[sorted.length >> 1] ?? 0;
    const meter = cpuMeter(this.#cluster.daemonPids());
    const r = await rbdExport(this.#cluster.confFile, this.#cluster.pool, this.#image, this.#snap);
    const cpu = { ...meter(), client: r.cpuSeconds };
    const seconds = Math.max(r.wallSeconds - startup, 1e-3);
    return { kind: 'rbd-export', seconds, mibps: this.#rate(seconds), wallSeconds: r.wallSeconds, cpu };
  }

  /** Deletes the image and closes the store. */
  async close(): Promise<void> {
    const store = this.#store;
    this.#store = null;
    if (!store) return;
    try {
      if (this.#location) await store.delete(this.#location);
    } finally {
      await store.close();
    }
  }
}
