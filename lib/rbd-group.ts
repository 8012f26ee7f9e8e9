/**
 * RBD groups: sets of images snapshotted together (crash-consistent group
 * snapshots; Cinder consistency groups map onto them).
 */
import { type NativeGroupImage, type NativeGroupSnap, addon } from './native';
import { type LongOperationOptions, runLong } from './progress';
import type { IoCtx } from './rados';
import { Image } from './rbd';
import './setup';
import { checkBoolean, checkInteger, checkName, checkObject } from './validate';

export type GroupImageInfo = NativeGroupImage;
export type GroupSnapInfo = NativeGroupSnap;

export interface GroupSnapCreateOptions {
  /** RBD_SNAP_CREATE_SKIP_QUIESCE: do not ask quiesce watchers to quiesce. */
  skipQuiesce?: boolean;
  /** RBD_SNAP_CREATE_IGNORE_QUIESCE_ERROR: snapshot even if a watcher failed to quiesce. */
  ignoreQuiesceError?: boolean;
}

/** Groups of a pool (python-rbd's Group, go-ceph's Group* functions). Errors: GroupNotFound, GroupExists. */
export const RbdGroup = {
  async create(ioctx: IoCtx, group: string): Promise<void> {
    return addon.rbdx.groupCreate(ioctx.native, checkName(group, 'group'));
  },
  /** Removes a group and its group snapshots; its images leave the group. */
  async remove(ioctx: IoCtx, group: string): Promise<void> {
    return addon.rbdx.groupRemove(ioctx.native, checkName(group, 'group'));
  },
  async rename(ioctx: IoCtx, group: string, newName: string): Promise<void> {
    return addon.rbdx.groupRename(ioctx.native, checkName(group, 'group'), checkName(newName, 'newName'));
  },
  list(ioctx: IoCtx): Promise<string[]> {
    return addon.rbdx.groupList(ioctx.native);
  },
  /** Adds an image (possibly from another pool) to the group. ImageExists when it is in a group already. */
  async addImage(ioctx: IoCtx, group: string, imageIoctx: IoCtx, image: string): Promise<void> {
    return addon.rbdx.groupImageAdd(ioctx.native, checkName(group, 'group'), imageIoctx.native, checkName(image, 'image'));
  },
  /** Removes an image from the group, by name or (`{ byId: true }`) by image id. */
  async removeImage(ioctx: IoCtx, group: string, imageIoctx: IoCtx, image: string, options: { byId?: boolean } = {}): Promise<void> {
    const o = checkObject<{ byId: boolean }>(options, 'options');
    const byId = o.byId === undefined ? false : checkBoolean(o.byId, 'options.byId');
    return addon.rbdx.groupImageRemove(ioctx.native, checkName(group, 'group'), imageIoctx.native, checkName(image, 'image'), byId);
  },
  async listImages(ioctx: IoCtx, group: string): Promise<GroupImageInfo[]> {
    return addon.rbdx.groupImageList(ioctx.native, checkName(group, 'group'));
  },
  /**
   * Snapshots every image of the group at once (each image gets a snapshot
   * in the group namespace). With options, rbd_group_snap_create2's flags.
   */
  async createSnap(ioctx: IoCtx, group: string, snap: string, options?: GroupSnapCreateOptions): Promise<void> {
    const g = checkName(group, 'group');
    const s = checkName(snap, 'snap');
    if (options === undefined) return addon.rbdx.groupSnapCreate(ioctx.native, g, s);
    return addon.rbdx.groupSnapCreate(ioctx.native, g, s, snapCreateFlags(options));
  },
  async removeSnap(ioctx: IoCtx, group: string, snap: string): Promise<void> {
    return addon.rbdx.groupSnapRemove(ioctx.native, checkName(group, 'group'), checkName(snap, 'snap'));
  },
  async renameSnap(ioctx: IoCtx, group: string, snap: string, newName: string): Promise<void> {
    return addon.rbdx.groupSnapRename(ioctx.native, checkName(group, 'group'), checkName(snap, 'snap'), checkName(newName, 'newName'));
  },
  async listSnaps(ioctx: IoCtx, group: string): Promise<GroupSnapInfo[]> {
    return addon.rbdx.groupSnapList(ioctx.native, checkName(group, 'group'));
  },
  /** Rolls every image of the group back to the group snapshot (images must not be open elsewhere). */
  async rollbackToSnap(ioctx: IoCtx, group: string, snap: string, options?: LongOperationOptions): Promise<void> {
    const g = checkName(group, 'group');
    const s = checkName(snap, 'snap');
    return runLong(options, (p, c) => addon.rbdx.groupSnapRollback(ioctx.native, g, s, p, c));
  },
};

/** RBD_SNAP_CREATE_* flags from options. */
export function snapCreateFlags(options: GroupSnapCreateOptions | undefined): number {
  const o = checkObject<GroupSnapCreateOptions>(options, 'options');
  let flags = 0;
  if (o.skipQuiesce !== undefined && checkBoolean(o.skipQuiesce, 'options.skipQuiesce')) flags |= 1;
  if (o.ignoreQuiesceError !== undefined && checkBoolean(o.ignoreQuiesceError, 'options.ignoreQuiesceError')) flags |= 2;
  return checkInteger(flags, 'flags', 0, 3);
}

declare module './rbd' {
  interface Image {
    /** The group the image belongs to, or null. */
    getGroup(): Promise<{ name: string; poolId: number } | null>;
  }
}

Image.prototype.getGroup = function getGroup(this: Image) {
  return addon.rbdx.imageGetGroup(this.native);
};
