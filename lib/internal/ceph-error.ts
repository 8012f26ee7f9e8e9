/**
 * The one way TypeScript code builds a Ceph error itself (one the addon did
 * not report): a typed class, Node's system-error shape, the errno name as
 * `code`, the message `<op>: <description> (pool=…, image=…)`.
 */
import { constants } from 'node:os';

import { type CephError, type CephErrorFields, TimedOut } from '../errors';

type Context = Omit<CephErrorFields, 'code' | 'errno' | 'op'>;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/**
 * `new Class(message, fields)` for a failure of `op` with the positive
 * errno `errno` (e.g. `constants.errno.EIO`).
 */
export function cephError<E extends CephError>(
  Class: new (message: string, fields?: CephErrorFields) => E,
  op: string,
  errno: number,
  description: string,
  context: Context = {},
): E {
  const where = (['pool', 'namespace', 'image', 'snapshot', 'object'] as const)
    .filter((k) => context[k] !== undefined && context[k] !== '')
    .map((k) => `${k}=${context[k]}`)
    .join(', ');
  const message = `${op}: ${description}${where ? ` (${where})` : ''}`;
  return new Class(message, { ...context, op, errno: -errno, code: ERRNO_NAMES.get(errno) ?? `E${errno}` });
}

/**
 * librbd reports an exclusive lock lost to an OSD op timeout (the OSDs
 * stopped answering while the lock was being acquired or refreshed) as
 * EROFS ("read-only file system") or EBADMSG ("bad message": what Pacific
 * 16.2 answers for createSnap with the OSDs SIGSTOPped, after twice the op
 * timeout; test/reliability/faults.ts). On a writable image whose call took at least
 * `rados_osd_op_timeout`, either is a TimedOut; the original error is kept
 * as `cause`. Anything else is returned as is.
 */
export function lockLostToTimeout(err: unknown, readOnly: boolean, opTimeoutMs: number, elapsedMs: number): unknown {
  const e = err as Partial<CephError> | null;
  if (readOnly || opTimeoutMs <= 0 || e === null || typeof e !== 'object' || (e.code !== 'EROFS' && e.code !== 'EBADMSG') || e.family !== 'rbd') return err;
  if (elapsedMs < opTimeoutMs) return err;
  const out = cephError(TimedOut, e.op ?? 'unknown', constants.errno.ETIMEDOUT, `timed out after ${opTimeoutMs} ms: librbd lost the exclusive lock (${e.message ?? ''})`, {
    family: 'rbd',
    pool: e.pool,
    image: e.image,
    snapshot: e.snapshot,
  });
  Object.defineProperty(out, 'cause', { value: err, enumerable: false, writable: true, configurable: true });
  return out;
}
