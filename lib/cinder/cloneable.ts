/** `_is_cloneable`: which image locations a volume can be COW-cloned from. */
import { CephError } from '../errors';
import { withImage } from '../internal/image';
import { errorText } from '../internal/retry';
import { ImageFormatError, checkDetected, detectFormat } from '../image-format';
import type { ClusterSession } from '../internal/session';
import type { Logger } from '../logger';
import { parseRbdSnapshotLocation, type RbdSnapshotLocation } from './location';
import { candidateLocations, diskFormatOf, type VolumeRef } from './options';
import type { ImageLocation, ImageMeta } from './types';
import { GiB } from './util';

export type CloneableLocation = RbdSnapshotLocation & { size: number };

/**
 * `_is_cloneable`: same cluster (fsid), raw disk format, the snapshot
 * opens read-only and its bytes are raw (inspected, no format header). Resolves the parsed location and its size, or null;
 * never throws for an unusable image.
 */
async function cloneable(session: ClusterSession, logger: Logger, url: string, meta: ImageMeta | undefined, refused: string[]): Promise<CloneableLocation | null> {
  let loc: RbdSnapshotLocation;
  try {
    loc = parseRbdSnapshotLocation(url);
  } catch (err) {
    logger.debug(`not cloneable: ${errorText(err)}`);
    return null;
  }
  if (loc.fsid !== (await session.fsid())) {
    logger.debug(`${url} is in a different ceph cluster.`);
    return null;
  }
  const format = diskFormatOf(meta);
  if (format !== 'raw') {
    logger.debug(`image ${url} is not stored in raw format (disk_format ${String(format)}).`);
    return null;
  }
  try {
    const ioctx = await session.ioctx(loc.pool);
    return await withImage(ioctx, loc.image, { readOnly: true, snapshot: loc.snapshot }, async (img) => {
      const size = await img.size();
      // Whatever the metadata says, only bytes proven raw are cloned.
      try {
        checkDetected(await detectFormat((off, len) => (off >= size ? Promise.resolve(Buffer.alloc(0)) : img.read(off, Math.min(len, size - off))), size));
      } catch (err) {
        if (!(err instanceof ImageFormatError)) throw err;
        const reason = `${url}: ${err.message}`;
        logger.warn(`not cloning ${reason}`);
        refused.push(reason);
        return null;
      }
      return { ...loc, size };
    });
  } catch (err) {
    if (!(err instanceof CephError)) throw err;
    logger.debug(`Unable to open image ${loc.pool}/${loc.image}@${loc.snapshot}: ${errorText(err)}`);
    return null;
  }
}

/**
 * The first candidate location that is cloneable and fits in the volume, or
 * null. A candidate whose bytes are not proven raw (a format header, an
 * unsafe image) is refused whatever its metadata says; why goes into `refused`.
 */
export async function firstCloneable(
  session: ClusterSession,
  logger: Logger,
  v: VolumeRef,
  location: ImageLocation,
  meta: ImageMeta | undefined,
  refused: string[] = [],
): Promise<CloneableLocation | null> {
  for (const url of candidateLocations(location)) {
    const loc = await cloneable(session, logger, url, meta, refused);
    if (!loc) continue;
    if (loc.size > v.size * GiB) {
      logger.debug(`image ${url} (${loc.size} bytes) does not fit in volume ${v.name} (${v.size} GiB)`);
      continue;
    }
    return loc;
  }
  return null;
}
