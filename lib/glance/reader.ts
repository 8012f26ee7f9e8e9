/**
 * The Readable that get() returns: reads [offset, offset + length) of an
 * image opened read-only at its snapshot, in `chunkSize` pieces through
 * librbd's aio reads, a few pieces ahead of the consumer. Backpressure: no
 * new read is started while the consumer's buffer is full, so memory stays
 * at `depth` pieces plus the stream's own buffer. The image is closed when
 * the stream ends or is destroyed.
 */
import { Readable } from 'node:stream';

import type { Image } from '../rbd';

export class ImageReadStream extends Readable {
  readonly #image: Image;
  readonly #end: number;
  readonly #chunk: number;
  readonly #depth: number;
  #next: number;
  /** Reads started, in image order; each already has a catch attached. */
  readonly #queue: Array<Promise<Buffer>> = [];
  #waiting = false;

  constructor(image: Image, offset: number, length: number, chunkSize: number, depth = 2) {
    super({ highWaterMark: chunkSize });
    this.#image = image;
    this.#next = offset;
    this.#end = offset + length;
    this.#chunk = chunkSize;
    this.#depth = depth;
  }

  /** Node calls this when the consumer wants more, and not again until we push. */
  override _read(): void {
    // Read ahead up to `depth` pieces ...
    while (this.#queue.length < this.#depth && this.#next < this.#end) {
      const n = Math.min(this.#chunk, this.#end - this.#next);
      const p = this.#image.aioRead(this.#next, n);
      p.catch(() => undefined); // handled when it reaches the head
      this.#queue.push(p);
      this.#next += n;
    }
    // ... and hand over the oldest once it is in.
    if (this.#waiting) return;
    const head = this.#queue[0];
    if (head === undefined) {
      this.push(null);
      return;
    }
    this.#waiting = true;
    head.then(
      (buf) => {
        this.#waiting = false;
        this.#queue.shift();
        if (!this.destroyed) this.push(buf);
      },
      (err: unknown) => {
        this.#waiting = false;
        this.destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const pending = this.#queue.splice(0);
    void Promise.allSettled(pending)
      .then(() => this.#image.close())
      .then(
        () => callback(error),
        (closeErr: unknown) => callback(error ?? (closeErr as Error)),
      );
  }
}
