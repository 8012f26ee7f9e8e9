/**
 * Moving image data between a store stream and a volume without temp files:
 * pipelined librbd aio writes (all-zero chunks skipped, so a new volume stays
 * sparse, as `rbd import` keeps it) and pipelined aio reads in order.
 */
import type { Image } from '../rbd';

/** Writes `source` into `image` from offset 0 in `chunkBytes` pieces, `concurrency` in flight. Resolves the bytes consumed. */
export async function writeStreamToImage(
  image: Image,
  source: AsyncIterable<Uint8Array>,
  chunkBytes: number,
  concurrency: number,
  limitBytes: number,
): Promise<number> {
  const zero = Buffer.alloc(chunkBytes);
  const inflight = new Set<Promise<unknown>>();
  let failure: unknown;
  let offset = 0;
  let fill = Buffer.allocUnsafe(chunkBytes);
  let used = 0;

  const submit = async (buf: Buffer, at: number): Promise<void> => {
    if (failure !== undefined) throw failure;
    const allZero = buf.length === chunkBytes ? buf.equals(zero) : buf.equals(zero.subarray(0, buf.length));
    if (allZero) return;
    while (inflight.size >= concurrency) await Promise.race(inflight);
    if (failure !== undefined) throw failure;
    const p: Promise<unknown> = image.aioWrite(buf, at).then(
      () => inflight.delete(p),
      (err: unknown) => {
        inflight.delete(p);
        if (failure === undefined) failure = err;
      },
    );
    inflight.add(p);
  };

  try {
    for await (const piece of source) {
      let data = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      if (offset + used + data.length > limitBytes) {
        throw new RangeError(`the image data exceeds the volume size of ${limitBytes} bytes`);
      }
      while (data.length > 0) {
        const n = Math.min(chunkBytes - used, data.length);
        data.copy(fill, used, 0, n);
        used += n;
        data = data.subarray(n);
        if (used === chunkBytes) {
          await submit(fill, offset);
          offset += chunkBytes;
          fill = Buffer.allocUnsafe(chunkBytes);
          used = 0;
        }
      }
    }
    if (used > 0) {
      await submit(fill.subarray(0, used), offset);
      offset += used;
    }
  } finally {
    await Promise.all(inflight);
  }
  if (failure !== undefined) throw failure;
  await image.flush();
  return offset;
}

/**
 * Reads `size` bytes of `image` in order as `chunkBytes` Buffers, keeping
 * `concurrency` aio reads in flight. The caller closes the image after the
 * consumer is done (close waits for reads still in flight).
 */
export async function* readImageChunks(image: Image, size: number, chunkBytes: number, concurrency: number): AsyncGenerator<Buffer> {
  const queue: Array<Promise<Buffer>> = [];
  let next = 0;
  const refill = (): void => {
    while (queue.length < concurrency && next < size) {
      const len = Math.min(chunkBytes, size - next);
      const p = image.aioRead(next, len);
      p.catch(() => undefined);
      queue.push(p);
      next += len;
    }
  };
  try {
    refill();
    while (queue.length > 0) {
      const buf = await (queue.shift() as Promise<Buffer>);
      refill();
      yield buf;
    }
  } finally {
    await Promise.allSettled(queue);
  }
}

/** Stops a source stream we will not read to the end (when it can be stopped). */
export function destroyStream(stream: unknown): void {
  const s = stream as { destroy?: () => void };
  if (typeof s.destroy === 'function') s.destroy();
}
