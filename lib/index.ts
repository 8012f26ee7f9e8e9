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
// ---- librbd beyond the core (namespaces, groups, encryption, config, watches, migration, …)
export { RbdNamespace } from './rbd-namespace';
export { RbdGroup, type GroupImageInfo, type GroupSnapInfo, type GroupSnapCreateOptions } from './rbd-group';
export {
  RBD_ENCRYPTION_FORMAT_LUKS1,
  RBD_ENCRYPTION_FORMAT_LUKS2,
  RBD_ENCRYPTION_ALGORITHM_AES128,
  RBD_ENCRYPTION_ALGORITHM_AES256,
  type EncryptionFormat,
  type EncryptionAlgorithm,
} from './rbd-encryption';
export { RbdConfig, type ConfigOption } from './rbd-config';
export type { ImageWatch, QuiesceHandlers } from './rbd-update-watch';
export { RbdMigration, type MigrationStatus } from './rbd-migration';
export { poolStats, OpFlags, type LinkedImage, type MirrorSnapNamespace, type PoolStats, type SnapCreateOptions } from './rbd-image-ext';
export { ImageOptions, ImageOption } from './rbd-image-options';
import './rbd-update-watch';
// ---- end librbd beyond the core
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
export {
  UPLOAD_MARK as GLANCE_UPLOAD_MARK,
  type SweepOptions as GlanceSweepOptions,
  type SweepResult as GlanceSweepResult,
  type SweptImage as GlanceSweptImage,
} from './glance/sweep';
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
// librados beyond plain object I/O: each module adds its methods to Rados/IoCtx.
export { WriteOp, ReadOp, CMP_OPS, CHECKSUM_TYPES, OP_FLAGS, type CmpOp, type ChecksumType, type OperateOptions, type OmapPage, type ReadOpResult } from './rados-ops';
import './rados-aio';
export { Watch, type Notification, type NotifyListener, type WatchOptions, type NotifyResult } from './rados-watch';
export { LOCK_FLAG_MAY_RENEW, LOCK_FLAG_MUST_RENEW, type LockOptions, type ObjectLockers } from './rados-lock';
export type { PoolSnap } from './rados-snap';
import './rados-snap';
export { radosVersion, type ListedObject, type ObjectsOptions } from './rados-admin';
// RBD mirroring: pool mode, site name, peers, image mirroring and status (adds mirror* methods to Image).
export {
  RbdMirror,
  mirrorReplayProgress,
  mirrorSyncPercent,
  RBD_MIRROR_MODE_DISABLED,
  RBD_MIRROR_MODE_IMAGE,
  RBD_MIRROR_MODE_POOL,
  RBD_MIRROR_PEER_DIRECTION_RX,
  RBD_MIRROR_PEER_DIRECTION_TX,
  RBD_MIRROR_PEER_DIRECTION_RX_TX,
  RBD_MIRROR_IMAGE_MODE_JOURNAL,
  RBD_MIRROR_IMAGE_MODE_SNAPSHOT,
  type MirrorMode,
  type MirrorImageMode,
  type MirrorPeerDirection,
  type MirrorImageState,
  type MirrorStatusState,
  type MirrorImageInfo,
  type MirrorSiteStatus,
  type MirrorGlobalStatus,
  type MirrorPeer,
  type MirrorPeerAttributes,
  type MirrorPageOptions,
  type MirrorListOptions,
  type MirrorImageStatusEntry,
  type MirrorImageInfoEntry,
  type MirrorInstanceEntry,
  type MirrorReplayProgress,
  type MirrorSnapshotOptions,
} from './rbd-mirror';
