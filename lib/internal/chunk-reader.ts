/**
 * The chunked aio reader (docs/DESIGN.md#download-data-path): reads
 * [offset, offset + length) of an image in `chunkSize` pieces through
 * librbd's aio reads, `depth` pieces ahead of the consumer, handed over in
 * image order. Two faces over the one read-ahead queue:
 *
 * - ImageReadStream, a Readable with backpressure (no new read while the
 *   consumer's buffer is full, so memory stays at `depth` pieces plus the
 *   stream's own buffer); it closes the image when it ends or is destroyed.
 *   GlanceStore.get and the CLI use it.
 * - readImageChunks(), an async generator of Buffers for a consumer that
 *   pulls (the Cinder driver's volume-to-image copy); the caller closes the
 *   image (close waits for reads still in flight).
 */
import { Readable } from 'node:stream';

import { addon } from '../native';
import type { Image } from '../rbd';

/**
 * One read piece: into pooled memory (native/common/buffer_pool.h), so the
 * piece after a collected one lands on pages already mapped.
 */
async function readPiece(image: Image, offset: number, n: number): Promise<Buffer> {
  const buf = addon.allocPooledBuffer(n);
  const got = await image.aioReadInto(offset, buf);
  return got === n ? buf : buf.subarray(0, got);
}

/** The aio reads started ahead of the consumer, in image order. */
class ReadAhead {
  readonly #image: Image;
  readonly #end: number;
  readonly #chunk: number;
  readonly #depth: number;
  #next: number;
  /** Reads started; each already has a catch attached (handled at the head). */
  readonly #queue: Array<Promise<Buffer>> = [];

  constructor(image: Image, offset: number, length: number, chunkSize: number, depth: number) {
    this.#image = image;
    this.#next = offset;
    this.#end = offset + length;
    this.#chunk = chunkSize;
    this.#depth = depth;
  }

  /** Starts reads until `depth` are in flight or the range is covered. */
  fill(): void {
    while (this.#queue.length < this.#depth && this.#next < this.#end) {
      const n = Math.min(this.#chunk, this.#end - this.#next);
      const p = readPiece(this.#image, this.#next, n);
      p.catch(() => undefined);
      this.#queue.push(p);
      this.#next += n;
    }
  }

  /** The oldest read, or undefined when everything was handed over. */
  get head(): Promise<Buffer> | undefined {
    return this.#queue[0];
  }

  shift(): void {
    this.#queue.shift();
  }

  /** Waits for every read still in flight (their results are dropped). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#queue.splice(0));
  }
}

export class ImageReadStream extends Readable {
  readonly #image: Image;
  readonly #reads: ReadAhead;
  #waiting = false;

  /**
   * `depth` reads in flight. One (the default) still overlaps: the next piece
   * is read while the consumer takes the last one. More stalled on the
   * 2-core bench machine: with two 8 MiB reads in flight the messenger's
   * receive buffers outgrew glibc's trim threshold, so every piece landed on
   * fresh pages again (page faults: ~25k vs ~200 per 512 MiB, 2x the CPU;
   * docs/PERFORMANCE.md).
   */
  constructor(image: Image, offset: number, length: number, chunkSize: number, depth = 1) {
    super({ highWaterMark: chunkSize });
    this.#image = image;
    this.#reads = new ReadAhead(image, offset, length, chunkSize, depth);
  }

  /** Node calls this when the consumer wants more, and not again until we push. */
  override _read(): void {
    this.#reads.fill();
    if (this.#waiting) return;
    const head = this.#reads.head;
    if (head === undefined) {
      this.push(null);
      return;
    }
    this.#waiting = true;
    head.then(
      (buf) => {
        this.#waiting = false;
        this.#reads.shift();
        if (!this.destroyed) this.push(buf);
      },
      (err: unknown) => {
        this.#waiting = false;
        this.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.#reads
      .settle()
      .then(() => this.#image.close())
      .then(
        () => callback(error),
        (closeErr: unknown) => callback(error ?? (closeErr as Error)),
      );
  }
}

/**
 * Reads `size` bytes of `image` in order as `chunkSize` Buffers, keeping
 * `depth` aio reads in flight. The caller closes the image after the
 * consumer is done.
 */
export async function* readImageChunks(image: Image, size: number, chunkSize: number, depth: number): AsyncGenerator<Buffer> {
  const reads = new ReadAhead(image, 0, size, chunkSize, depth);
  try {
    reads.fill();
    for (let head = reads.head; head !== undefined; head = reads.head) {
      const buf = await head;
      reads.shift();
      reads.fill();
      yield buf;
    }
  } finally {
    await reads.settle();
  }
}
