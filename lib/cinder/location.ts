/**
 * The image-location parser Cinder and Nova use to decide whether a Glance
 * image can be cloned copy-on-write (SPEC 1.3, last point): unlike the
 * Glance store's own parser, every piece is percent-decoded first, any empty
 * piece is rejected ("Blank components") before the count is checked, and
 * exactly four pieces are required ("Not an RBD snapshot"). Everything else
 * than `rbd://…` is "Not stored in RBD". All failures are ImageUnacceptable.
 */
import { describeValue } from '../validate';
import { ImageUnacceptable } from './errors';

export interface RbdSnapshotLocation {
  fsid: string;
  pool: string;
  image: string;
  snapshot: string;
}

const PREFIX = 'rbd://';

/**
 * Percent-decoding as Python's urllib.parse.unquote does it: `%XX` with two
 * hex digits becomes that byte, anything else (a lone `%`, `%zz`) is kept
 * verbatim, and the bytes are read as UTF-8 with U+FFFD for invalid
 * sequences (never throws, unlike decodeURIComponent).
 */
export function unquote(piece: string): string {
  if (!piece.includes('%')) return piece;
  const bytes: number[] = [];
  for (let i = 0; i < piece.length; ) {
    const c = piece[i];
    if (c === '%' && /^[0-9a-fA-F]{2}$/.test(piece.slice(i + 1, i + 3))) {
      bytes.push(parseInt(piece.slice(i + 1, i + 3), 16));
      i += 3;
      continue;
    }
    const cp = piece.codePointAt(i) as number;
    const ch = String.fromCodePoint(cp);
    for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
    i += ch.length;
  }
  return Buffer.from(bytes).toString('utf8');
}

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
  const q = encode ? quoteAll : (s: string): string => s;
  return `${PREFIX}${q(loc.fsid)}/${q(loc.pool)}/${q(loc.image)}/${q(loc.snapshot)}`;
}

/** Percent-encodes everything but letters, digits and `_.-~` (Python's quote with safe=''). */
function quoteAll(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
