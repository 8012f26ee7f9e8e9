/** Typed wrappers over librbd: pool-level functions (Rbd) and open images (Image). */
import { constants } from 'node:os';

import { RBD_LOCK_MODE_EXCLUSIVE, RBD_LOCK_MODE_SHARED, RBD_SNAP_REMOVE_FLATTEN, RBD_SNAP_REMOVE_FORCE, RBD_SNAP_REMOVE_UNPROTECT } from './constants';
import { IncompleteWriteError } from './errors';
import { cephError } from './internal/ceph-error';
import { addon, type NativeImage, type NativeImageOptions } from './native';
import { type LongOperationOptions, runLong } from './progress';
import type { IoCtx } from './rados';
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
  checkOptionalName,
  checkString,
  checkU64,
  invalidType,
  outOfRange,
} from './validate';

/**
 * An image size: at most 2^53 - 1 bytes (8 PiB), so that size() and stat()
 * answer an exact Number; a bigint is accepted up to the same bound.
 */
function checkImageSize(size: unknown): number | bigint {
  const n = checkU64(size, 'size');
  if (n > Number.MAX_SAFE_INTEGER) throw outOfRange('size', `a size up to ${Number.MAX_SAFE_INTEGER} bytes (2^53 - 1)`, size);
  return n;
}

export interface CreateImageOptions {
  /** Object size as a power of two (12..26 on Pacific); default from rbd_default_order (22 = 4 MiB). */
  order?: number;
  /** Feature bits; default: the cluster's rbd_default_features. */
  features?: number | bigint;
  /** Stripe unit in bytes (must divide the object size). */
  stripeUnit?: number | bigint;
  stripeCount?: number | bigint;
  /** Pool for the data objects (erasure-coded pools). */
  dataPool?: string;
}

export interface CloneOptions extends CreateImageOptions {
  /** 1 = protected parent snapshot required (v1), 2 = clone v2 (no protection needed). */
  cloneFormat?: 1 | 2;
}

export interface TrashEntry {
  id: string;
  name: string;
  /** RBD_TRASH_IMAGE_SOURCE_* */
  source: number;
  deletionTimeMs: number;
  defermentEndTimeMs: number;
}

function imageOptions(options: CreateImageOptions | CloneOptions | undefined, name = 'options'): NativeImageOptions {
  const o = checkObject<CloneOptions>(options, name);
  const out: NativeImageOptions = {};
  if (o.order !== undefined) out.order = checkInteger(o.order, `${name}.order`, 12, 26);
  if (o.features !== undefined) out.features = checkU64(o.features, `${name}.features`);
  if (o.stripeUnit !== undefined) out.stripeUnit = checkU64(o.stripeUnit, `${name}.stripeUnit`);
  if (o.stripeCount !== undefined) out.stripeCount = checkU64(o.stripeCount, `${name}.stripeCount`);
  if (o.dataPool !== undefined) out.dataPool = checkName(o.dataPool, `${name}.dataPool`);
  if (o.cloneFormat !== undefined) out.cloneFormat = checkInteger(o.cloneFormat, `${name}.cloneFormat`, 1, 2);
  return out;
}

