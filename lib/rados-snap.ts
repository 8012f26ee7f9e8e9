/**
 * Pool snapshots (a snapshot of every object of the pool, by name) and
 * self-managed snapshots (ids the application allocates and passes as the
 * write context, as librbd does). A pool uses one kind or the other.
 */
import { addon, type NativePoolSnap } from './native';
import { IoCtx } from './rados';
import { extend } from './rados-extend';
import './setup';
import { checkName, checkU64, invalidType } from './validate';

export type PoolSnap = NativePoolSnap;
type Id = number | bigint;

declare module './rados' {
  interface IoCtx {
    poolSnapCreate(name: string): Promise<void>;
    poolSnapRemove(name: string): Promise<void>;
    /** Puts one object back to its content at pool snapshot `snapName`. */
    poolSnapRollback(oid: string, snapName: string): Promise<void>;
    poolSnapList(): Promise<PoolSnap[]>;
    /** The id of pool snapshot `name` (ObjectNotFound when none). */
    poolSnapLookup(name: string): Promise<bigint>;
    poolSnapGetName(id: Id): Promise<string>;
    /** Creation time, ms since the epoch (whole seconds). */
    poolSnapGetTimestamp(id: Id): Promise<number>;
    /** Reads of this context see snapshot `id` (null: the live objects). Local; set before reading. */
    snapSetRead(id: Id | null): void;
    /** Allocates a self-managed snapshot id. */
    selfmanagedSnapCreate(): Promise<bigint>;
    selfmanagedSnapRemove(id: Id): Promise<void>;
    /** Puts one object back to its content at self-managed snapshot `id`. */
    selfmanagedSnapRollback(oid: string, id: Id): Promise<void>;
    /**
     * The snapshot context of later writes: `seq` (the newest id) and the
     * existing snapshot ids, newest first. Local; set before writing.
     */
    selfmanagedSnapSetWriteContext(seq: Id, snaps: Id[]): void;
  }
}

extend(IoCtx.prototype, {
  async poolSnapCreate(this: IoCtx, name: string) {
    return addon.rados.snapCreate(this.native, checkName(name, 'name'));
  },
  async poolSnapRemove(this: IoCtx, name: string) {
    return addon.rados.snapRemove(this.native, checkName(name, 'name'));
  },
  async poolSnapRollback(this: IoCtx, oid: string, snapName: string) {
    return addon.rados.snapRollback(this.native, checkName(oid, 'oid'), checkName(snapName, 'snapName'));
  },
  async poolSnapList(this: IoCtx) {
    return addon.rados.snapList(this.native);
  },
  async poolSnapLookup(this: IoCtx, name: string) {
    return addon.rados.snapLookup(this.native, checkName(name, 'name'));
  },
  async poolSnapGetName(this: IoCtx, id: Id) {
    return addon.rados.snapGetName(this.native, checkU64(id, 'id'));
  },
  async poolSnapGetTimestamp(this: IoCtx, id: Id) {
    return addon.rados.snapGetStamp(this.native, checkU64(id, 'id'));
  },
  snapSetRead(this: IoCtx, id: Id | null) {
    addon.rados.snapSetRead(this.native, id === null ? null : checkU64(id, 'id'));
  },
  async selfmanagedSnapCreate(this: IoCtx) {
    return addon.rados.selfmanagedSnapCreate(this.native);
  },
  async selfmanagedSnapRemove(this: IoCtx, id: Id) {
    return addon.rados.selfmanagedSnapRemove(this.native, checkU64(id, 'id'));
  },
  async selfmanagedSnapRollback(this: IoCtx, oid: string, id: Id) {
    return addon.rados.selfmanagedSnapRollback(this.native, checkName(oid, 'oid'), checkU64(id, 'id'));
  },
  selfmanagedSnapSetWriteContext(this: IoCtx, seq: Id, snaps: Id[]) {
    if (!Array.isArray(snaps)) throw invalidType('snaps', 'an array of snapshot ids', snaps);
    addon.rados.selfmanagedSnapSetWriteContext(this.native, checkU64(seq, 'seq'), snaps.map((s) => checkU64(s, 'snaps[]')));
  },
});
