/** ceph-rbd: Ceph RBD for Node.js. Public exports only. */
export { Rados, IoCtx, type ConnectOptions, type ClusterStat, type PoolStat, type MonCommandResult, type ObjectStat } from './rados';
export {
  Rbd,
  Image,
  type CreateImageOptions,
  type CloneOptions,
  type OpenImageOptions,
  type ImageStat,
  type SnapInfo,
  type DiffExtent,
  type DiffIterateOptions,
  type ParentInfo,
  type ChildInfo,
  type TrashEntry,
} from './rbd';
export type { LongOperationOptions } from './progress';
export * from './errors';
export * from './constants';
export {
  GlanceStore,
  DEFAULT_SNAPNAME as GLANCE_DEFAULT_SNAPNAME,
  type GlanceStoreOptions,
  type AddOptions as GlanceAddOptions,
  type AddResult as GlanceAddResult,
  type GetOptions as GlanceGetOptions,
  type GetResult as GlanceGetResult,
  type StatResult as GlanceStatResult,
} from './glance/store';
export { checkRbdName, MAX_RBD_NAME_BYTES } from './validate';
export { parseLocation as parseGlanceLocation, formatLocation as formatGlanceLocation, type RbdLocation, type RbdLocationParts } from './glance/location';
export type { UploadSource } from './internal/chunk-source';
export type { HashOn } from './glance/hashing';
export {
  GlanceStoreError,
  BadStoreUri,
  Duplicate,
  Invalid,
  StorageFull,
  NotFound,
  InUseByStore,
  BackendException,
  BadStoreConfiguration,
  GLANCE_ERROR_CODES,
} from './glance/errors';
export * from './cinder';
export { setLogger, getLogger, type Logger, type LoggerLike, type LogFn } from './logger';
export * from './image-format';
