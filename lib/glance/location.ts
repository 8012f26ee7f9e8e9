/**
 * Glance RBD location URIs (docs/DESIGN.md#locations):
 *
 *   rbd://<fsid>/<pool>/<image>/<snapshot>   each part percent-encoded, no safe characters
 *   rbd://<image>                             legacy form, not encoded
 *
 * The parser follows glance_store's rules to the letter, including the order
 * of its checks (the component count before emptiness), so a URI accepted or
 * refused by Glance is accepted or refused here.
 */
import { quote, unquote } from '../internal/percent';
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

export { quote, unquote };
