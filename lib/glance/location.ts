/**
 * Glance RBD location URIs (SPEC 1.3):
 *
 *   rbd://<fsid>/<pool>/<image>/<snapshot>   each part percent-encoded, no safe characters
 *   rbd://<image>                             legacy form, not encoded
 *
 * The parser follows glance_store's rules to the letter, including the order
 * of its checks (the component count before emptiness), so a URI accepted or
 * refused by Glance is accepted or refused here.
 */
import { invalidType } from '../validate';
import { BadStoreUri } from './errors';

export const RBD_SCHEME_PREFIX = 'rbd://';

/** A parsed location. fsid, pool and snapshot are null in the legacy form. */
export interface RbdLocation {
  fsid: string | null;
  pool: string | null;
  image: string;
  snapshot: string | null;
}

/** What formatLocation takes: the four-part form needs fsid, pool and snapshot. */
export interface RbdLocationParts {
  fsid?: string | null;
  pool?: string | null;
  image: string;
  snapshot?: string | null;
}

const HEX = '0123456789ABCDEF';

function isUnreserved(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) || // 0-9
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e // - . _ ~
  );
}

/**
 * Percent-encodes like Python's `urllib.parse.quote(s, safe='')`: the UTF-8
 * bytes of everything but letters, digits and `_.-~` become %XX (upper case).
 */
export function quote(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) out += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Decodes like Python's `urllib.parse.unquote`: each valid %XX becomes a
 * byte, anything else (a lone or malformed %) stays as it is, and the bytes
 * are read as UTF-8 with invalid sequences replaced by U+FFFD.
 */
export function unquote(value: string): string {
  if (!value.includes('%')) return value;
  const src = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    if (src[i] === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]);
      const lo = hexValue(src[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = src[i];
  }
  return out.toString('utf8', 0, n);
}

function fail(reason: string, uri: string): never {
  throw new BadStoreUri(reason, { uri });
}

/**
 * Parses a Glance RBD location. BadStoreUri (with Glance's reason as the
 * message) when it does not start with `rbd://`, contains non-ASCII
 * characters, has other than 1 or 4 components, or an empty component.
 */
export function parseLocation(uri: string): RbdLocation {
  if (typeof uri !== 'string') throw invalidType('uri', 'a string', uri);
  if (!uri.startsWith(RBD_SCHEME_PREFIX)) fail(`Location URI must start with one of: ${RBD_SCHEME_PREFIX}`, uri);
  // librbd takes C strings: refuse what is not plain ASCII, as Glance does.
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(uri)) fail('URI contains non-ascii characters', uri);
  const pieces = uri.slice(RBD_SCHEME_PREFIX.length).split('/');
  let location: RbdLocation;
  if (pieces.length === 1) {
    location = { fsid: null, pool: null, image: pieces[0], snapshot: null };
  } else if (pieces.length === 4) {
    const [fsid, pool, image, snapshot] = pieces.map(unquote);
    location = { fsid, pool, image, snapshot };
  } else {
    fail('URI must have exactly 1 or 4 components', uri);
  }
  if (pieces.some((p) => p === '')) fail('URI cannot contain empty components', uri);
  return location;
}

function present(value: string | null | undefined): value is string {
  return typeof value === 'string' && value !== '';
}

/**
 * The location URI of an image: the four-part form, each part percent-encoded
 * with no safe characters, when fsid, pool and snapshot are all set; the
 * legacy `rbd://<image>` (not encoded) otherwise.
 */
export function formatLocation(parts: RbdLocationParts): string {
  if (parts === null || typeof parts !== 'object') throw invalidType('location', 'an object', parts);
  if (typeof parts.image !== 'string') throw invalidType('location.image', 'a string', parts.image);
  for (const key of ['fsid', 'pool', 'snapshot'] as const) {
    const v = parts[key];
    if (v !== undefined && v !== null && typeof v !== 'string') throw invalidType(`location.${key}`, 'a string', v);
  }
  if (present(parts.fsid) && present(parts.pool) && present(parts.snapshot)) {
    return `${RBD_SCHEME_PREFIX}${quote(parts.fsid)}/${quote(parts.pool)}/${quote(parts.image)}/${quote(parts.snapshot)}`;
  }
  return `${RBD_SCHEME_PREFIX}${parts.image}`;
}
