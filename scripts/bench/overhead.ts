/**
 * Part 3 of the bench: what one call through the binding costs, measured
 * where the cluster is not involved, as calls per second:
 * - image.size(): no I/O, but a hop to a libuv worker thread and back;
 * - a 4 KiB re-read of one cached block (librbd's cache on, writeback): via
 *   aioRead (librbd's completion, no worker hop) and via read (worker hop).
 * At queue depth 1 (one call at a time: latency) and 32 (throughput).
 * Python's bindings (synchronous, no hop) on the same image for reference.
 */
import { Image, Rados, Rbd, type IoCtx } from '../../lib';
import type { BenchCluster } from './cluster';
import { pythonCalls } from './peers';
import { KiB, MiB } from './stats';

export type CallKind = 'size' | 'aioRead' | 'read';

export interface CallRun {
  call: CallKind;
  qd: number;
  calls: number;
  callsPerSec: number;
}

/** Calls `fn` for `seconds` with `qd` calls in flight; calls per second. */
async function rate(fn: () => Promise<unknown>, qd: number, seconds: number): Promise<{ calls: number; perSec: number }> {
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let calls = 0;
  let stop = false;
  const lane = async () => {
    while (!stop) {
      for (let i = 0; i < 16; i++) await fn();
      calls += 16;
      if (process.hrtime.bigint() >= end) stop = true;
    }
  };
  await Promise.all(Array.from({ length: qd }, lane));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { calls, perSec: calls / secs };
}

export class OverheadBench {
  readonly #cluster: BenchCluster;
  readonly name = `bench-${process.pid}-calls`;
  #rados: Rados | null = null;
  #ioctx: IoCtx | null = null;
  #image: Image | null = null;

  constructor(cluster: BenchCluster) {
    this.#cluster = cluster;
  }

  /** A 4 MiB image whose first 4 KiB are written and read once (now in librbd's cache). */
  async prepare(): Promise<void> {
    this.#rados = await Rados.connect({
      confFile: this.#cluster.confFile,
      timeoutMs: 120_000,
      conf: { rbd_cache: 'true', rbd_cache_policy: 'writeback' },
    });
    this.#ioctx = await this.#rados.openIoctx(this.#cluster.pool);
    await Rbd.create(this.#ioctx, this.name, 4 * MiB, { order: 22 });
    this.#image = await Image.open(this.#ioctx, this.name);
    await this.#image.write(Buffer.alloc(4 * KiB, 1), 0);
    await this.#image.flush();
    await this.#image.read(0, 4 * KiB);
  }

  async ours(call: CallKind, qd: number, seconds: number): Promise<CallRun> {
    const image = this.#image;
    if (!image) throw new Error('prepare() first');
    const fn: () => Promise<unknown> =
      call === 'size' ? () => image.size() : call === 'aioRead' ? () => image.aioRead(0, 4 * KiB) : () => image.read(0, 4 * KiB);
    await rate(fn, qd, Math.min(0.1, seconds)); // warm-up
    const r = await rate(fn, qd, seconds);
    return { call, qd, calls: r.calls, callsPerSec: r.perSec };
  }

  /** Python's image.size() and cached image.read(0, 4096), calls per second (one at a time). */
  async python(seconds: number): Promise<{ size: number; read4k: number }> {
    return pythonCalls(this.#cluster.confFile, this.#cluster.pool, this.name, seconds);
  }

  async close(): Promise<void> {
    await this.#image?.close().catch(() => undefined);
    this.#image = null;
    if (this.#ioctx) await Rbd.remove(this.#ioctx, this.name).catch(() => undefined);
    await this.#rados?.shutdown().catch(() => undefined);
    this.#rados = null;
    this.#ioctx = null;
  }
}
