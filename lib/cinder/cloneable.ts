/** `_is_cloneable`: which image locations a volume can be COW-cloned from, and why not. */
import { CephError } from '../errors';
import { ImageFormatError, checkDetected, detectFormat } from '../image-format';
import { withImage } from '../internal/image';
import { errorText } from '../internal/retry';
import type { ClusterSession } from '../internal/session';
import type { Logger } from '../logger';
import { parseRbdSnapshotLocation, type RbdSnapshotLocation } from './location';
import { candidateLocations, diskFormatOf, type VolumeRef } from './options';
import type { ImageLocation, ImageMeta, ModelUpdate } from './types';
import { GiB } from './util';

/**
 * Why cloneImage did not clone (docs/API.md#rbdvolumedriver). `not-raw` is
 * the announced disk_format; `not-raw-bytes` the bytes themselves (a format
 * header found, whatever the metadata says).
 */
export type CloneRefusalReason = 'no-location' | 'bad-location' | 'other-cluster' | 'not-raw' | 'not-raw-bytes' | 'not-found' | 'unreadable' | 'too-large';

export interface CloneRefusal {
  url: string | null;
  reason: CloneRefusalReason;
  detail: string;
}

/** What cloneImage resolves. */
export type CloneImageResult =
  | { cloned: true; modelUpdate: ModelUpdate }
  | { cloned: false; modelUpdate: ModelUpdate; reason: CloneRefusalReason; detail: string };

export type CloneableLocation = RbdSnapshotLocation & { size: number };

/**
 * `_is_cloneable`: same cluster (fsid), raw disk format, the snapshot opens
 * read-only, and its bytes are raw (inspected: no format header). Resolves
 * the parsed location and its size, or why not; never throws for an
 * unusable image.
 */
async function cloneable(session: ClusterSession, logger: Logger, url: string, meta: ImageMeta | undefined): Promise<CloneableLocation | CloneRefusal> {
  let loc: RbdSnapshotLocation;
  try {
    loc = parseRbdSnapshotLocation(url);
  } catch (err) {
    logger.debug(`not cloneable: ${errorText(err)}`);
    return { url, reason: 'bad-location', detail: errorText(err) };
  }
  if (loc.fsid !== (await session.fsid())) {
    logger.debug(`${url} is in a different ceph cluster.`);
    return { url, reason: 'other-cluster', detail: `${url} is in a different ceph cluster` };
  }
  const format = diskFormatOf(meta);
  if (format !== 'raw') {
    logger.debug(`image ${url} is not stored in raw format (disk_format ${String(format)}).`);
    return { url, reason: 'not-raw', detail: `disk_format is ${String(format)}, not raw` };
  }
  try {
    const ioctx = await session.ioctx(loc.pool);
    return await withImage(ioctx, loc.image, { readOnly: true, snapshot: loc.snapshot }, async (img): Promise<CloneableLocation | CloneRefusal> => {
      const size = await img.size();
      // Whatever the metadata says, only bytes proven raw are cloned.
      try {
        checkDetected(await detectFormat((off, len) => (off >= size ? Promise.resolve(Buffer.alloc(0)) : img.read(off, Math.min(len, size - off))), size));
      } catch (err) {
        if (!(err instanceof ImageFormatError)) throw err;
        logger.warn(`not cloning ${url}: ${err.message}`);
        return { url, reason: 'not-raw-bytes', detail: `${url}: ${err.message}` };
      }
      return { ...loc, size };
    });
  } catch (err) {
    if (!(err instanceof CephError)) throw err;
    logger.debug(`Unable to open image ${loc.pool}/${loc.image}@${loc.snapshot}: ${errorText(err)}`);
    const missing = err.code === 'ENOENT';
    return { url, reason: missing ? 'not-found' : 'unreadable', detail: `${loc.pool}/${loc.image}@${loc.snapshot}: ${errorText(err)}` };
  }
}

/**
 * The first candidate location that is cloneable and fits in the volume, or
 * why none is (the last candidate's refusal; 'no-location' when there is none).
 */
export async function firstCloneable(
  session: ClusterSession,
  logger: Logger,
  v: VolumeRef,
  location: ImageLocation,
  meta: ImageMeta | undefined,
): Promise<CloneableLocation | CloneRefusal> {
  let refusal: CloneRefusal = { url: null, reason: 'no-location', detail: 'the image has no location' };
  for (const url of candidateLocations(location)) {
    const loc = await cloneable(session, logger, url, meta);
    if ('reason' in loc) {
      refusal = loc;
      continue;
    }
    if (loc.size > v.size * GiB) {
      logger.debug(`image ${url} (${loc.size} bytes) does not fit in volume ${v.name} (${v.size} GiB)`);
      refusal = { url, reason: 'too-large', detail: `image ${url} (${loc.size} bytes) does not fit in volume ${v.name} (${v.size} GiB)` };
      continue;
    }
    return loc;
  }
  return refusal;
}
