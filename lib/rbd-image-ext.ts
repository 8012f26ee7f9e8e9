/**
 * More Image calls: snapshots by id and namespace, snapshot create flags,
 * legacy advisory locks, writesame, compare-and-write, aio variants,
 * resize without shrinking, descendants, sparse copy; and pool statistics.
 */
import { CompareMismatch } from './errors';
import { type NativeLinkedImage, type NativeMirrorSnapNamespace, type NativePoolStats, addon } from './native';
import { type LongOperationOptions, runLong } from './progress';
import type { IoCtx } from './rados';
import { type CreateImageOptions, Image } from './rbd';
import { type GroupSnapCreateOptions, snapCreateFlags } from './rbd-group';
import './setup';
import {
  checkBoolean,
  checkBuffer,
  checkExtent,
  checkFunction,
  checkInteger,
  checkLength,
  checkName,
  checkObject,
  checkOffsetLength,
  checkString,
  checkU64,
  invalidType,
  outOfRange,
} from './validate';

export type LinkedImage = NativeLinkedImage;
export type MirrorSnapNamespace = NativeMirrorSnapNamespace;
export type PoolStats = NativePoolStats;
export type SnapCreateOptions = GroupSnapCreateOptions & Pick<LongOperationOptions, 'onProgress'>;

/** LIBRADOS_OP_FLAG_FADVISE_* hints for aioRead2/aioWrite2/writeSame/compareAndWrite. */
export const OpFlags = {
  FADVISE_RANDOM: 0x4,
  FADVISE_SEQUENTIAL: 0x8,
  FADVISE_WILLNEED: 0x10,
  FADVISE_DONTNEED: 0x20,
  FADVISE_NOCACHE: 0x40,
} as const;

function opFlags(value: unknown): number {
  return value === undefined ? 0 : checkInteger(value, 'opFlags', 0, 0x7f);
}

function snapId(value: unknown): number | bigint {
  return checkU64(value, 'id');
}

/** Pool-level RBD statistics (rbd_pool_stats_get) of the IoCtx's pool and namespace. */
export function poolStats(ioctx: IoCtx): Promise<PoolStats> {
  return addon.rbdx.poolStats(ioctx.native);
}

declare module './rbd' {
  interface Image {
    // ---- snapshots by id / namespace ----
    snapGetName(id: number | bigint): Promise<string>;
    snapGetId(name: string): Promise<number>;
    /** RBD_SNAP_NAMESPACE_TYPE_*: 0 user, 1 group, 2 trash, 3 mirror. */
    snapGetNamespaceType(id: number | bigint): Promise<number>;
    /** The group snapshot a group-namespace snapshot belongs to (InvalidArgument otherwise). */
    snapGetGroupNamespace(id: number | bigint): Promise<{ poolId: number; group: string; groupSnapshot: string }>;
    /** The original name of a snapshot in the trash namespace (InvalidArgument otherwise). */
    snapGetTrashNamespace(id: number | bigint): Promise<string>;
    /** Mirror-snapshot details (InvalidArgument for a non-mirror snapshot). */
    snapGetMirrorNamespace(id: number | bigint): Promise<MirrorSnapNamespace>;
    /** Removes a snapshot by id, whatever its namespace. */
    snapRemoveById(id: number | bigint): Promise<void>;
    /** Reads from the snapshot with this id, or from the head when null. */
    snapSetById(id: number | bigint | null): Promise<void>;
    /** Creates a snapshot with rbd_snap_create2 flags (quiesce control) and progress. */
    createSnap2(name: string, options?: SnapCreateOptions): Promise<void>;
    // ---- legacy advisory locks ----
    /** Takes the legacy exclusive lock with `cookie` (ImageBusy when held by another, ImageExists when held by us). */
    lockExclusive(cookie: string): Promise<void>;
    lockShared(cookie: string, tag: string): Promise<void>;
    /** Releases a lock this client holds (ImageNotFound when it holds none with that cookie). */
    unlock(cookie: string): Promise<void>;
    // ---- data ----
    /** Writes `pattern` repeated over `length` bytes (a multiple of the pattern length). */
    writeSame(offset: number | bigint, length: number | bigint, pattern: Uint8Array, options?: { opFlags?: number }): Promise<number>;
    /** Writes `data` only if the image holds `compare` there (atomic); else CompareMismatch with mismatchOffset (from `offset`). */
    compareAndWrite(offset: number | bigint, compare: Uint8Array, data: Uint8Array, options?: { opFlags?: number }): Promise<number>;
    aioWriteSame(offset: number | bigint, length: number | bigint, pattern: Uint8Array, options?: { opFlags?: number }): Promise<number>;
    aioCompareAndWrite(offset: number | bigint, compare: Uint8Array, data: Uint8Array, options?: { opFlags?: number }): Promise<number>;
    /** aioRead with op flags (OpFlags.FADVISE_*). */
    aioRead2(offset: number | bigint, length: number, options?: { opFlags?: number }): Promise<Buffer>;
    /** aioWrite with op flags (OpFlags.FADVISE_*). */
    aioWrite2(data: Uint8Array, offset: number | bigint, options?: { opFlags?: number }): Promise<number>;
    /** Scatter read: fills `buffers` in order from `offset` in one request; resolves bytes read. */
    aioReadv(offset: number | bigint, buffers: Uint8Array[]): Promise<number>;
    /** Gather write: writes `buffers` back to back from `offset` in one request. */
    aioWritev(buffers: Uint8Array[], offset: number | bigint): Promise<number>;
    /** resize with `allowShrink: false` refuses to shrink (InvalidArgument) instead of discarding data. */
    resize2(size: number | bigint, options?: LongOperationOptions & { allowShrink?: boolean }): Promise<void>;
    /** True for a format-1 image. */
    oldFormat(): Promise<boolean>;
    /** Every clone descending from this image (or from its current snapshot), recursively. */
    listDescendants(): Promise<LinkedImage[]>;
    /** Copies to a new image, leaving zeroed runs of `sparseSize` bytes unallocated. */
    copySparse(destIoctx: IoCtx, destName: string, options?: LongOperationOptions & CreateImageOptions & { sparseSize?: number }): Promise<void>;
  }
}

