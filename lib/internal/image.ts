/** Opening an image for the length of one piece of work. */
import type { IoCtx } from '../rados';
import { Image, type OpenImageOptions } from '../rbd';

/**
 * Opens `name` (with `options`: read-only, at a snapshot, by id), runs
 * `fn`, and always closes the image, whether `fn` resolved or threw.
 */
export async function withImage<T>(ioctx: IoCtx, name: string, options: OpenImageOptions, fn: (image: Image) => Promise<T>): Promise<T> {
  const image = await Image.open(ioctx, name, options);
  try {
    return await fn(image);
  } finally {
    await image.close();
  }
}

/** withImage read-only, at `snapshot` when given. */
export function withImageReadOnly<T>(ioctx: IoCtx, name: string, snapshot: string | null | undefined, fn: (image: Image) => Promise<T>): Promise<T> {
  return withImage(ioctx, name, snapshot ? { readOnly: true, snapshot } : { readOnly: true }, fn);
}