/** Pool-level RBD operations (python-rbd's RBD class). */
export const Rbd = {
  /** librbd's version. */
  version(): { major: number; minor: number; extra: number } {
    return addon.rbd.version();
  },

  /** Creates a format-2 image of `size` bytes. ImageExists when the name is taken. */
  async create(ioctx: IoCtx, name: string, size: number | bigint, options?: CreateImageOptions): Promise<void> {
    return addon.rbd.create(ioctx.native, checkName(name, 'name'), checkImageSize(size), imageOptions(options));
  },

  /** Image names in the pool (namespace) of `ioctx`. */
  async list(ioctx: IoCtx): Promise<string[]> {
    return (await addon.rbd.list(ioctx.native)).map((s) => s.name);
  },

  /** Images with their ids. */
  async list2(ioctx: IoCtx): Promise<Array<{ id: string; name: string }>> {
    return addon.rbd.list(ioctx.native);
  },

  /** Removes an image: ImageHasSnapshots, ImageBusy (watchers), ImageNotFound. */
  async remove(ioctx: IoCtx, name: string, options?: LongOperationOptions): Promise<void> {
    const image = checkName(name, 'name');
    return runLong(options, (p, c) => addon.rbd.remove(ioctx.native, image, p, c));
  },

  async rename(ioctx: IoCtx, src: string, dst: string): Promise<void> {
    return addon.rbd.rename(ioctx.native, checkName(src, 'src'), checkName(dst, 'dst'));
  },

  /** Clones `parentName@snapName` into `childName` (copy-on-write). */
  async clone(parentIoctx: IoCtx, parentName: string, snapName: string, childIoctx: IoCtx, childName: string, options?: CloneOptions): Promise<void> {
    return addon.rbd.clone(
      parentIoctx.native,
      checkName(parentName, 'parentName'),
      checkName(snapName, 'snapName'),
      childIoctx.native,
      checkName(childName, 'childName'),
      imageOptions(options),
    );
  },

  /** Moves an image to the trash; it cannot be removed from it before `delaySeconds`. */
  async trashMove(ioctx: IoCtx, name: string, delaySeconds = 0): Promise<void> {
    return addon.rbd.trashMove(ioctx.native, checkName(name, 'name'), checkInteger(delaySeconds, 'delaySeconds', 0, 2 ** 31 - 1));
  },

  trashList(ioctx: IoCtx): Promise<TrashEntry[]> {
    return addon.rbd.trashList(ioctx.native);
  },

  async trashGet(ioctx: IoCtx, id: string): Promise<TrashEntry> {
    return addon.rbd.trashGet(ioctx.native, checkName(id, 'id'));
  },

  async trashRestore(ioctx: IoCtx, id: string, name: string): Promise<void> {
    return addon.rbd.trashRestore(ioctx.native, checkName(id, 'id'), checkName(name, 'name'));
  },

  /** Removes an image from the trash (PermissionDenied before its deferment ends unless `force`). */
  async trashRemove(ioctx: IoCtx, id: string, options: LongOperationOptions & { force?: boolean } = {}): Promise<void> {
    const imageId = checkName(id, 'id');
    const force = options.force === undefined ? false : checkBoolean(options.force, 'options.force');
    return runLong(options, (p, c) => addon.rbd.trashRemove(ioctx.native, imageId, force, p, c));
  },

  /** Removes expired trash entries (all whose deferment ended before `expireTs`). */
  async trashPurge(ioctx: IoCtx, options: LongOperationOptions & { expireTs?: Date; threshold?: number } = {}): Promise<void> {
    const o = checkObject<{ expireTs?: Date; threshold?: number }>(options, 'options');
    let expire = Math.floor(Date.now() / 1000);
    if (o.expireTs !== undefined) {
      if (!(o.expireTs instanceof Date)) throw invalidType('options.expireTs', 'a Date', o.expireTs);
      const ms = o.expireTs.getTime();
      if (!Number.isFinite(ms)) throw outOfRange('options.expireTs', 'a valid Date', o.expireTs);
      expire = Math.floor(ms / 1000);
    }
    let threshold = -1; // librbd: no usage threshold
    if (o.threshold !== undefined) {
      if (typeof o.threshold !== 'number') throw invalidType('options.threshold', 'a number', o.threshold);
      if (!(o.threshold >= 0 && o.threshold <= 1)) throw outOfRange('options.threshold', 'a fraction of the pool from 0 to 1', o.threshold);
      threshold = o.threshold;
    }
    return runLong(options, (p, c) => addon.rbd.trashPurge(ioctx.native, expire, threshold, p, c));
  },

  /** Initialises a pool for RBD (`rbd pool init`). */
  async poolInit(ioctx: IoCtx, force = false): Promise<void> {
    return addon.rbd.poolInit(ioctx.native, checkBoolean(force, 'force'));
  },
};

export interface OpenImageOptions {
  /** No watch and no writes (cephx clients without write caps). */
  readOnly?: boolean;
  /** Open at this snapshot (read-only data). */
  snapshot?: string;
  /** Treat the name argument as an image id. */
  byId?: boolean;
}

export interface ImageStat {
  size: number;
  objSize: number;
  numObjs: number;
  order: number;
  blockNamePrefix: string;
  parentPool: number;
  parentName: string;
}