const P = Image.prototype;

P.snapGetName = async function (this: Image, id) {
  return addon.rbdx.snapGetName(this.native, snapId(id));
};
P.snapGetId = async function (this: Image, name) {
  return addon.rbdx.snapGetId(this.native, checkName(name, 'name'));
};
P.snapGetNamespaceType = async function (this: Image, id) {
  return addon.rbdx.snapGetNamespaceType(this.native, snapId(id));
};
P.snapGetGroupNamespace = async function (this: Image, id) {
  return addon.rbdx.snapGetGroupNamespace(this.native, snapId(id));
};
P.snapGetTrashNamespace = async function (this: Image, id) {
  return addon.rbdx.snapGetTrashNamespace(this.native, snapId(id));
};
P.snapGetMirrorNamespace = async function (this: Image, id) {
  return addon.rbdx.snapGetMirrorNamespace(this.native, snapId(id));
};
P.snapRemoveById = async function (this: Image, id) {
  return addon.rbdx.snapRemoveById(this.native, snapId(id));
};
P.snapSetById = async function (this: Image, id) {
  return addon.rbdx.snapSetById(this.native, id === null ? null : snapId(id));
};
P.createSnap2 = async function (this: Image, name, options = {}) {
  const snap = checkName(name, 'name');
  const o = checkObject<SnapCreateOptions>(options, 'options');
  const onProgress = checkFunction<(d: number, t: number) => void>(o.onProgress, 'options.onProgress');
  return addon.rbdx.snapCreate2(this.native, snap, snapCreateFlags({ skipQuiesce: o.skipQuiesce, ignoreQuiesceError: o.ignoreQuiesceError }), onProgress);
};

P.lockExclusive = async function (this: Image, cookie) {
  return addon.rbdx.lockExclusive(this.native, checkString(cookie, 'cookie'));
};
P.lockShared = async function (this: Image, cookie, tag) {
  return addon.rbdx.lockShared(this.native, checkString(cookie, 'cookie'), checkString(tag, 'tag'));
};
P.unlock = async function (this: Image, cookie) {
  return addon.rbdx.unlock(this.native, checkString(cookie, 'cookie'));
};

function checkPattern(offset: unknown, length: unknown, pattern: unknown): [number | bigint, number | bigint, Buffer] {
  const [off, len] = checkOffsetLength(offset, length);
  const buf = checkBuffer(pattern, 'pattern');
  if (buf.length === 0) throw outOfRange('pattern', 'a non-empty Buffer', pattern);
  return [off, len, buf];
}

function checkCompare(offset: unknown, compare: unknown, data: unknown): [number | bigint, Buffer, Buffer] {
  const off = checkU64(offset, 'offset');
  const cmp = checkBuffer(compare, 'compare');
  const buf = checkBuffer(data, 'data');
  if (cmp.length !== buf.length) throw outOfRange('compare', `a Buffer of ${buf.length} bytes (the length of data)`, cmp.length);
  checkExtent(off, buf.length, 'data');
  return [off, cmp, buf];
}

