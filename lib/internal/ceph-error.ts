/**
 * The one way TypeScript code builds a Ceph error itself (one the addon did
 * not report): a typed class, Node's system-error shape, the errno name as
 * `code`, the message `<op>: <description> (pool=…, image=…)`.
 */
import { constants } from 'node:os';

import type { CephError, CephErrorFields } from '../errors';

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