/** A snapshot, as listSnaps() reports it. */
export interface SnapInfo {
  id: number;
  name: string;
  size: number;
  /** SnapNamespaceType: USER, GROUP, TRASH or MIRROR. */
  namespaceType: number;
  timestampMs: number;
  protected: boolean;
}

export interface DiffExtent {
  offset: number;
  length: number;
  /** false: the extent was discarded / is a hole since `fromSnapshot`. */
  exists: boolean;
}

export interface DiffIterateOptions {
  /** Snapshot to diff from; undefined = since the image was created. */
  fromSnapshot?: string;
  offset?: number | bigint;
  /** Default: to the end of the image. */
  length?: number | bigint;
  includeParent?: boolean;
  /** Report whole objects (fast with fast-diff). */
  wholeObject?: boolean;
}

export interface ParentInfo {
  pool: string;
  namespace: string;
  image: string;
  id: string;
  snapshot: string;
  snapshotId: number;
  trash: boolean;
}

export interface ChildInfo {
  pool: string;
  namespace: string;
  image: string;
  id: string;
  trash: boolean;
}

/** An open RBD image (rbd_image_t). Close it with close() or `await using`. */
export class Image {
  readonly #native: NativeImage;
  readonly ioctx: IoCtx;

  private constructor(native: NativeImage, ioctx: IoCtx) {
    this.#native = native;
    this.ioctx = ioctx;
  }

  /** Opens an image (off the JS thread). ImageNotFound when it does not exist. */
  static async open(ioctx: IoCtx, name: string, options?: OpenImageOptions): Promise<Image> {
    const o = checkObject<OpenImageOptions>(options, 'options');
    const native = await addon.openImage(ioctx.native, checkName(name, 'name'), {
      readOnly: o.readOnly === undefined ? false : checkBoolean(o.readOnly, 'options.readOnly'),
      snapshot: checkOptionalName(o.snapshot, 'options.snapshot'),
      byId: o.byId === undefined ? false : checkBoolean(o.byId, 'options.byId'),
    });
    return new Image(native, ioctx);
  }

  /** @internal */
  get native(): NativeImage {
    return this.#native;
  }

  get name(): string {
    return this.#native.name;
  }

  get pool(): string {
    return this.#native.pool;
  }

  /** The snapshot the image reads from, or null for the head. */
  get snapshot(): string | null {
    return this.#native.snapshot;
  }

  get readOnly(): boolean {
    return this.#native.readOnly;
  }

  get state(): 'open' | 'closing' | 'closed' {
    return this.#native.state;
  }

  // ---- information -------------------------------------------------------

  stat(): Promise<ImageStat> {
    return this.#native.stat();
  }

  size(): Promise<number> {
    return this.#native.size();
  }

  features(): Promise<number> {
    return this.#native.features();
  }

  async updateFeatures(mask: number | bigint, enabled: boolean): Promise<void> {
    return this.#native.updateFeatures(checkU64(mask, 'mask'), checkBoolean(enabled, 'enabled'));
  }

  opFeatures(): Promise<number> {
    return this.#native.opFeatures();
  }

  flags(): Promise<number> {
    return this.#native.flags();
  }

  id(): Promise<string> {
    return this.#native.id();
  }

  blockNamePrefix(): Promise<string> {
    return this.#native.blockNamePrefix();
  }

  stripeUnit(): Promise<number> {
    return this.#native.stripeUnit();
  }

  stripeCount(): Promise<number> {
    return this.#native.stripeCount();
  }

  dataPoolId(): Promise<number> {
    return this.#native.dataPoolId();
  }

  timestamps(): Promise<{ createdMs: number; accessedMs: number; modifiedMs: number }> {
    return this.#native.timestamps();
  }

