/**
 * The only door to the compiled addon. Everything the addon exports is
 * declared here; test/native/exports.test.ts checks the declaration against
 * the real exports.
 */
import * as path from 'node:path';

/** A value librbd/librados take as a 64-bit size or offset. */
export type U64 = number | bigint;
/** librbd's progress callback, delivered on the JS thread. */
export type ProgressFn = (done: number, total: number) => void;
/** An Int32Array whose [0] the JS side sets to 1 to cancel a long operation. */
export type CancelFlag = Int32Array;

export interface NativeConnectOptions {
  clusterName?: string;
  /** Full entity name, e.g. "client.admin". */
  name?: string;
  confFile?: string;
  noConfFile?: boolean;
  conf?: Record<string, string>;
}

export interface NativeClusterStat { kb: number; kbUsed: number; kbAvail: number; numObjects: number }
export interface NativePoolStat {
  numBytes: number; numKb: number; numObjects: number; numObjectClones: number; numObjectCopies: number;
  numObjectsMissingOnPrimary: number; numObjectsUnfound: number; numObjectsDegraded: number;
  numRd: number; numRdKb: number; numWr: number; numWrKb: number; numUserBytes: number;
}
export interface NativeMonReply { status: number; outbuf: Buffer; outs: string }
export type HandleState = 'open' | 'closing' | 'closed';

export interface NativeRadosCluster {
  readonly state: HandleState;
  fsid(): string;
  instanceId(): bigint;
  confGet(option: string): string | null;
  confSet(option: string, value: string): void;
  stat(): Promise<NativeClusterStat>;
  listPools(): Promise<string[]>;
  createPool(pool: string): Promise<void>;
  deletePool(pool: string): Promise<void>;
  poolLookup(pool: string): Promise<number>;
  poolReverseLookup(id: number): Promise<string>;
  poolStat(pool: string): Promise<NativePoolStat>;
  monCommand(command: string, inbuf?: Buffer): Promise<NativeMonReply>;
  waitForLatestOsdMap(): Promise<void>;
  openIoctx(pool: string, namespace?: string): Promise<NativeIoCtx>;
  shutdown(): Promise<void>;
}

export interface NativeObjectStat { size: number; mtimeMs: number }

export interface NativeIoCtx {
  readonly pool: string;
  readonly namespace: string;
  readonly poolId: number;
  readonly state: HandleState;
  close(): Promise<void>;
  /** rados_set_pool_full_try / rados_unset_pool_full_try (a flag; does not block). */
  setPoolFullTry(enabled: boolean): void;
  write(oid: string, data: Buffer, offset: U64): Promise<void>;
  writeFull(oid: string, data: Buffer): Promise<void>;
  append(oid: string, data: Buffer): Promise<void>;
  read(oid: string, buffer: Buffer, offset: U64): Promise<number>;
  remove(oid: string): Promise<void>;
  stat(oid: string): Promise<NativeObjectStat>;
  getXattr(oid: string, name: string): Promise<Buffer>;
  setXattr(oid: string, name: string, value: Buffer): Promise<void>;
  rmXattr(oid: string, name: string): Promise<void>;
  listXattrs(oid: string): Promise<Array<[string, Buffer]>>;
  omapSet(oid: string, keys: string[], values: Buffer[]): Promise<void>;
  omapGet(oid: string, startAfter: string, filterPrefix: string, maxReturn: number): Promise<Array<[string, Buffer]>>;
  omapRemove(oid: string, keys: string[]): Promise<void>;
  omapClear(oid: string): Promise<void>;
  listObjects(): Promise<Array<{ namespace: string; oid: string; locator: string }>>;
}

export interface NativeImageStat {
  size: number; objSize: number; numObjs: number; order: number;
  blockNamePrefix: string; parentPool: number; parentName: string;
}
export interface NativeSnapInfo {
  id: number; name: string; size: number; namespaceType: number; timestampMs: number; protected: boolean;
}
export interface NativeExtent { offset: number; length: number; exists: boolean }
export interface NativeParentInfo { pool: string; namespace: string; image: string; id: string; snapshot: string; snapshotId: number; trash: boolean }
export interface NativeChild { pool: string; namespace: string; image: string; id: string; trash: boolean }
export interface NativeLockers { tag: string; exclusive: boolean; lockers: Array<{ client: string; cookie: string; address: string }> }
export interface NativeWatcher { address: string; id: number; cookie: number }
export interface NativeLockOwner { mode: number; owners: string[] }

