/**
 * What a process killed inside librbd's create leaves behind: the name's id
 * object and pool directory entry, but no image header. Made here from a
 * whole image by removing its header object, so `Rbd.list` still shows the
 * name while opening it is ImageNotFound and a new create of it EEXIST.
 */
import { Image, type IoCtx } from '../../lib';

export async function makeHalfMade(ioctx: IoCtx, name: string): Promise<void> {
  const image = await Image.open(ioctx, name, { readOnly: true });
  let id: string;
  try {
    id = await image.id();
  } finally {
    await image.close();
  }
  await ioctx.remove(`rbd_header.${id}`);
}
