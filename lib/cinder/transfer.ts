/**
 * Moving image data between a store stream and a volume without temp
 * files, over the shared chunked writer and reader (lib/internal): the
 * image-to-volume copy writes with pipelined aio, all-zero chunks skipped
 * so a new volume stays sparse (as `rbd import` keeps it); the
 * volume-to-image copy hands the store pipelined aio reads in order
 * (readImageChunks).
 */
import { openSource } from '../internal/chunk-source';
import { ChunkWriter } from '../internal/chunk-writer';
import type { Image } from '../rbd';

/** Writes `source` into `image` from offset 0 in `chunkBytes` pieces, `concurrency` in flight. Resolves the bytes consumed. */
export async function writeStreamToImage(
  image: Image,
  source: AsyncIterable<Uint8Array>,
  chunkBytes: number,
  concurrency: number,
  limitBytes: number,
): Promise<number> {
  const src = await openSource(source, chunkBytes);
  let failed = true;
  try {
    const writer = new ChunkWriter(image, {
      expectedSize: limitBytes,
      chunkBytes,
      thinProvisioning: true,
      concurrency,
      tooLong: () => Object.assign(new RangeError(`the image data exceeds the volume size of ${limitBytes} bytes`), { code: 'ERR_OUT_OF_RANGE' }),
    });
    const out = await writer.run(src);
    failed = false;
    return out.bytes;
  } finally {
    await src.close(failed);
  }
}

/** Stops a source stream we will not read to the end (when it can be stopped). */
export function destroyStream(stream: unknown): void {
  const s = stream as { destroy?: () => void };
  if (typeof s.destroy === 'function') s.destroy();
}