export interface NativeImage {
  readonly name: string;
  readonly pool: string;
  readonly snapshot: string | null;
  readonly readOnly: boolean;
  readonly state: HandleState;
  close(): Promise<void>;
  stat(): Promise<NativeImageStat>;
  size(): Promise<number>;
  resize(size: U64, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  features(): Promise<number>;
  updateFeatures(mask: U64, enabled: boolean): Promise<void>;
  opFeatures(): Promise<number>;
  flags(): Promise<number>;
  id(): Promise<string>;
  blockNamePrefix(): Promise<string>;
  stripeUnit(): Promise<number>;
  stripeCount(): Promise<number>;
  dataPoolId(): Promise<number>;
  timestamps(): Promise<{ createdMs: number; accessedMs: number; modifiedMs: number }>;
  read(offset: U64, buffer: Buffer): Promise<number>;
  write(buffer: Buffer, offset: U64): Promise<number>;
  aioRead(offset: U64, buffer: Buffer): Promise<number>;
  aioWrite(buffer: Buffer, offset: U64): Promise<number>;
  aioFlush(): Promise<number>;
  aioDiscard(offset: U64, length: U64): Promise<number>;
  aioWriteZeroes(offset: U64, length: U64): Promise<number>;
  discard(offset: U64, length: U64): Promise<number>;
  writeZeroes(offset: U64, length: U64): Promise<number>;
  flush(): Promise<void>;
  invalidateCache(): Promise<void>;
  diffIterate(fromSnap: string | null, offset: U64, length: U64, includeParent: boolean, wholeObject: boolean): Promise<NativeExtent[]>;
  createSnap(name: string): Promise<void>;
  removeSnap(name: string, flags: number, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  renameSnap(src: string, dst: string): Promise<void>;
  protectSnap(name: string): Promise<void>;
  unprotectSnap(name: string): Promise<void>;
  isProtectedSnap(name: string): Promise<boolean>;
  listSnaps(): Promise<NativeSnapInfo[]>;
  rollbackToSnap(name: string, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  setSnap(name: string | null): Promise<void>;
  snapExists(name: string): Promise<boolean>;
  snapGetLimit(): Promise<number>;
  snapSetLimit(limit: U64): Promise<void>;
  snapGetTimestamp(name: string): Promise<number>;
  flatten(onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  parentInfo(): Promise<NativeParentInfo>;
  listChildren(): Promise<NativeChild[]>;
  overlap(): Promise<number>;
  copy(destIoctx: NativeIoCtx, destName: string, options?: NativeImageOptions, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  deepCopy(destIoctx: NativeIoCtx, destName: string, options?: NativeImageOptions, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  metadataGet(key: string): Promise<string>;
  metadataSet(key: string, value: string): Promise<void>;
  metadataRemove(key: string): Promise<void>;
  metadataList(): Promise<Array<[string, string]>>;
  listLockers(): Promise<NativeLockers>;
  breakLock(client: string, cookie: string): Promise<void>;
  lockAcquire(mode: number): Promise<void>;
  lockRelease(): Promise<void>;
  lockGetOwners(): Promise<NativeLockOwner>;
  lockBreak(mode: number, owner: string): Promise<void>;
  isExclusiveLockOwner(): Promise<boolean>;
  listWatchers(): Promise<NativeWatcher[]>;
  rebuildObjectMap(onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  sparsify(sparseSize: U64, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
}

export interface NativeImageOptions {
  order?: U64; features?: U64; stripeUnit?: U64; stripeCount?: U64; dataPool?: string; cloneFormat?: U64;
}
export interface NativeTrashEntry {
  id: string; name: string; source: number; deletionTimeMs: number; defermentEndTimeMs: number;
}

export interface NativeRbd {
  create(ioctx: NativeIoCtx, name: string, size: U64, options?: NativeImageOptions): Promise<void>;
  remove(ioctx: NativeIoCtx, name: string, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  rename(ioctx: NativeIoCtx, src: string, dst: string): Promise<void>;
  list(ioctx: NativeIoCtx): Promise<Array<{ id: string; name: string }>>;
  version(): { major: number; minor: number; extra: number };
  clone(parentIoctx: NativeIoCtx, parentName: string, snapName: string, childIoctx: NativeIoCtx, childName: string, options?: NativeImageOptions): Promise<void>;
  trashMove(ioctx: NativeIoCtx, name: string, delaySeconds: number): Promise<void>;
  trashList(ioctx: NativeIoCtx): Promise<NativeTrashEntry[]>;
  trashGet(ioctx: NativeIoCtx, id: string): Promise<NativeTrashEntry>;
  trashRestore(ioctx: NativeIoCtx, id: string, name: string): Promise<void>;
  trashRemove(ioctx: NativeIoCtx, id: string, force: boolean, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  trashPurge(ioctx: NativeIoCtx, expireTsSeconds: number, threshold: number, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  poolInit(ioctx: NativeIoCtx, force: boolean): Promise<void>;
  /** librbd's feature-string parser (names or a number); throws InvalidArgument for an unknown name. */
  featuresFromString(text: string): number;
  /** librbd's names of feature bits, comma-separated. */
  featuresToString(features: U64): string;
}

// ---- rbdx: librbd beyond the core (native/rbd_ext.h and its files) --------
export interface NativeGroupImage { name: string; poolId: number; state: 'attached' | 'incomplete' }
export interface NativeGroupSnap { name: string; state: 'complete' | 'incomplete' }
export interface NativeConfigOption { name: string; value: string; source: 'config' | 'pool' | 'image' }
export interface NativeMigrationStatus {
  sourcePoolId: number; sourceNamespace: string; sourceImage: string; sourceImageId: string;
  destPoolId: number; destNamespace: string; destImage: string; destImageId: string;
  state: 'unknown' | 'error' | 'preparing' | 'prepared' | 'executing' | 'executed' | 'aborting';
  description: string;
}
export interface NativeMirrorSnapNamespace {
  state: string; peerUuids: string[]; complete: boolean; primaryMirrorUuid: string; primarySnapId: number; lastCopiedObjectNumber: number;
}
export interface NativeLinkedImage { poolId: number; pool: string; namespace: string; id: string; image: string; trash: boolean }
export interface NativePoolStats {
  images: number; imageProvisionedBytes: number; imageMaxProvisionedBytes: number; imageSnapshots: number;
  trashImages: number; trashProvisionedBytes: number; trashMaxProvisionedBytes: number; trashSnapshots: number;
}
export type NativeWatchEvent = 'update' | 'quiesce' | 'unquiesce';

export interface NativeRbdX {
  // rbd_namespace.cc
  namespaceCreate(ioctx: NativeIoCtx, name: string): Promise<void>;
  namespaceRemove(ioctx: NativeIoCtx, name: string): Promise<void>;
  namespaceExists(ioctx: NativeIoCtx, name: string): Promise<boolean>;
  namespaceList(ioctx: NativeIoCtx): Promise<string[]>;
  /** Synchronous (rados_ioctx_set_namespace does not block); EBUSY while a call is in flight. */
  ioctxSetNamespace(ioctx: NativeIoCtx, namespace: string): void;
  // rbd_group.cc
  groupCreate(ioctx: NativeIoCtx, group: string): Promise<void>;
  groupRemove(ioctx: NativeIoCtx, group: string): Promise<void>;
  groupRename(ioctx: NativeIoCtx, group: string, dst: string): Promise<void>;
  groupList(ioctx: NativeIoCtx): Promise<string[]>;
  groupImageAdd(ioctx: NativeIoCtx, group: string, imageIoctx: NativeIoCtx, image: string): Promise<void>;
  groupImageRemove(ioctx: NativeIoCtx, group: string, imageIoctx: NativeIoCtx, imageOrId: string, byId: boolean): Promise<void>;
  groupImageList(ioctx: NativeIoCtx, group: string): Promise<NativeGroupImage[]>;
  groupSnapCreate(ioctx: NativeIoCtx, group: string, snap: string, flags?: number): Promise<void>;
  groupSnapRemove(ioctx: NativeIoCtx, group: string, snap: string): Promise<void>;
  groupSnapRename(ioctx: NativeIoCtx, group: string, src: string, dst: string): Promise<void>;
  groupSnapList(ioctx: NativeIoCtx, group: string): Promise<NativeGroupSnap[]>;
  groupSnapRollback(ioctx: NativeIoCtx, group: string, snap: string, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  imageGetGroup(image: NativeImage): Promise<{ name: string; poolId: number } | null>;
  // rbd_encryption.cc
  encryptionFormat(image: NativeImage, format: number, passphrase: string | Buffer, algorithm: number): Promise<void>;
  encryptionLoad(image: NativeImage, format: number, passphrase: string | Buffer): Promise<void>;
  // rbd_config.cc
  poolMetadataGet(ioctx: NativeIoCtx, key: string): Promise<string>;
  poolMetadataSet(ioctx: NativeIoCtx, key: string, value: string): Promise<void>;
  poolMetadataRemove(ioctx: NativeIoCtx, key: string): Promise<void>;
  poolMetadataList(ioctx: NativeIoCtx, startAfter: string, max: number): Promise<Array<[string, string]>>;
  configPoolList(ioctx: NativeIoCtx): Promise<NativeConfigOption[]>;
  configImageList(image: NativeImage): Promise<NativeConfigOption[]>;
  // rbd_update_watch.cc
  updateWatch(image: NativeImage, callback: (event: NativeWatchEvent, handle: number) => void): Promise<number>;
  quiesceWatch(image: NativeImage, callback: (event: NativeWatchEvent, handle: number) => void): Promise<number>;
  unwatch(image: NativeImage, key: number): Promise<void>;
  quiesceComplete(image: NativeImage, handle: number, rc: number): void;
  // rbd_migration.cc
  migrationPrepare(src: NativeIoCtx, srcName: string, dst: NativeIoCtx, dstName: string, options?: NativeImageOptions): Promise<void>;
  migrationPrepareImport(sourceSpec: string, dst: NativeIoCtx, dstName: string, options?: NativeImageOptions): Promise<void>;
  migrationExecute(ioctx: NativeIoCtx, name: string, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  migrationCommit(ioctx: NativeIoCtx, name: string, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  migrationAbort(ioctx: NativeIoCtx, name: string, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  migrationStatus(ioctx: NativeIoCtx, name: string): Promise<NativeMigrationStatus>;
  imageMigrationSourceSpec(image: NativeImage): Promise<string>;
  // rbd_snap_ext.cc
  snapGetName(image: NativeImage, id: U64): Promise<string>;
  snapGetId(image: NativeImage, name: string): Promise<number>;
  snapGetNamespaceType(image: NativeImage, id: U64): Promise<number>;
  snapGetGroupNamespace(image: NativeImage, id: U64): Promise<{ poolId: number; group: string; groupSnapshot: string }>;
  snapGetTrashNamespace(image: NativeImage, id: U64): Promise<string>;
  snapGetMirrorNamespace(image: NativeImage, id: U64): Promise<NativeMirrorSnapNamespace>;
  snapRemoveById(image: NativeImage, id: U64): Promise<void>;
  snapSetById(image: NativeImage, id: U64 | null): Promise<void>;
  snapCreate2(image: NativeImage, name: string, flags: number, onProgress?: ProgressFn): Promise<void>;
  // rbd_image_ext.cc
  lockExclusive(image: NativeImage, cookie: string): Promise<void>;
  lockShared(image: NativeImage, cookie: string, tag: string): Promise<void>;
  unlock(image: NativeImage, cookie: string): Promise<void>;
  writeSame(image: NativeImage, offset: U64, length: U64, pattern: Buffer, opFlags: number): Promise<number>;
  compareAndWrite(image: NativeImage, offset: U64, compare: Buffer, data: Buffer, opFlags: number): Promise<number>;
  aioWriteSame(image: NativeImage, offset: U64, length: U64, pattern: Buffer, opFlags: number): Promise<number>;
  aioCompareAndWrite(image: NativeImage, offset: U64, compare: Buffer, data: Buffer, mismatchOut: Buffer, opFlags: number): Promise<number>;
  aioRead2(image: NativeImage, offset: U64, buffer: Buffer, opFlags: number): Promise<number>;
  aioWrite2(image: NativeImage, buffer: Buffer, offset: U64, opFlags: number): Promise<number>;
  aioReadv(image: NativeImage, offset: U64, buffers: Buffer[]): Promise<number>;
  aioWritev(image: NativeImage, buffers: Buffer[], offset: U64): Promise<number>;
  resize2(image: NativeImage, size: U64, allowShrink: boolean, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
  oldFormat(image: NativeImage): Promise<boolean>;
  listDescendants(image: NativeImage): Promise<NativeLinkedImage[]>;
  poolStats(ioctx: NativeIoCtx): Promise<NativePoolStats>;
  /** rbd_image_options.cc: new rbdx.ImageOptions() wraps an rbd_image_options_t (synchronous, in memory). */
  ImageOptions: new () => NativeImageOptionsHandle;
  copySparse(image: NativeImage, dest: NativeIoCtx, destName: string, options: NativeImageOptions, sparseSize: U64, onProgress?: ProgressFn, cancel?: CancelFlag): Promise<void>;
}
export interface NativeImageOptionsHandle {
  setUint64(key: number, value: U64): void;
  setString(key: number, value: string): void;
  getUint64(key: number): number;
  getString(key: number): string;
  isSet(key: number): boolean;
  unset(key: number): void;
  clear(): void;
  isEmpty(): boolean;
}
// ---- end rbdx ---------------------------------------------------------------

/** native/hash.cc: incremental digests off the JS thread, one serial lane per algorithm. */
export interface NativeHasher {
  /** The algorithm names, in the order digest() answers. */
  readonly algorithms: string[];
  /** Pieces not yet hashed by every algorithm. */
  readonly pending: number;
  /** Resolves once every algorithm has hashed `data` (the Buffer is pinned, not copied, until then). */
  update(data: Buffer): Promise<void>;
  /** Lower-case hex digests after every earlier update, one per algorithm; once only. */
  digest(): Promise<string[]>;
}

// --- librados beyond plain object I/O (native/rados_*.cc, addon.rados) ---
/** One compound-op step: [name, ...args] (lib/rados-ops.ts builds them). */
export type NativeOpStep = [string, ...unknown[]];
export interface NativeReadOpReply { version: number; results: unknown[] }
export interface NativeNotifyReply {
  acks: Array<{ notifierId: bigint; cookie: bigint; payload: Buffer }>;
  timeouts: Array<{ notifierId: bigint; cookie: bigint }>;
}
export interface NativeObjectLockers { exclusive: boolean; tag: string; lockers: Array<{ client: string; cookie: string; address: string }> }
export interface NativePoolSnap { id: bigint; name: string; timestampMs: number }
export interface NativeListedObject { namespace: string; oid: string; locator: string }
export type NativeRadosWatchListener = (kind: 'notify' | 'error', ...args: unknown[]) => void;

export interface NativeRadosWatch {
  readonly cookie: bigint;
  readonly oid: string;
  readonly state: HandleState;
  /** rados_watch_check: ms since the watch was last confirmed. */
  check(): number;
  close(): Promise<void>;
}

export interface NativeObjectLister {
  readonly state: HandleState;
  next(max: number): Promise<{ entries: NativeListedObject[]; done: boolean }>;
  close(): Promise<void>;
}

export interface NativeRadosExt {
  writeOperate(ioctx: NativeIoCtx, oid: string, steps: NativeOpStep[], flags: number, mtimeSeconds: number | null): Promise<number>;
  readOperate(ioctx: NativeIoCtx, oid: string, steps: NativeOpStep[], flags: number): Promise<NativeReadOpReply>;
  aioWrite(ioctx: NativeIoCtx, oid: string, data: Buffer, offset: U64): Promise<number>;
  aioWriteFull(ioctx: NativeIoCtx, oid: string, data: Buffer): Promise<number>;
  aioAppend(ioctx: NativeIoCtx, oid: string, data: Buffer): Promise<number>;
  aioWriteSame(ioctx: NativeIoCtx, oid: string, data: Buffer, writeLength: U64, offset: U64): Promise<number>;
  aioRead(ioctx: NativeIoCtx, oid: string, buffer: Buffer, offset: U64): Promise<number>;
  aioRemove(ioctx: NativeIoCtx, oid: string): Promise<void>;
  aioStat(ioctx: NativeIoCtx, oid: string): Promise<NativeObjectStat>;
  aioGetXattr(ioctx: NativeIoCtx, oid: string, name: string, buffer: Buffer): Promise<number>;
  aioSetXattr(ioctx: NativeIoCtx, oid: string, name: string, value: Buffer): Promise<void>;
  aioRmXattr(ioctx: NativeIoCtx, oid: string, name: string): Promise<void>;
  aioCmpExt(ioctx: NativeIoCtx, oid: string, expected: Buffer, offset: U64): Promise<void>;
  aioExec(ioctx: NativeIoCtx, oid: string, cls: string, method: string, input: Buffer, output: Buffer): Promise<number>;
  aioFlush(ioctx: NativeIoCtx): Promise<void>;
  watch(ioctx: NativeIoCtx, oid: string, timeoutSeconds: number, onEvent: NativeRadosWatchListener): Promise<NativeRadosWatch>;
  notifyAck(ioctx: NativeIoCtx, oid: string, notifyId: bigint, cookie: bigint, reply: Buffer): Promise<void>;
  notify(ioctx: NativeIoCtx, oid: string, payload: Buffer, timeoutMs: number): Promise<NativeNotifyReply>;
  watchFlush(cluster: NativeRadosCluster): Promise<void>;
  lockExclusive(ioctx: NativeIoCtx, oid: string, name: string, cookie: string, description: string, durationMs: number, flags: number): Promise<void>;
  lockShared(ioctx: NativeIoCtx, oid: string, name: string, cookie: string, tag: string, description: string, durationMs: number, flags: number): Promise<void>;
  unlock(ioctx: NativeIoCtx, oid: string, name: string, cookie: string): Promise<void>;
  listLockers(ioctx: NativeIoCtx, oid: string, name: string): Promise<NativeObjectLockers>;
  breakLock(ioctx: NativeIoCtx, oid: string, name: string, client: string, cookie: string): Promise<void>;
  snapCreate(ioctx: NativeIoCtx, name: string): Promise<void>;
  snapRemove(ioctx: NativeIoCtx, name: string): Promise<void>;
  snapRollback(ioctx: NativeIoCtx, oid: string, snapName: string): Promise<void>;
  snapList(ioctx: NativeIoCtx): Promise<NativePoolSnap[]>;
  snapLookup(ioctx: NativeIoCtx, name: string): Promise<bigint>;
  snapGetName(ioctx: NativeIoCtx, id: U64): Promise<string>;
  snapGetStamp(ioctx: NativeIoCtx, id: U64): Promise<number>;
  snapSetRead(ioctx: NativeIoCtx, id: U64 | null): void;
  selfmanagedSnapCreate(ioctx: NativeIoCtx): Promise<bigint>;
  selfmanagedSnapRemove(ioctx: NativeIoCtx, id: U64): Promise<void>;
  selfmanagedSnapRollback(ioctx: NativeIoCtx, oid: string, id: U64): Promise<void>;
  selfmanagedSnapSetWriteContext(ioctx: NativeIoCtx, seq: U64, snaps: U64[]): void;
  command(cluster: NativeRadosCluster, kind: 'mgr' | 'mgrTarget' | 'osd' | 'pg' | 'monTarget', target: string | undefined, command: string, input?: Buffer): Promise<NativeMonReply>;
  blocklistAdd(cluster: NativeRadosCluster, address: string, expireSeconds: number): Promise<void>;
  pingMonitor(cluster: NativeRadosCluster, monId: string): Promise<string>;
  getAddrs(cluster: NativeRadosCluster): Promise<string>;
  version(): { major: number; minor: number; extra: number };
  poolGetBaseTier(cluster: NativeRadosCluster, poolId: number): Promise<number>;
  minCompatibleClient(cluster: NativeRadosCluster): Promise<{ minCompatClient: number; requireMinCompatClient: number; requireOsdRelease: number }>;
  inconsistentPgs(cluster: NativeRadosCluster, poolId: number): Promise<string[]>;
  createPoolWithRule(cluster: NativeRadosCluster, pool: string, crushRule: number): Promise<void>;
  openIoctxById(cluster: NativeRadosCluster, poolId: number): Promise<NativeIoCtx>;
  applicationEnable(ioctx: NativeIoCtx, app: string, force: boolean): Promise<void>;
  applicationList(ioctx: NativeIoCtx): Promise<string[]>;
  applicationMetadataGet(ioctx: NativeIoCtx, app: string, key: string): Promise<string>;
  applicationMetadataSet(ioctx: NativeIoCtx, app: string, key: string, value: string): Promise<void>;
  applicationMetadataRemove(ioctx: NativeIoCtx, app: string, key: string): Promise<void>;
  applicationMetadataList(ioctx: NativeIoCtx, app: string): Promise<Array<[string, string]>>;
  poolAlignment(ioctx: NativeIoCtx): Promise<number>;
  setLocatorKey(ioctx: NativeIoCtx, key: string | null): void;
  openObjectList(ioctx: NativeIoCtx, allNamespaces: boolean): Promise<NativeObjectLister>;
  truncate(ioctx: NativeIoCtx, oid: string, size: U64): Promise<void>;
  cmpext(ioctx: NativeIoCtx, oid: string, expected: Buffer, offset: U64): Promise<void>;
  writeSame(ioctx: NativeIoCtx, oid: string, data: Buffer, writeLength: U64, offset: U64): Promise<void>;
  exec(ioctx: NativeIoCtx, oid: string, cls: string, method: string, input: Buffer, output: Buffer): Promise<number>;
  checksum(ioctx: NativeIoCtx, oid: string, type: number, init: Buffer, offset: U64, length: U64, chunkSize: U64): Promise<Array<number | bigint>>;
  setAllocHint(ioctx: NativeIoCtx, oid: string, expectedObjectSize: U64, expectedWriteSize: U64, flags: number): Promise<void>;
}

// ---- rbdMirror: RBD mirroring (native/rbd_mirror.h and its files) ----------
export type NativeMirrorImageState = 'disabling' | 'enabled' | 'disabled';
export type NativeMirrorStatusState = 'unknown' | 'error' | 'syncing' | 'starting_replay' | 'replaying' | 'stopping_replay' | 'stopped';
export interface NativeMirrorImageInfo { globalId: string; state: NativeMirrorImageState; primary: boolean }
export interface NativeMirrorSiteStatus { mirrorUuid: string; state: NativeMirrorStatusState; description: string; lastUpdateMs: number; up: boolean }
export interface NativeMirrorGlobalStatus { name: string; info: NativeMirrorImageInfo; siteStatuses: NativeMirrorSiteStatus[] }
export interface NativeMirrorPeer {
  uuid: string; direction: 'rx-only' | 'tx-only' | 'rx-tx'; siteName: string; mirrorUuid: string; clientName: string; lastSeenMs: number;
}

/** Enums cross as numbers (lib/rbd-mirror.ts maps the names) and come back as names. */
export interface NativeRbdMirror {
  /** RBD_MIRROR_* values from librbd.h. */
  readonly constants: Record<string, number>;
  // rbd_mirror.cc
  siteNameGet(cluster: NativeRadosCluster): Promise<string>;
  siteNameSet(cluster: NativeRadosCluster, name: string): Promise<void>;
  modeGet(ioctx: NativeIoCtx): Promise<'disabled' | 'image' | 'pool'>;
  modeSet(ioctx: NativeIoCtx, mode: number): Promise<void>;
  uuidGet(ioctx: NativeIoCtx): Promise<string>;
  peerBootstrapCreate(ioctx: NativeIoCtx): Promise<string>;
  peerBootstrapImport(ioctx: NativeIoCtx, direction: number, token: string): Promise<void>;
  peerSiteAdd(ioctx: NativeIoCtx, direction: number, siteName: string, clientName: string): Promise<string>;
  peerSiteRemove(ioctx: NativeIoCtx, uuid: string): Promise<void>;
  peerSiteSet(ioctx: NativeIoCtx, uuid: string, what: 'name' | 'client' | 'direction', value: string | number): Promise<void>;
  peerSiteList(ioctx: NativeIoCtx): Promise<NativeMirrorPeer[]>;
  peerSiteGetAttributes(ioctx: NativeIoCtx, uuid: string): Promise<Array<[string, string]>>;
  peerSiteSetAttributes(ioctx: NativeIoCtx, uuid: string, keys: string[], values: string[]): Promise<void>;
  // rbd_mirror_list.cc
  imageStatusSummary(ioctx: NativeIoCtx): Promise<Array<[NativeMirrorStatusState, number]>>;
  imageGlobalStatusList(ioctx: NativeIoCtx, startAfter: string, max: number): Promise<Array<{ id: string; status: NativeMirrorGlobalStatus }>>;
  imageInfoList(ioctx: NativeIoCtx, startAfter: string, max: number, modeFilter?: number): Promise<Array<{ id: string; mode: 'journal' | 'snapshot'; info: NativeMirrorImageInfo }>>;
  imageInstanceIdList(ioctx: NativeIoCtx, startAfter: string, max: number): Promise<Array<[string, string]>>;
  // rbd_mirror_image.cc
  imageEnable(image: NativeImage, mode: number): Promise<void>;
  imageDisable(image: NativeImage, force: boolean): Promise<void>;
  imagePromote(image: NativeImage, force: boolean): Promise<void>;
  imageDemote(image: NativeImage): Promise<void>;
  imageResync(image: NativeImage): Promise<void>;
  imageCreateSnapshot(image: NativeImage, flags?: number): Promise<number>;
  imageGetInfo(image: NativeImage): Promise<NativeMirrorImageInfo>;
  imageGetMode(image: NativeImage): Promise<'journal' | 'snapshot'>;
  imageGetGlobalStatus(image: NativeImage): Promise<NativeMirrorGlobalStatus>;
  imageGetInstanceId(image: NativeImage): Promise<string>;
}
// ---- end rbdMirror ----------------------------------------------------------

export interface NativeAddon {
  connect(options: NativeConnectOptions): Promise<NativeRadosCluster>;
  openImage(ioctx: NativeIoCtx, nameOrId: string, options?: { readOnly?: boolean; snapshot?: string; byId?: boolean }): Promise<NativeImage>;
  rbd: NativeRbd;
  /** librbd beyond the core: namespaces, groups, encryption, config, watches, migration, … */
  rbdx: NativeRbdX;
  /** RBD mirroring: pool mode, peers, bootstrap, image mirroring and status. */
  rbdMirror: NativeRbdMirror;
  constants: Record<string, number>;
  setErrorFactory(factory: (error: Error) => Error): void;
  /** TypeError (ERR_CRYPTO_INVALID_DIGEST) for a name OpenSSL does not know. */
  createHasher(algorithms: string[]): NativeHasher;
  Hasher: Function;
  /**
   * A Buffer of `size` uninitialised bytes whose memory goes back to a small
   * process-wide pool (not to malloc) when it is collected, for the next
   * chunk of the same size (native/common/buffer_pool.h).
   */
  allocPooledBuffer(size: number): Buffer;
  /** The same; a block not yet in the pool is mapped and first written on a worker thread. */
  allocPooledBufferAsync(size: number): Promise<Buffer>;
  /** Synchronously releases every open handle (process exit only). */
  releaseAll(): void;
  RadosCluster: Function;
  IoCtx: Function;
  Image: Function;
  /** librados beyond plain object I/O (native/rados_ext.h). */
  rados: NativeRadosExt;
  RadosWatch: Function;
  ObjectLister: Function;
}

/** The package root: dist/lib/native.js -> ../.. ; lib/native.ts under ts-node -> .. */
function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pkg = require(path.join(dir, 'package.json')) as { name?: string };
      if (pkg.name === 'ceph-rbd') return dir;
    } catch {
      // keep walking up
    }
    dir = path.dirname(dir);
  }
  throw new Error('ceph-rbd: cannot find the package root to load the native addon');
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => unknown;

export const addon = load(packageRoot()) as NativeAddon;
