/**
 * The image-location parser Cinder and Nova use to decide whether a Glance
 * image can be cloned copy-on-write (docs/DESIGN.md#locations): unlike the
 * Glance store's own parser, every piece is percent-decoded first, any empty
 * piece is rejected ("Blank components") before the count is checked, and
 * exactly four pieces are required ("Not an RBD snapshot"). Everything else
 * than `rbd://…` is "Not stored in RBD". All failures are ImageUnacceptable.
 */
import { quote, unquote } from '../internal/percent';
import { describeValue } from '../validate';
import { ImageUnacceptable } from './errors';

export interface RbdSnapshotLocation {
  fsid: string;
  pool: string;
  image: string;
  snapshot: string;
}

const PREFIX = 'rbd://';

/** Parses `rbd://<fsid>/<pool>/<image>/<snapshot>`; ImageUnacceptable otherwise. */
export function parseRbdSnapshotLocation(location: string): RbdSnapshotLocation {
  if (typeof location !== 'string' || !location.startsWith(PREFIX)) {
    throw new ImageUnacceptable(typeof location === 'string' ? location : describeValue(location), 'Not stored in RBD');
  }
  const pieces = location.slice(PREFIX.length).split('/').map(unquote);
  if (pieces.some((p) => p === '')) throw new ImageUnacceptable(location, 'Blank components');
  if (pieces.length !== 4) throw new ImageUnacceptable(location, 'Not an RBD snapshot');
  const [fsid, pool, image, snapshot] = pieces as [string, string, string, string];
  return { fsid, pool, image, snapshot };
}

/** The location URL Nova and Glance write: `rbd://<fsid>/<pool>/<image>/<snapshot>`, pieces percent-encoded. */
export function formatRbdSnapshotLocation(loc: RbdSnapshotLocation, encode = true): string {
  const q = encode ? quote : (s: string): string => s;
  return `${PREFIX}${q(loc.fsid)}/${q(loc.pool)}/${q(loc.image)}/${q(loc.snapshot)}`;
}

export { unquote };