P.writeSame = async function (this: Image, offset, length, pattern, options = {}) {
  const [off, len, buf] = checkPattern(offset, length, pattern);
  return addon.rbdx.writeSame(this.native, off, len, buf, opFlags(options.opFlags));
};
P.aioWriteSame = async function (this: Image, offset, length, pattern, options = {}) {
  const [off, len, buf] = checkPattern(offset, length, pattern);
  return addon.rbdx.aioWriteSame(this.native, off, len, buf, opFlags(options.opFlags));
};
P.compareAndWrite = async function (this: Image, offset, compare, data, options = {}) {
  const [off, cmp, buf] = checkCompare(offset, compare, data);
  return addon.rbdx.compareAndWrite(this.native, off, cmp, buf, opFlags(options.opFlags));
};
P.aioCompareAndWrite = async function (this: Image, offset, compare, data, options = {}) {
  const [off, cmp, buf] = checkCompare(offset, compare, data);
  const mismatch = Buffer.alloc(8);
  try {
    return await addon.rbdx.aioCompareAndWrite(this.native, off, cmp, buf, mismatch, opFlags(options.opFlags));
  } catch (err) {
    if (err instanceof CompareMismatch) err.mismatchOffset = Number(mismatch.readBigUInt64LE(0));
    throw err;
  }
};
P.aioRead2 = async function (this: Image, offset, length, options = {}) {
  const off = checkU64(offset, 'offset');
  const len = checkLength(length, 'length');
  checkExtent(off, len);
  if (len === 0) return Buffer.alloc(0);
  const buf = Buffer.allocUnsafe(len);
  const n = await addon.rbdx.aioRead2(this.native, off, buf, opFlags(options.opFlags));
  return n === buf.length ? buf : buf.subarray(0, n);
};
P.aioWrite2 = async function (this: Image, data, offset, options = {}) {
  const buf = checkBuffer(data, 'data');
  const off = checkU64(offset, 'offset');
  checkExtent(off, buf.length, 'data');
  return addon.rbdx.aioWrite2(this.native, buf, off, opFlags(options.opFlags));
};

function checkBuffers(value: unknown): Buffer[] {
  if (!Array.isArray(value)) throw invalidType('buffers', 'an array of Buffers', value);
  if (value.length === 0 || value.length > 1024) throw outOfRange('buffers.length', 'an integer from 1 to 1024', value.length);
  const bufs = value.map((b, i) => checkBuffer(b, `buffers[${i}]`));
  if (bufs.every((b) => b.length === 0)) throw outOfRange('buffers', 'at least one non-empty Buffer', value);
  return bufs;
}

P.aioReadv = async function (this: Image, offset, buffers) {
  const off = checkU64(offset, 'offset');
  const bufs = checkBuffers(buffers);
  checkExtent(off, bufs.reduce((n, b) => n + b.length, 0), 'buffers');
  return addon.rbdx.aioReadv(this.native, off, bufs);
};
P.aioWritev = async function (this: Image, buffers, offset) {
  const off = checkU64(offset, 'offset');
  const bufs = checkBuffers(buffers);
  checkExtent(off, bufs.reduce((n, b) => n + b.length, 0), 'buffers');
  return addon.rbdx.aioWritev(this.native, bufs, off);
};
P.resize2 = async function (this: Image, size, options = {}) {
  const n = checkU64(size, 'size');
  const o = checkObject<{ allowShrink: boolean }>(options, 'options');
  const allow = o.allowShrink === undefined ? true : checkBoolean(o.allowShrink, 'options.allowShrink');
  return runLong(options, (p, c) => addon.rbdx.resize2(this.native, n, allow, p, c));
};
P.oldFormat = async function (this: Image) {
  return addon.rbdx.oldFormat(this.native);
};
P.listDescendants = async function (this: Image) {
  return addon.rbdx.listDescendants(this.native);
};
P.copySparse = async function (this: Image, destIoctx, destName, options = {}) {
  const name = checkName(destName, 'destName');
  const { onProgress, signal, sparseSize, ...create } = checkObject<LongOperationOptions & CreateImageOptions & { sparseSize: number }>(options, 'options');
  const sparse = sparseSize === undefined ? 4096 : checkInteger(sparseSize, 'options.sparseSize', 4096, 2 ** 31 - 1);
  const opts: Record<string, unknown> = {};
  if (create.order !== undefined) opts.order = checkInteger(create.order, 'options.order', 12, 26);
  if (create.features !== undefined) opts.features = checkU64(create.features, 'options.features');
  if (create.dataPool !== undefined) opts.dataPool = checkName(create.dataPool, 'options.dataPool');
  return runLong({ onProgress, signal }, (p, c) => addon.rbdx.copySparse(this.native, destIoctx.native, name, opts, sparse, p, c));
};
