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