  /** Grows or shrinks the image. */
  async resize(size: number | bigint, options?: LongOperationOptions): Promise<void> {
    const n = checkImageSize(size);
    return runLong(options, (p, c) => this.#native.resize(n, p, c));
  }

  // ---- data (worker thread per call) ------------------------------------

  /** Reads `length` bytes at `offset` (fewer at the end of the image). */
  async read(offset: number | bigint, length: number): Promise<Buffer> {
    const off = checkU64(offset, 'offset');
    const len = checkLength(length, 'length');
    checkExtent(off, len);
    const buf = Buffer.allocUnsafe(len);
    const n = await this.#native.read(off, buf);
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  /** Reads into `buffer` (no allocation); resolves the number of bytes read. */
  async readInto(offset: number | bigint, buffer: Uint8Array): Promise<number> {
    const off = checkU64(offset, 'offset');
    const buf = checkBuffer(buffer, 'buffer');
    checkExtent(off, buf.length, 'buffer');
    return this.#native.read(off, buf);
  }

  /** Writes `data` at `offset` (the Buffer is used in place, not copied). Resolves bytes written. */
  async write(data: Uint8Array, offset: number | bigint): Promise<number> {
    const buf = checkBuffer(data, 'data');
    const off = checkU64(offset, 'offset');
    const len = buf.length; // read now: a transfer of its ArrayBuffer would zero it meanwhile
    checkExtent(off, len, 'data');
    const n = await this.#native.write(buf, off);
    return checkComplete(n, len, this, 'Image.write');
  }

  async discard(offset: number | bigint, length: number | bigint): Promise<void> {
    const [off, len] = checkOffsetLength(offset, length);
    await this.#native.discard(off, len);
  }

  async writeZeroes(offset: number | bigint, length: number | bigint): Promise<void> {
    const [off, len] = checkOffsetLength(offset, length);
    await this.#native.writeZeroes(off, len);
  }

  flush(): Promise<void> {
    return this.#native.flush();
  }

  invalidateCache(): Promise<void> {
    return this.#native.invalidateCache();
  }

  // ---- data (librbd aio, no worker thread) ------------------------------

  /** Pipelined read on librbd's aio completions. */
  async aioRead(offset: number | bigint, length: number): Promise<Buffer> {
    const off = checkU64(offset, 'offset');
    const len = checkLength(length, 'length');
    checkExtent(off, len);
    const buf = Buffer.allocUnsafe(len);
    const n = await this.#native.aioRead(off, buf);
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  async aioReadInto(offset: number | bigint, buffer: Uint8Array): Promise<number> {
    const off = checkU64(offset, 'offset');
    const buf = checkBuffer(buffer, 'buffer');
    checkExtent(off, buf.length, 'buffer');
    return this.#native.aioRead(off, buf);
  }

  /** Pipelined write on librbd's aio completions; `data` must not change until it settles. */
  async aioWrite(data: Uint8Array, offset: number | bigint): Promise<number> {
    const buf = checkBuffer(data, 'data');
    const off = checkU64(offset, 'offset');
    const len = buf.length; // read now: a transfer of its ArrayBuffer would zero it meanwhile
    checkExtent(off, len, 'data');
    const n = await this.#native.aioWrite(buf, off);
    return checkComplete(n, len, this, 'Image.aioWrite');
  }

  async aioFlush(): Promise<void> {
    await this.#native.aioFlush();
  }

  async aioDiscard(offset: number | bigint, length: number | bigint): Promise<void> {
    const [off, len] = checkOffsetLength(offset, length);
    await this.#native.aioDiscard(off, len);
  }

  async aioWriteZeroes(offset: number | bigint, length: number | bigint): Promise<void> {
    const [off, len] = checkOffsetLength(offset, length);
    await this.#native.aioWriteZeroes(off, len);
  }

  /**
   * The extents that changed since `fromSnapshot` (or that hold data at
   * all), for sparse export. With a callback, each extent is passed to it in
   * order and the call resolves when done.
   */
  async diffIterate(options: DiffIterateOptions = {}, callback?: (extent: DiffExtent) => void): Promise<DiffExtent[]> {
    const o = checkObject<DiffIterateOptions>(options, 'options');
    const cb = checkFunction<(e: DiffExtent) => void>(callback, 'callback');
    const from = checkOptionalName(o.fromSnapshot, 'options.fromSnapshot') ?? null;
    const offset = o.offset === undefined ? 0 : checkU64(o.offset, 'options.offset');
    const length = o.length === undefined ? await this.size() : checkU64(o.length, 'options.length');
    const extents = await this.#native.diffIterate(
      from,
      offset,
      length,
      o.includeParent === undefined ? true : checkBoolean(o.includeParent, 'options.includeParent'),
      o.wholeObject === undefined ? false : checkBoolean(o.wholeObject, 'options.wholeObject'),
    );
    if (cb) for (const e of extents) cb(e);
    return extents;
  }

  // ---- snapshots ----------------------------------------------------------

  /** TimedOut (not ReadOnlyImage) when librbd lost the exclusive lock to an OSD op timeout meanwhile (lockLostToTimeout in lib/errors.ts, as every call on a writable image). */
  async createSnap(name: string): Promise<void> {
    return this.#native.createSnap(checkName(name, 'name'));
  }

  /**
   * Removes a snapshot. ImageBusy when it is protected; `force` unprotects
   * first and `flatten` flattens its children (RBD_SNAP_REMOVE_*).
   */
  async removeSnap(name: string, options: LongOperationOptions & { force?: boolean; unprotect?: boolean; flatten?: boolean } = {}): Promise<void> {
    const snap = checkName(name, 'name');
    const o = checkObject<{ force: boolean; unprotect: boolean; flatten: boolean }>(options, 'options');
    let flags = 0;
    if (o.force) flags |= RBD_SNAP_REMOVE_FORCE;
    if (o.unprotect) flags |= RBD_SNAP_REMOVE_UNPROTECT;
    if (o.flatten) flags |= RBD_SNAP_REMOVE_FLATTEN;
    return runLong(options, (p, c) => this.#native.removeSnap(snap, flags, p, c));
  }

  async renameSnap(src: string, dst: string): Promise<void> {
    return this.#native.renameSnap(checkName(src, 'src'), checkName(dst, 'dst'));
  }

  async protectSnap(name: string): Promise<void> {
    return this.#native.protectSnap(checkName(name, 'name'));
  }

  /** ImageBusy when the snapshot has clones; InvalidArgument when not protected. */
  async unprotectSnap(name: string): Promise<void> {
    return this.#native.unprotectSnap(checkName(name, 'name'));
  }

  async isProtectedSnap(name: string): Promise<boolean> {
    return this.#native.isProtectedSnap(checkName(name, 'name'));
  }

  async snapExists(name: string): Promise<boolean> {
    return this.#native.snapExists(checkName(name, 'name'));
  }

  listSnaps(): Promise<SnapInfo[]> {
    return this.#native.listSnaps();
  }

  async rollbackToSnap(name: string, options?: LongOperationOptions): Promise<void> {
    const snap = checkName(name, 'name');
    return runLong(options, (p, c) => this.#native.rollbackToSnap(snap, p, c));
  }

  /** Reads from `name` from now on, or from the head when null. */
  async setSnap(name: string | null): Promise<void> {
    return this.#native.setSnap(name === null ? null : checkName(name, 'name'));
  }

  snapGetLimit(): Promise<number> {
    return this.#native.snapGetLimit();
  }

  async snapSetLimit(limit: number | bigint): Promise<void> {
    return this.#native.snapSetLimit(checkU64(limit, 'limit'));
  }

  async snapGetTimestamp(name: string): Promise<Date> {
    return new Date(await this.#native.snapGetTimestamp(checkName(name, 'name')));
  }

  // ---- clones -------------------------------------------------------------

  /** Copies the parent's data into this clone and detaches it. InvalidArgument when not a clone. */
  async flatten(options?: LongOperationOptions): Promise<void> {
    return runLong(options, (p, c) => this.#native.flatten(p, c));
  }

  /** The parent of a clone; ImageNotFound when the image is not a clone. */
  parentInfo(): Promise<ParentInfo> {
    return this.#native.parentInfo();
  }

  /** Clones of the snapshot the image is set to (setSnap), trashed ones included with `trash: true`. */
  listChildren(): Promise<ChildInfo[]> {
    return this.#native.listChildren();
  }

  overlap(): Promise<number> {
    return this.#native.overlap();
  }

  /** Copies the image's data (at its current snapshot) to a new image. */
  async copy(destIoctx: IoCtx, destName: string, options: LongOperationOptions & CreateImageOptions = {}): Promise<void> {
    const name = checkName(destName, 'destName');
    const { onProgress, signal, ...create } = checkObject<LongOperationOptions & CreateImageOptions>(options, 'options');
    const opts = imageOptions(create);
    return runLong({ onProgress, signal }, (p, c) => this.#native.copy(destIoctx.native, name, opts, p, c));
  }

  /** Copies the image with its snapshots (and clone parent link) to a new image. */
  async deepCopy(destIoctx: IoCtx, destName: string, options: LongOperationOptions & CreateImageOptions = {}): Promise<void> {
    const name = checkName(destName, 'destName');
    const { onProgress, signal, ...create } = checkObject<LongOperationOptions & CreateImageOptions>(options, 'options');
    const opts = imageOptions(create);
    return runLong({ onProgress, signal }, (p, c) => this.#native.deepCopy(destIoctx.native, name, opts, p, c));
  }

  // ---- metadata, locks, watchers ------------------------------------------

  /** ImageNotFound when the key is not set. */
  async metadataGet(key: string): Promise<string> {
    return this.#native.metadataGet(checkName(key, 'key'));
  }

  async metadataSet(key: string, value: string): Promise<void> {
    return this.#native.metadataSet(checkName(key, 'key'), checkString(value, 'value'));
  }

  async metadataRemove(key: string): Promise<void> {
    return this.#native.metadataRemove(checkName(key, 'key'));
  }

  async metadataList(): Promise<Map<string, string>> {
    return new Map(await this.#native.metadataList());
  }

  listLockers(): ReturnType<NativeImage['listLockers']> {
    return this.#native.listLockers();
  }

  async breakLock(client: string, cookie: string): Promise<void> {
    return this.#native.breakLock(checkName(client, 'client'), checkString(cookie, 'cookie'));
  }

  /** Acquires the managed exclusive lock (needs the exclusive-lock feature). */
  async lockAcquire(mode: 'exclusive' | 'shared' = 'exclusive'): Promise<void> {
    return this.#native.lockAcquire(lockMode(mode));
  }

  lockRelease(): Promise<void> {
    return this.#native.lockRelease();
  }

  lockGetOwners(): ReturnType<NativeImage['lockGetOwners']> {
    return this.#native.lockGetOwners();
  }

  async lockBreak(owner: string, mode: 'exclusive' | 'shared' = 'exclusive'): Promise<void> {
    return this.#native.lockBreak(lockMode(mode), checkName(owner, 'owner'));
  }

  isExclusiveLockOwner(): Promise<boolean> {
    return this.#native.isExclusiveLockOwner();
  }

  listWatchers(): ReturnType<NativeImage['listWatchers']> {
    return this.#native.listWatchers();
  }

  async rebuildObjectMap(options?: LongOperationOptions): Promise<void> {
    return runLong(options, (p, c) => this.#native.rebuildObjectMap(p, c));
  }

  async sparsify(sparseSize = 4096, options?: LongOperationOptions): Promise<void> {
    const n = checkInteger(sparseSize, 'sparseSize', 4096, 2 ** 31 - 1);
    return runLong(options, (p, c) => this.#native.sparsify(n, p, c));
  }

  // ---- lifetime ------------------------------------------------------------

  /** Waits for in-flight operations, then closes. Idempotent. */
  close(): Promise<void> {
    return this.#native.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const at = this.snapshot === null ? '' : `@${this.snapshot}`;
    return `Image { ${this.pool}/${this.name}${at}, state: '${this.state}'${this.readOnly ? ', readOnly' : ''} }`;
  }
}

function lockMode(mode: unknown): number {
  if (mode === 'exclusive') return RBD_LOCK_MODE_EXCLUSIVE;
  if (mode === 'shared') return RBD_LOCK_MODE_SHARED;
  throw invalidType('mode', "'exclusive' or 'shared'", mode);
}

/** A short write is an IncompleteWriteError, as in python-rbd. */
function checkComplete(written: number, expected: number, image: Image, op: string): number {
  if (written !== expected) {
    throw cephError(IncompleteWriteError, op, constants.errno.EIO, `wrote ${written} of ${expected} bytes`, { family: 'rbd', pool: image.pool, image: image.name });
  }
  return written;
}

