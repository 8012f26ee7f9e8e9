/**
 * Part 2 of the bench: 4 KiB random writes and reads at queue depth 1 and
 * 32 through Image.aioWrite/aioRead on a preallocated image, against
 * `rbd bench --io-size 4K --io-pattern rand` at 1 and 32 threads on the
 * same image. Both sides run without librbd's cache.
 *
 * Every write run starts on a freshly written image: memstore keeps an
 * object as a list of buffers, and each 4 KiB overwrite splits it further,
 * so the OSD's cost per write grows with every run on the same objects
 * (measured: 190 → 730 µs of OSD CPU per write over four 20000-write runs),
 * which would favour whichever side runs first.
 */
import { randomBytes } from 'node:crypto';

import { Image, Rados, Rbd, type IoCtx } from '../../lib';
import type { BenchCluster } from './cluster';
import { cpuMeter, type CpuUse } from './cpu';
import { pythonSmallIo, rbdBench } from './peers';
import { KiB, MiB, secondsSince } from './stats';
import { CLIENT_CONF } from './upload';

export type SmallOp = 'randwrite' | 'randread';

export interface SmallRun {
  op: SmallOp;
  qd: number;
  ops: number;
  iops: number;
  cpu: CpuUse;
}

const IO = 4 * KiB;

/** A small-I/O image, fully written so that reads hit real objects. */
export class SmallIoBench {
  readonly #cluster: BenchCluster;
  readonly imageBytes: number;
  #seq = 0;
  name = '';
  #rados: Rados | null = null;
  #ioctx: IoCtx | null = null;

  constructor(cluster: BenchCluster, imageBytes: number) {
    this.#cluster = cluster;
    this.imageBytes = imageBytes;
  }

  /** Connects; fresh() then writes an image. */
  async prepare(): Promise<void> {
    this.#rados = await Rados.connect({ confFile: this.#cluster.confFile, timeoutMs: 120_000, conf: { ...CLIENT_CONF } });
    this.#ioctx = await this.#rados.openIoctx(this.#cluster.pool);
  }

  /** Replaces the image with a new one (4 MiB objects), written in full in 4 MiB pieces. */
  async fresh(): Promise<void> {
    if (!this.#ioctx) throw new Error('prepare() first');
    if (this.name) await Rbd.remove(this.#ioctx, this.name);
    this.name = `bench-${process.pid}-smallio-${++this.#seq}`;
    await Rbd.create(this.#ioctx, this.name, this.imageBytes, { order: 22 });
    await using image = await Image.open(this.#ioctx, this.name);
    const piece = randomBytes(4 * MiB);
    const writes: Array<Promise<number>> = [];
    for (let off = 0; off < this.imageBytes; off += piece.length) {
      writes.push(image.aioWrite(piece.subarray(0, Math.min(piece.length, this.imageBytes - off)), off));
      if (writes.length >= 8) await writes.shift();
    }
    await Promise.all(writes);
    await image.aioFlush();
  }

  /** `ops` random 4 KiB operations with `qd` in flight through aioWrite/aioRead. */
  async ours(op: SmallOp, qd: number, ops: number): Promise<SmallRun> {
    if (!this.#ioctx || !this.name) throw new Error('prepare() and fresh() first');
    await using image = await Image.open(this.#ioctx, this.name);
    const blocks = Math.floor(this.imageBytes / IO);
    const data = randomBytes(IO);
    const one = (): Promise<unknown> => {
      const off = Math.floor(Math.random() * blocks) * IO;
      return op === 'randwrite' ? image.aioWrite(data, off) : image.aioRead(off, IO);
    };
    // Warm-up (exclusive lock, first connections to the OSD), not timed.
    for (let i = 0; i < 8; i++) await one();
    const meter = cpuMeter(this.#cluster.daemonPids());
    const t0 = process.hrtime.bigint();
    let issued = 0;
    const lane = async () => {
      while (issued < ops) {
        issued++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: qd }, lane));
    if (op === 'randwrite') await image.aioFlush();
    const seconds = secondsSince(t0);
    return { op, qd, ops, iops: ops / seconds, cpu: meter() };
  }

  /** `rbd bench --io-size 4K --io-pattern rand --io-threads <qd>` on the same image (its own rate). */
  async rbdBench(op: SmallOp, qd: number, ops: number): Promise<SmallRun> {
    const meter = cpuMeter(this.#cluster.daemonPids());
    const r = await rbdBench(this.#cluster.confFile, this.#cluster.pool, this.name, {
      ioType: op === 'randwrite' ? 'write' : 'read',
      ioSize: IO,
      threads: qd,
      pattern: 'rand',
      total: ops * IO,
    });
    return { op, qd, ops, iops: r.opsPerSec, cpu: { ...meter(), client: r.cpuSeconds } };
  }

  /** Python's rbd bindings on the same image: aio_write/aio_read with `qd` in flight (its own rate). */
  async python(op: SmallOp, qd: number, ops: number): Promise<SmallRun> {
    const meter = cpuMeter(this.#cluster.daemonPids());
    const r = await pythonSmallIo(this.#cluster.confFile, this.#cluster.pool, this.name, op, qd, ops);
    return { op, qd, ops, iops: r.opsPerSec, cpu: { ...meter(), client: r.cpuSeconds } };
  }

  async close(): Promise<void> {
    if (this.#ioctx && this.name) await Rbd.remove(this.#ioctx, this.name).catch(() => undefined);
    await this.#rados?.shutdown().catch(() => undefined);
    this.#rados = null;
    this.#ioctx = null;
  }
}
