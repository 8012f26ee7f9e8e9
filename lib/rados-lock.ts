/**
 * Advisory object locks (cls_lock): named, exclusive or shared, held by
 * this client under a cookie. Another client asking for a held lock gets
 * ObjectBusy (EBUSY); the holder asking again gets ObjectExists (EEXIST)
 * unless it renews.
 */
import { addon, type NativeObjectLockers } from './native';
import { IoCtx } from './rados';
import { extend } from './rados-extend';
import './setup';
import { checkBoolean, checkInteger, checkName, checkObject, checkString } from './validate';

/** LIBRADOS_LOCK_FLAG_MAY_RENEW: take the lock, or renew it when this cookie holds it. */
export const LOCK_FLAG_MAY_RENEW = 1;
/** LIBRADOS_LOCK_FLAG_MUST_RENEW: renew only; fails when this cookie does not hold it. */
export const LOCK_FLAG_MUST_RENEW = 2;

export interface LockOptions {
  /** How long the lock holds without renewal, in ms (default: until unlocked). */
  durationMs?: number;
  description?: string;
  /** Renew the lock when this cookie already holds it (LIBRADOS_LOCK_FLAG_MAY_RENEW). */
  renew?: boolean;
  /** Renew only (LIBRADOS_LOCK_FLAG_MUST_RENEW). */
  mustRenew?: boolean;
}
export type ObjectLockers = NativeObjectLockers;

function lockArgs(options: LockOptions): [string, number, number] {
  const o = checkObject<LockOptions>(options, 'options');
  const duration = o.durationMs === undefined ? 0 : checkInteger(o.durationMs, 'options.durationMs', 0, Number.MAX_SAFE_INTEGER);
  const flags = (o.renew === undefined ? 0 : checkBoolean(o.renew, 'options.renew') ? LOCK_FLAG_MAY_RENEW : 0) | (o.mustRenew === undefined ? 0 : checkBoolean(o.mustRenew, 'options.mustRenew') ? LOCK_FLAG_MUST_RENEW : 0);
  return [o.description === undefined ? '' : checkString(o.description, 'options.description'), duration, flags];
}

declare module './rados' {
  interface IoCtx {
    /** Takes the exclusive lock `name` on `oid` under `cookie` (ObjectBusy when another holds it). */
    lockExclusive(oid: string, name: string, cookie: string, options?: LockOptions): Promise<void>;
    /** Takes the shared lock `name` (holders must use the same `tag`). */
    lockShared(oid: string, name: string, cookie: string, tag: string, options?: LockOptions): Promise<void>;
    /** Releases this client's lock (ObjectNotFound when it holds none under `cookie`). */
    unlock(oid: string, name: string, cookie: string): Promise<void>;
    /** Who holds lock `name`: { exclusive, tag, lockers: [{ client, cookie, address }] }. */
    listLockers(oid: string, name: string): Promise<ObjectLockers>;
    /** Removes the lock `client` (e.g. 'client.4123') holds under `cookie`. */
    breakLock(oid: string, name: string, client: string, cookie: string): Promise<void>;
  }
}

extend(IoCtx.prototype, {
  async lockExclusive(this: IoCtx, oid: string, name: string, cookie: string, options: LockOptions = {}) {
    const [desc, duration, flags] = lockArgs(options);
    return addon.rados.lockExclusive(this.native, checkName(oid, 'oid'), checkName(name, 'name'), checkString(cookie, 'cookie'), desc, duration, flags);
  },
  async lockShared(this: IoCtx, oid: string, name: string, cookie: string, tag: string, options: LockOptions = {}) {
    const [desc, duration, flags] = lockArgs(options);
    return addon.rados.lockShared(this.native, checkName(oid, 'oid'), checkName(name, 'name'), checkString(cookie, 'cookie'), checkString(tag, 'tag'), desc, duration, flags);
  },
  async unlock(this: IoCtx, oid: string, name: string, cookie: string) {
    return addon.rados.unlock(this.native, checkName(oid, 'oid'), checkName(name, 'name'), checkString(cookie, 'cookie'));
  },
  async listLockers(this: IoCtx, oid: string, name: string) {
    return addon.rados.listLockers(this.native, checkName(oid, 'oid'), checkName(name, 'name'));
  },
  async breakLock(this: IoCtx, oid: string, name: string, client: string, cookie: string) {
    return addon.rados.breakLock(this.native, checkName(oid, 'oid'), checkName(name, 'name'), checkName(client, 'client'), checkString(cookie, 'cookie'));
  },
});
