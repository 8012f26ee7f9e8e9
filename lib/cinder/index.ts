/** The Cinder RBD volume driver and Nova's direct snapshot. */
export {
  RbdVolumeDriver,
  BACKUP_SNAP_RE,
  DRIVER_VERSION as CINDER_DRIVER_VERSION,
  volumeName,
  snapshotName,
  type VolumeInfo,
  type SnapshotInfo,
  type DeleteVolumeOptions,
  type PurgeResult,
  type CloneImageResult,
  type CloneRefusalReason,
  type FailoverVolume,
} from './driver';
export type { VolumeIdent } from './options';
export { directSnapshot, cleanupDirectSnapshot, RESIZE_SNAPSHOT, type DirectSnapshotOptions, type DirectSnapshotStep, type CleanupDirectSnapshotOptions } from './nova';
export {
  streamSnapshot,
  snapshotToStore,
  type StreamSnapshotOptions,
  type StreamSnapshotStep,
  type SnapshotToStoreOptions,
  type SnapshotToStoreStep,
  type SnapshotToStoreResult,
} from './nova-stream';
export { parseRbdSnapshotLocation, formatRbdSnapshotLocation, type RbdSnapshotLocation } from './location';
export type {
  RbdVolumeDriverOptions,
  Volume,
  Snapshot,
  ModelUpdate,
  ImageMeta,
  ImageLocation,
  ImageStoreLike,
  ConnectionInfo,
  ManageableVolume,
  VolumeStats,
  VolumeType,
  ReplicationDevice,
  FailoverResult,
  VolumeUpdate,
} from './types';
export { ReplicationStatus, type MirrorSnapshotRound } from './replication';
export { QOS_KEY_MAP, MULTIATTACH_EXCLUSIONS } from './volume-type';
export type { VolumeTypeDiff } from './retype';
export type { ManageableSnapshot } from './snapshot-manage';
export type { MigrationHost } from './migrate';
export * from './errors';
