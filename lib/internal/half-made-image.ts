/**
 * A name librbd left half-made: its create was cut short (the process killed
 * after the name's id object and pool directory entry, before the image
 * header), so the name is listed, cannot be opened (ImageNotFound), and
 * makes a new create of it fail with EEXIST. rbd_remove clears those entries.
 */
import { ImageNotFound } from '../errors';
import type { IoCtx } from '../rados';
import { Rbd } from '../rbd';

/**
 * Removes `name` after opening it said ImageNotFound: true when a half-made
 * name was there and is gone, false when nothing was there. Never to the
 * trash: there is no image to keep.
 */
export async function removeHalfMadeImage(ioctx: IoCtx, name: string): Promise<boolean> {
  try {
    await Rbd.remove(ioctx, name);
    return true;
  } catch (err) {
    if (err instanceof ImageNotFound) return false;
    throw err;
  }
}
