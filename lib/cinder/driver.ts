/**
 * RbdVolumeDriver: OpenStack Cinder's RBD volume driver (driver version
 * 1.3.0) for Node, so a pool it manages looks exactly like one Cinder
 * manages: same image and snapshot names, same clone/flatten decisions,
 * same leftovers (docs/DESIGN.md#cinder-driver; where it differs on purpose,
 * docs/DESIGN.md#decisions). The driver is policy over lib/internal (the
 * cluster session, withImage, the chunked writer and reader).
 */
import { readFile } from 'node:fs/promises';

import { HandleClosedError, ImageBusy, ImageExists, ImageHasSnapshots, ImageNotFound, InvalidArgument, PermissionDenied } from '../errors';
import { defaultFeatures } from '../internal/features';
import { removeHalfMadeImage } from '../internal/half-made-image';
import { withImage } from '../internal/image';
import { Semaphore, errorText, retry, type RetryPolicy } from '../internal/retry';
import { ClusterSession } from '../internal/session';
import { componentLogger, type Logger } from '../logger';
import type { IoCtx } from '../rados';
import { Rbd, type TrashEntry } from '../rbd';
import { checkInteger, checkObject, checkString, invalidType, outOfRange } from '../validate';
import {
  CLONE_SNAP_SUFFIX,
  DELETED_SUFFIX,
  deleteCloneParentRefs,
  flattenChildren,
  flattenImage,
  getCloneDepth,
  getCloneInfo,
  type ChainContext,
  type CloneInfo,
} from './clone-chain';
import {
  InvalidConfigurationValue,
  ManageExistingInvalidReference,
  SnapshotExists,
  SnapshotIsBusy,
  SnapshotNotFound,
  VolumeBackendAPIException,
  VolumeExists,
  VolumeHasSnapshots,
  VolumeIsBusy,
  VolumeNotFound,
} from './errors';
import { isUserSnapshot, readSnapshot, readSnapshots, readVolume, readVolumeIds, snapshotName, volumeName, type SnapshotInfo, type VolumeInfo } from './inventory';
import { firstCloneable, type CloneImageResult } from './cloneable';
import { migrateVolume, updateMigratedVolume, type MigrationHost } from './migrate';
import { listManageableSnapshots, manageableSnapshotSize, manageSnapshot, snapshotSourceName, unmanageSnapshot, type ManageableSnapshot } from './snapshot-manage';
import { copyImageToVolume, copyVolumeToImage, type CopyContext, type CopyOptions } from './image-copy';
import { retypeVolume, type VolumeTypeDiff } from './retype';
import { applyQos, checkVolumeType, imageQos, onVolumeImage, removeQosKeys, setupVolume } from './volume-type';
import { checkSnapshot, checkVolume, checkVolumeIdent, rejectEncrypted, resolveOptions, type Resolved, type VolumeIdent, type VolumeRef } from './options';
import { listManageableVolumes, paginateEntries } from './manage';
import { monAddrs, volumeStats } from './stats';
import { failoverTarget, failoverVolumes, targetConfig, type ClusterTarget, type FailoverContext } from './failover';
import { createMirrorSnapshots, type MirrorSnapshotRound, type ReplicationSetup } from './replication';
import type {
  ConnectionInfo,
  FailoverResult,
  ImageLocation,
  ImageMeta,
  ImageStoreLike,
  ManageableVolume,
  ModelUpdate,
  RbdVolumeDriverOptions,
  Snapshot,
  Volume,
  VolumeStats,
  VolumeType,
} from './types';
import { GiB, MiB, ceilGiB, orderFor } from './util';

export { DRIVER_VERSION } from './stats';
export { volumeName, snapshotName, type VolumeInfo, type SnapshotInfo } from './inventory';

/** Options of deleteVolume. */
export interface DeleteVolumeOptions {
  /**
   * Refuse (VolumeHasSnapshots, nothing changed) when the volume has Cinder
   * snapshots, as Cinder's API does; by default the driver deletes it as
   * upstream's driver does (to the trash, with its snapshots).
   */
  refuseWithSnapshots?: boolean;
}

export type { CloneImageResult, CloneRefusalReason } from './cloneable';

/** A volume as failover() takes it: the id, and what tells whether it is replicated (`replicationStatus`, else `volumeType`). */
export type FailoverVolume = VolumeIdent & Pick<Volume, 'replicationStatus' | 'volumeType' | 'status'>;

/** What purgeTrash() did. */
export interface PurgeResult {
  purged: Array<{ id: string; name: string }>;
  /** Entries whose deferment has not ended yet. */
  deferred: Array<{ id: string; name: string }>;
  /** Entries that could not be removed, with the error (e.g. ImageBusy: a snapshot still has clones). */
  failed: Array<{ id: string; name: string; error: Error }>;
  /** Set when the purge itself failed (e.g. no connection). */
  error?: Error;
}
/** Snapshots the Ceph backup driver leaves on a volume: `backup.<backup id>.snap.<unix time>`. */
export const BACKUP_SNAP_RE = /^backup\.([a-z0-9-]+?)\.snap\.(.+)$/;

/** A Cinder-style RBD volume driver over one reused cluster connection. */
export class RbdVolumeDriver implements AsyncDisposable {
  /** The resolved configuration. */
  readonly config: Readonly<Resolved>;
  readonly #logger: Logger;
  #session: ClusterSession;
  readonly #policy: RetryPolicy;
  #chain: ChainContext;
  /** The cluster operations go to: 'default' (the configured one) or a replication device after failoverCompleted(). */
  #active: ClusterTarget;
  #stats: VolumeStats | undefined;
  #keyring: string | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;
  #mirrorSnapTimer: NodeJS.Timeout | undefined;
  #flattenLimiter: Semaphore;

  private constructor(config: Resolved, logger: Logger) {
    this.config = Object.freeze(config);
    this.#logger = logger;
    this.#policy = { retries: config.connectionRetries, intervalMs: config.connectionIntervalMs };
    this.#flattenLimiter = new Semaphore(config.concurrentFlattenOperations);
    this.#active = targetConfig(config, config.activeBackendId);
    this.#session = this.#newSession(this.#active);
    this.#chain = this.#newChain();
  }

  /** A session on `target`: the configured connection settings with the target's cluster, conf and user. */
  #newSession(target: ClusterTarget): ClusterSession {
    const config = this.config;
    return new ClusterSession({
      connect: {
        clusterName: target.clusterName,
        ...(target.confFile ? { confFile: target.confFile } : {}),
        // docs/DESIGN.md#d1-no-literal-none-user: unset is librados' default client.
        ...(target.user ? { clientId: target.user } : {}),
        ...(config.connectTimeoutMs !== undefined && config.connectTimeoutMs > 0 ? { timeoutMs: config.connectTimeoutMs } : {}),
      },
      pool: config.pool,
      fullTry: true,
      connectPolicy: this.#policy,
      reconnectPolicy: this.#policy,
      connectError: (cause) => new VolumeBackendAPIException('Error connecting to ceph cluster.', { cause }),
      closedError: () => new HandleClosedError('RbdVolumeDriver: the driver is closed', 'RbdVolumeDriver'),
      logger: this.#logger,
    });
  }

  #newChain(): ChainContext {
    return {
      session: this.#session,
      pool: this.config.pool,
      logger: this.#logger,
      flattenLimiter: this.#flattenLimiter,
      enableDeferredDeletion: this.config.enableDeferredDeletion,
      deferredDeletionDelaySec: this.config.deferredDeletionDelaySec,
    };
  }

  /** How `_setup_volume` mirrors a replicated type's volumes with this configuration. */
  get #replication(): ReplicationSetup {
    return { enabled: this.config.replicationDevices.length > 0, mode: this.config.replicationMode };
  }

  /** The backend id operations go to now: 'default' or a replicationDevices backendId. */
  get activeBackendId(): string {
    return this.#active.backendId;
  }

  /**
   * Creates a driver (do_setup). It connects lazily, on first use, and keeps
   * that one connection; call checkForSetupError() to test it up front.
   */
  static async open(options: RbdVolumeDriverOptions = {}): Promise<RbdVolumeDriver> {
    const o = checkObject<RbdVolumeDriverOptions>(options, 'options') as RbdVolumeDriverOptions;
    return new RbdVolumeDriver(resolveOptions(o), componentLogger('cinder', o.logger));
  }

  /** @internal The shared connection (tests use it to simulate a lost connection). */
  get connection(): ClusterSession {
    return this.#session;
  }

  get #chunkBytes(): number {
    return this.config.chunkSizeMiB * MiB;
  }

  get #order(): number {
    return orderFor(this.#chunkBytes);
  }

  async #features(): Promise<number> {
    return defaultFeatures((await this.#session.rados()).confGet('rbd_default_features'));
  }

  #ioctx(pool: string = this.config.pool): Promise<IoCtx> {
    return this.#session.ioctx(pool);
  }

  /** `_setup_volume` on a new volume's image; when it fails the new image is deleted (as upstream) unless `keep`. */
  async #setup(volume: Volume, name: string, keep = false): Promise<ModelUpdate> {
    try {
      return await setupVolume(await this.#ioctx(), name, volume, undefined, this.#logger, this.#replication);
    } catch (err) {
      if (!keep) await this.deleteVolume({ ...volume, name }).catch((e: unknown) => this.#logger.warn(`cannot remove ${name}: ${errorText(e)}`));
      throw err;
    }
  }

  // ---- setup -----------------------------------------------------------------

  /** check_for_setup_error: configuration sanity, a test connection, the trash purge task. */
  async checkForSetupError(): Promise<void> {
    for (const option of ['clusterName', 'pool'] as const) {
      if (!this.config[option]) throw new InvalidConfigurationValue(option, this.config[option]);
    }
    await this.#session.rados();
    if (this.config.keyringConf) await this.#loadKeyring();
    if (this.config.enableDeferredDeletion && this.config.deferredDeletionPurgeIntervalSec > 0 && !this.#purgeTimer) {
      this.#purgeTimer = setInterval(() => {
        this.purgeTrash().catch((err: unknown) => this.#logger.error(`trash purge failed: ${errorText(err)}`));
      }, this.config.deferredDeletionPurgeIntervalSec * 1000);
      this.#purgeTimer.unref();
    }
    const { replicationMode, replicationSnapshotIntervalSec, replicationDevices } = this.config;
    if (replicationMode === 'snapshot' && replicationDevices.length > 0 && replicationSnapshotIntervalSec > 0 && !this.#mirrorSnapTimer) {
      this.#mirrorSnapTimer = setInterval(() => {
        this.createMirrorSnapshots().catch((err: unknown) => this.#logger.error(`mirror snapshot round failed: ${errorText(err)}`));
      }, replicationSnapshotIntervalSec * 1000);
      this.#mirrorSnapTimer.unref();
    }
  }

  async #loadKeyring(): Promise<string | undefined> {
    if (!this.config.keyringConf) return undefined;
    if (this.#keyring === undefined) {
      try {
        this.#keyring = await readFile(this.config.keyringConf, 'utf8');
      } catch (err) {
        throw new InvalidConfigurationValue('keyringConf', this.config.keyringConf, `cannot read the keyring: ${errorText(err)}`);
      }
    }
    return this.#keyring;
  }

  /**
   * `_trash_purge`: removes every trash entry whose deferment has ended
   * (EPERM = not yet, skipped). A trashed Cinder clone, once gone, also
   * releases its parent's `.clone_snap` (and `.deleted` parents):
   * docs/DESIGN.md#d4-parent-chain-cleaned-on-every-path. Never throws: what
   * could not be purged is logged and reported in the result (`deferred`:
   * not expired yet; `failed`: with the error, e.g. a volume whose snapshot
   * still has clones; `error`: the purge itself failed). `filter` limits the
   * purge to the entries it accepts (default: all, as Cinder).
   */
  async purgeTrash(filter?: (entry: TrashEntry) => boolean): Promise<PurgeResult> {
    const result: PurgeResult = { purged: [], deferred: [], failed: [] };
    try {
      await this.#session.run(async () => {
        const ioctx = await this.#ioctx();
        for (const entry of await Rbd.trashList(ioctx)) {
          if (filter && !filter(entry)) continue;
          let parent: CloneInfo | null = null;
          try {
            parent = await withImage(ioctx, entry.id, { byId: true, readOnly: true }, (img) => getCloneInfo(img, entry.name));
          } catch (err) {
            this.#logger.debug(`cannot read the parent of trashed image ${entry.name}: ${errorText(err)}`);
          }
          try {
            await Rbd.trashRemove(ioctx, entry.id);
          } catch (err) {
            if (err instanceof PermissionDenied) {
              this.#logger.debug(`trash entry ${entry.name} not expired yet`);
              result.deferred.push({ id: entry.id, name: entry.name });
            } else {
              this.#logger.warn(`cannot remove trash entry ${entry.name}: ${errorText(err)}`);
              result.failed.push({ id: entry.id, name: entry.name, error: err as Error });
            }
            continue;
          }
          result.purged.push({ id: entry.id, name: entry.name });
          if (parent) await this.#cleanParentRefs(parent);
        }
      });
    } catch (err) {
      this.#logger.error(`trash purge failed: ${errorText(err)}`);
      result.error = err as Error;
    }
    return result;
  }

  // ---- create / delete -------------------------------------------------------

  /** create_volume: a format-2 image of `size` GiB, object order from the chunk size, the cluster's default features. */
  async createVolume(volume: Volume): Promise<ModelUpdate> {
    const v = checkVolume(volume);
    rejectEncrypted(v, 'createVolume');
    checkVolumeType(volume.volumeType);
    return this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      const features = await this.#features();
      this.#logger.debug(`creating volume ${v.name} of ${v.size} GiB (order ${this.#order}, features ${features})`);
      try {
        await Rbd.create(ioctx, v.name, v.size * GiB, { order: this.#order, features });
      } catch (err) {
        if (err instanceof ImageExists) throw new VolumeExists(v.name, { cause: err, pool: this.config.pool });
        throw err;
      }
      return this.#setup(volume, v.name);
    });
  }

  /**
   * delete_volume: backup snapshots first; a volume with
   * `.clone_snap` snapshots is hidden as `<name>.deleted`; else remove
   * (flattening children and retrying when busy or holding snapshots), fall
   * back to the trash, VolumeIsBusy when still busy. Then, whichever path
   * removed it, the parent chain is cleaned
   * (docs/DESIGN.md#d4-parent-chain-cleaned-on-every-path).
   */
  async deleteVolume(volume: Volume | VolumeIdent | string, options: DeleteVolumeOptions = {}): Promise<void> {
    const v = checkVolumeIdent(volume);
    const refuseWithSnapshots = checkObject<DeleteVolumeOptions>(options, 'options').refuseWithSnapshots === true;
    await this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      const found: { cloneSnap: string | null; parent: CloneInfo | null } = { cloneSnap: null, parent: null };
      try {
        await withImage(ioctx, v.name, {}, async (img) => {
          if (refuseWithSnapshots) {
            const user = (await img.listSnaps()).map((s) => s.name).filter((n) => isUserSnapshot(n, BACKUP_SNAP_RE));
            if (user.length > 0) throw new VolumeHasSnapshots(v.name, user);
          }
          for (const snap of await img.listSnaps()) {
            if (BACKUP_SNAP_RE.test(snap.name)) {
              this.#logger.debug(`deleting backup snapshot ${v.name}@${snap.name}`);
              await img.removeSnap(snap.name);
            }
          }
          found.cloneSnap = (await img.listSnaps()).find((s) => s.name.endsWith(CLONE_SNAP_SUFFIX))?.name ?? null;
          found.parent = await getCloneInfo(img, v.name, found.cloneSnap);
        });
      } catch (err) {
        if (err instanceof ImageNotFound) {
          this.#logger.info(`volume ${v.name} no longer exists in backend`);
          // A half-made name would block a new create of this volume.
          if (await removeHalfMadeImage(ioctx, v.name)) this.#logger.info(`removed the half-made name ${v.name} (no image header)`);
          return;
        }
        throw err;
      }
      if (found.cloneSnap !== null) {
        // It has Cinder-made clones: keep it hidden until they are gone.
        this.#logger.debug(`volume ${v.name} has clone snapshot(s); renaming to ${v.name}${DELETED_SUFFIX}`);
        await Rbd.rename(ioctx, v.name, `${v.name}${DELETED_SUFFIX}`);
        return;
      }
      const outcome = await this.#removeImage(ioctx, v.name);
      if (outcome === 'missing') return;
      if (found.parent) await this.#cleanParentRefs(found.parent);
    });
  }

  async #cleanParentRefs(parent: CloneInfo): Promise<void> {
    try {
      await deleteCloneParentRefs(this.#chain, parent);
    } catch (err) {
      // The parent snapshot still has a child (a trashed clone): it is
      // released when the trash is purged.
      if (!(err instanceof ImageBusy)) throw err;
      this.#logger.info(`parent ${parent.pool}/${parent.parent}@${parent.snapshot} still has children; kept`);
    }
  }

  /** Steps 3-5 of delete_volume. */
  async #removeImage(ioctx: IoCtx, name: string): Promise<'removed' | 'trashed' | 'missing'> {
    const busy = (e: unknown): boolean => e instanceof ImageBusy || e instanceof ImageHasSnapshots;
    if (!this.config.enableDeferredDeletion) {
      try {
        await Rbd.remove(ioctx, name);
        return 'removed';
      } catch (err) {
        if (err instanceof ImageNotFound) return 'missing';
        if (!busy(err)) throw err;
        this.#logger.debug(`volume ${name} is busy or has snapshots (${errorText(err)}); flattening its children`);
      }
      try {
        await withImage(ioctx, name, { readOnly: true }, (img) => flattenChildren(this.#chain, img));
      } catch (err) {
        if (err instanceof ImageNotFound) return 'missing';
        throw err;
      }
      try {
        await retry(this.#policy, busy, () => Rbd.remove(ioctx, name));
        return 'removed';
      } catch (err) {
        if (err instanceof ImageNotFound) return 'missing';
        if (err instanceof ImageBusy) throw this.#busy(name, err);
        if (!(err instanceof ImageHasSnapshots)) throw err;
      }
    }
    const delay = this.config.enableDeferredDeletion ? this.config.deferredDeletionDelaySec : 0;
    this.#logger.debug(`moving volume ${name} to trash (delay ${delay} s)`);
    try {
      await Rbd.trashMove(ioctx, name, delay);
      return 'trashed';
    } catch (err) {
      if (err instanceof ImageNotFound) return 'missing';
      if (err instanceof ImageBusy) throw this.#busy(name, err);
      throw err;
    }
  }

  #busy(name: string, cause: unknown): VolumeIsBusy {
    const msg =
      'ImageBusy error raised while deleting rbd volume. This may have been caused by a connection from a client that has crashed and, ' +
      'if so, may be resolved by retrying the delete after 30 seconds has elapsed.';
    this.#logger.warn(msg);
    return new VolumeIsBusy(name, msg, { cause });
  }

  // ---- snapshots ---------------------------------------------------------------

  /**
   * create_snapshot: create and protect `snapshot.name` on its volume (given
   * by `volumeName` or `volumeId`). VolumeNotFound / SnapshotExists; a
   * `volumeSize` that is not the volume's size (GiB, rounded up) is a
   * RangeError and nothing is created.
   */
  async createSnapshot(snapshot: Snapshot): Promise<void> {
    const s = checkSnapshot(snapshot);
    await this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      await this.#onVolume(ioctx, s.volumeName, async (img) => {
        if (s.volumeSize !== undefined) {
          const actual = ceilGiB(await img.size());
          if (actual !== s.volumeSize) throw outOfRange('snapshot.volumeSize', `the size of volume ${s.volumeName} (${actual} GiB)`, s.volumeSize);
        }
        try {
          await img.createSnap(s.name);
        } catch (err) {
          if (err instanceof ImageExists) throw new SnapshotExists(`${s.volumeName}@${s.name}`, { cause: err, pool: this.config.pool });
          throw err;
        }
        await img.protectSnap(s.name);
      });
    });
  }

  /** Opens volume `name` for `fn`; VolumeNotFound (cause kept) when the image does not exist. Errors from `fn` pass through. */
  async #onVolume<T>(ioctx: IoCtx, name: string, fn: (img: Parameters<Parameters<typeof withImage>[3]>[0]) => Promise<T>, readOnly = false): Promise<T> {
    let opened = false;
    try {
      return await withImage(ioctx, name, { readOnly }, (img) => {
        opened = true;
        return fn(img);
      });
    } catch (err) {
      if (!opened && err instanceof ImageNotFound) throw new VolumeNotFound(name, { cause: err, pool: this.config.pool });
      throw err;
    }
  }

  /**
   * delete_snapshot: unprotect with retries (already unprotected is fine, a
   * missing volume or snapshot is success, busy → flatten the snapshot's
   * children and retry; still busy → SnapshotIsBusy), then remove.
   */
  async deleteSnapshot(snapshot: Snapshot): Promise<void> {
    const s = checkSnapshot(snapshot);
    await this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      let gone: boolean;
      try {
        gone = await retry(this.#policy, (e) => e instanceof ImageBusy, () => this.#unprotectOnce(ioctx, s.volumeName, s.name));
      } catch (err) {
        if (err instanceof ImageBusy) throw new SnapshotIsBusy(s.name, { cause: err });
        throw err;
      }
      if (gone) return;
      try {
        await withImage(ioctx, s.volumeName, {}, (img) => img.removeSnap(s.name));
      } catch (err) {
        if (!(err instanceof ImageNotFound)) throw err;
      }
    });
  }

  /** One unprotect attempt; true when the volume or snapshot is gone already. */
  async #unprotectOnce(ioctx: IoCtx, volumeName: string, snapName: string): Promise<boolean> {
    try {
      return await withImage(ioctx, volumeName, {}, async (img) => {
        try {
          await img.unprotectSnap(snapName);
        } catch (err) {
          if (err instanceof InvalidArgument) {
            this.#logger.info(`InvalidArgument: Unable to unprotect snapshot ${snapName}: it is not protected`);
            return false;
          }
          if (err instanceof ImageNotFound) {
            this.#logger.info(`snapshot ${volumeName}@${snapName} does not exist in backend`);
            return true;
          }
          if (err instanceof ImageBusy) {
            this.#logger.debug(`snapshot ${volumeName}@${snapName} has children; flattening them`);
            try {
              await withImage(ioctx, volumeName, { readOnly: true, snapshot: snapName }, (snapImg) => flattenChildren(this.#chain, snapImg));
            } catch (flattenErr) {
              this.#logger.warn(`cannot flatten the children of ${volumeName}@${snapName}: ${errorText(flattenErr)}`);
            }
          }
          throw err;
        }
        return false;
      });
    } catch (err) {
      if (err instanceof ImageNotFound) {
        this.#logger.info(`volume ${volumeName} does not exist in backend`);
        return true;
      }
      throw err;
    }
  }

  /** revert_to_snapshot: roll the volume back to the snapshot (no safety snapshot). VolumeNotFound / SnapshotNotFound. */
  async revertToSnapshot(volume: Volume | VolumeIdent | string, snapshot: Snapshot): Promise<void> {
    const v = checkVolumeIdent(volume);
    const s = checkSnapshot(snapshot);
    await this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      await this.#onVolume(ioctx, v.name, async (img) => {
        try {
          await img.rollbackToSnap(s.name);
        } catch (err) {
          if (err instanceof ImageNotFound) throw new SnapshotNotFound(`${v.name}@${s.name}`, { cause: err, pool: this.config.pool });
          throw err;
        }
      });
    });
  }

  // ---- clones ------------------------------------------------------------------

  /**
   * `_clone`: clones `srcPool/srcImage@srcSnap` as the volume, object order
   * from the larger of the source stripe unit and the chunk size.
   */
  async #clone(v: VolumeRef, srcPool: string, srcImage: string, srcSnap: string): Promise<ModelUpdate> {
    const srcIoctx = await this.#ioctx(srcPool);
    let stripeUnit: number;
    try {
      stripeUnit = await withImage(srcIoctx, srcImage, { readOnly: true, snapshot: srcSnap }, (img) => img.stripeUnit());
    } catch (err) {
      if (err instanceof ImageNotFound) throw new SnapshotNotFound(`${srcImage}@${srcSnap}`, { cause: err, pool: srcPool });
      throw err;
    }
    const order = orderFor(Math.max(stripeUnit, this.#chunkBytes));
    const features = await this.#features();
    const ioctx = await this.#ioctx();
    this.#logger.debug(`cloning ${srcPool}/${srcImage}@${srcSnap} to ${this.config.pool}/${v.name} (order ${order})`);
    try {
      await Rbd.clone(srcIoctx, srcImage, srcSnap, ioctx, v.name, { order, features });
    } catch (err) {
      // librbd names the parent; the caller asked about the new volume.
      if (err instanceof ImageExists) throw new VolumeExists(v.name, { cause: err, pool: this.config.pool });
      throw err;
    }
    return {};
  }

  /** Resizes to `sizeGiB`; with `growOnly`, a size below the image's current one is a RangeError (never a shrink). */
  async #resize(name: string, sizeGiB: number, growOnly = false, shrinkIsError = true): Promise<void> {
    const ioctx = await this.#ioctx();
    await withImage(ioctx, name, {}, async (img) => {
      const current = await img.size();
      if (growOnly && sizeGiB * GiB <= current && !shrinkIsError) return;
      if (growOnly && sizeGiB * GiB < current) {
        throw outOfRange('newSizeGiB', `at least the volume's current size (${current / GiB} GiB): extend never shrinks`, sizeGiB);
      }
      await img.resize(sizeGiB * GiB);
    });
  }

  /** create_volume_from_snapshot: clone, flatten when configured, grow to the volume size. */
  async createVolumeFromSnapshot(volume: Volume, snapshot: Snapshot): Promise<ModelUpdate> {
    const v = checkVolume(volume);
    const s = checkSnapshot(snapshot);
    rejectEncrypted(v, 'createVolumeFromSnapshot');
    checkVolumeType(volume.volumeType);
    return this.#session.run(async () => {
      await this.#clone(v, this.config.pool, s.volumeName, s.name);
      if (v.useQuota && this.config.flattenVolumeFromSnapshot) await flattenImage(this.#chain, this.config.pool, v.name);
      if (s.volumeSize === undefined) await this.#resize(v.name, v.size, true, false);
      else if (v.size > s.volumeSize) await this.#resize(v.name, v.size);
      return this.#setup(volume, v.name);
    });
  }

  /**
   * create_cloned_volume: full copy when maxCloneDepth <= 0; otherwise a COW
   * clone through `<dest>.clone_snap` on the source, and when the source has
   * maxCloneDepth Cinder-made ancestors the new volume is flattened and the
   * snapshot removed (docs/DESIGN.md#d8-clone-depth-flattens-the-new-volume).
   */
  async createClonedVolume(volume: Volume, srcVolume: Volume): Promise<ModelUpdate> {
    const v = checkVolume(volume);
    const src = checkVolume(srcVolume, 'srcVolume');
    rejectEncrypted(v, 'createClonedVolume');
    rejectEncrypted(src, 'createClonedVolume');
    checkVolumeType(volume.volumeType);
    return this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      if (this.config.maxCloneDepth <= 0) {
        await this.#onVolume(ioctx, src.name, (img) => img.copy(ioctx, v.name), true);
        if (v.size !== src.size) await this.#resize(v.name, v.size);
        return this.#setup(volume, v.name);
      }
      const cloneSnap = `${v.name}${CLONE_SNAP_SUFFIX}`;
      const features = await this.#features();
      await this.#onVolume(ioctx, src.name, async (img) => {
        let created = false;
        let protectedSnap = false;
        try {
          this.#logger.debug(`creating snapshot ${src.name}@${cloneSnap}`);
          await img.createSnap(cloneSnap);
          created = true;
          await img.protectSnap(cloneSnap);
          protectedSnap = true;
          await Rbd.clone(ioctx, src.name, cloneSnap, ioctx, v.name, { features });
        } catch (err) {
          if (protectedSnap) await img.unprotectSnap(cloneSnap).catch(() => undefined);
          if (created) await img.removeSnap(cloneSnap).catch(() => undefined);
          const msg = `Failed to clone '${src.name}@${cloneSnap}' to '${v.name}', error: ${errorText(err)}`;
          this.#logger.error(msg);
          throw new VolumeBackendAPIException(msg, { cause: err });
        }
      });

      const depth = await getCloneDepth(this.#chain, src.name);
      if (v.useQuota && depth >= this.config.maxCloneDepth) {
        this.#logger.info(`maximum clone depth (${this.config.maxCloneDepth}) has been reached - flattening dest volume`);
        try {
          await flattenImage(this.#chain, this.config.pool, v.name);
        } catch (err) {
          throw new VolumeBackendAPIException(`Failed to flatten volume ${v.name} with error: ${errorText(err)}.`, { cause: err });
        }
        try {
          await withImage(ioctx, src.name, {}, async (img) => {
            await img.unprotectSnap(cloneSnap);
            await img.removeSnap(cloneSnap);
          });
        } catch (err) {
          throw new VolumeBackendAPIException(`Failed to remove temporary snap ${cloneSnap}, error: ${errorText(err)}`, { cause: err });
        }
      }
      if (v.size !== src.size) await this.#resize(v.name, v.size);
      return this.#setup(volume, v.name);
    });
  }

  /** extend_volume: resize to `newSizeGiB`; any failure is VolumeBackendAPIException. */
  async extendVolume(volume: Volume, newSizeGiB: number): Promise<void> {
    const v = checkVolume(volume);
    checkInteger(newSizeGiB, 'newSizeGiB', 1, Number.MAX_SAFE_INTEGER / GiB);
    try {
      await this.#session.run(() => this.#resize(v.name, newSizeGiB, true));
    } catch (err) {
      if (err instanceof RangeError) throw err; // a shrink refused: the caller's error, not the backend's
      const msg = `Failed to Extend Volume ${v.name}`;
      this.#logger.error(`${msg}: ${errorText(err)}`);
      throw new VolumeBackendAPIException(msg, { cause: err });
    }
  }

  // ---- volume types: QoS, multiattach, retype (lib/cinder/volume-type.ts, retype.ts) ----------------

  /** get_rbd_image_qos: the effective rbd_qos_* options of the volume's image (librbd option → value). */
  async getRbdImageQos(volume: Volume): Promise<Record<string, string>> {
    const v = checkVolume(volume);
    return this.#session.run(async () => onVolumeImage(await this.#ioctx(), v.name, 'get qos specs', imageQos));
  }

  /** update_rbd_image_qos: sets each known Cinder QoS key of `specs` as the image's rbd_qos_* override. */
  async updateRbdImageQos(volume: Volume, specs: Record<string, string>): Promise<void> {
    const v = checkVolume(volume);
    checkVolumeType({ qosSpecs: { consumer: 'back-end', specs: checkObject(specs, 'specs') as Record<string, string> } });
    await this.#session.run(async () => onVolumeImage(await this.#ioctx(), v.name, 'set qos specs', (img) => applyQos(img, specs, this.#logger)));
  }

  /** delete_rbd_image_qos_keys: drops the image overrides of these Cinder QoS keys. */
  async deleteRbdImageQosKeys(volume: Volume, keys: string[]): Promise<void> {
    const v = checkVolume(volume);
    await this.#session.run(async () => onVolumeImage(await this.#ioctx(), v.name, 'delete qos keys', (img) => removeQosKeys(img, keys, this.#logger)));
  }

  /** retype: QoS keys the new type drops are removed, then the new type is set up; `diff` defaults to the types' diff. */
  async retype(volume: Volume, newType: VolumeType | null, diff?: VolumeTypeDiff): Promise<{ changed: boolean; modelUpdate: ModelUpdate }> {
    const v = checkVolume(volume);
    return this.#session.run(async () => retypeVolume(await this.#ioctx(), v.name, volume, newType, diff, this.#logger, this.#replication));
  }

  /** migrate_volume: same pool → moved; another pool of this cluster → copy, then delete the source; else `moved: false`. */
  async migrateVolume(volume: Volume, host: MigrationHost): Promise<{ moved: boolean; modelUpdate?: ModelUpdate }> {
    const v = checkVolume(volume);
    return this.#session.run(() => migrateVolume(this.#session, this.config.pool, this.#logger, v, volume, host, () => this.deleteVolume(volume)));
  }

  /** update_migrated_volume: renames the migration volume back to the original name (not when in use). */
  async updateMigratedVolume(volume: Volume, newVolume: Volume, originalVolumeStatus: string): Promise<ModelUpdate> {
    checkVolume(volume);
    checkVolume(newVolume, 'newVolume');
    return this.#session.run(() => updateMigratedVolume(this.#session, this.config.pool, this.#logger, volume, newVolume, originalVolumeStatus));
  }

  // ---- images --------------------------------------------------------------------

  /**
   * clone_image: COW-clones the first cloneable candidate location into the
   * volume and grows it to the volume size. `{ cloned: false, reason, detail }`
   * when none is cloneable (the caller then copies the data); VolumeExists
   * when the volume's name is taken.
   */
  async cloneImage(volume: Volume, imageLocation: ImageLocation, imageMeta: ImageMeta): Promise<CloneImageResult> {
    const v = checkVolume(volume);
    rejectEncrypted(v, 'cloneImage');
    checkVolumeType(volume.volumeType);
    return this.#session.run(async () => {
      const loc = await firstCloneable(this.#session, this.#logger, v, imageLocation, imageMeta);
      if ('reason' in loc) return { cloned: false, modelUpdate: {}, reason: loc.reason, detail: loc.detail };
      await this.#clone(v, loc.pool, loc.image, loc.snapshot);
      await this.#resize(v.name, v.size);
      return { cloned: true, modelUpdate: { provider_location: null, ...(await this.#setup(volume, v.name)) } };
    });
  }

  #copyContext(volume: Volume): CopyContext {
    return {
      config: this.config,
      logger: this.#logger,
      ioctx: () => this.#ioctx(),
      order: this.#order,
      chunkBytes: this.#chunkBytes,
      features: () => this.#features(),
      deleteVolume: (v) => retry(this.#policy, (e) => e instanceof VolumeIsBusy, () => this.deleteVolume(v)),
      setup: (ioctx, name) => setupVolume(ioctx, name, volume, undefined, this.#logger, this.#replication),
    };
  }

  /**
   * copy_image_to_volume: always a copy, never a clone. The image is fetched
   * to a temporary directory, its bytes inspected and checked by `qemu-img
   * info` (disk_format must match; none = must be raw), converted into a new
   * image of the volume (lib/cinder/image-copy.ts).
   */
  async copyImageToVolume(volume: Volume, glanceStore: ImageStoreLike, imageLocation: ImageLocation, imageMeta?: ImageMeta, options?: CopyOptions): Promise<ModelUpdate> {
    const v = checkVolume(volume);
    rejectEncrypted(v, 'copyImageToVolume');
    checkVolumeType(volume.volumeType);
    return copyImageToVolume(this.#copyContext(volume), v, glanceStore, imageLocation, imageMeta, options);
  }

  /** copy_volume_to_image: raw (streamed) or qcow2 (qemu-img) into `store.add(imageId, stream, sizeBytes)`. */
  async copyVolumeToImage(volume: Volume, glanceStore: ImageStoreLike, imageId: string, imageMeta?: ImageMeta, options?: CopyOptions): Promise<Awaited<ReturnType<ImageStoreLike['add']>>> {
    const v = checkVolume(volume);
    rejectEncrypted(v, 'copyVolumeToImage');
    return copyVolumeToImage(this.#copyContext(volume), v, glanceStore, imageId, imageMeta, options);
  }

  // ---- stats and connections ---------------------------------------------------------

  /** get_volume_stats: the cached report, refreshed first when `refresh` (or never made). Never throws. */
  async getVolumeStats(refresh = false): Promise<VolumeStats> {
    if (refresh || !this.#stats) this.#stats = await volumeStats(this.#session, this.config, this.#logger);
    return { ...this.#stats };
  }

  /** initialize_connection: what libvirt/os-brick need to attach the volume over librbd. */
  async initializeConnection(volume: Volume, _connector?: unknown): Promise<ConnectionInfo> {
    const v = checkVolume(volume);
    const { hosts, ports, fsid } = await this.#session.run(async () => ({ ...(await monAddrs(await this.#session.rados())), fsid: await this.#session.fsid() }));
    const keyring = await this.#loadKeyring();
    const info: ConnectionInfo = {
      driver_volume_type: 'rbd',
      data: {
        name: `${this.config.pool}/${v.name}`,
        hosts,
        ports,
        cluster_name: this.#active.clusterName,
        auth_enabled: this.#active.user !== undefined,
        auth_username: this.#active.user ?? null,
        secret_type: 'ceph',
        secret_uuid: this.#active.secretUuid ?? fsid,
        volume_id: v.id,
        discard: true,
      },
    };
    if (keyring !== undefined) info.data.keyring = keyring;
    return info;
  }

  /** terminate_connection: nothing to do for RBD. */
  async terminateConnection(_volume: Volume, _connector?: unknown): Promise<void> {
    // Nothing to undo: the hypervisor's librbd connection is its own.
  }

  // ---- manage ------------------------------------------------------------------------------

  #sourceName(existingRef: unknown): string {
    const ref = existingRef as Record<string, unknown> | null;
    const name = ref && typeof ref === 'object' ? ref['source-name'] : undefined;
    if (typeof name !== 'string' || name === '') {
      throw new ManageExistingInvalidReference(existingRef, 'Reference must contain source-name element.');
    }
    return name;
  }

  /** manage_existing_get_size: the image's size in GiB, rounded up. */
  async manageExistingGetSize(_volume: Volume, existingRef: { 'source-name': string }): Promise<number> {
    const name = this.#sourceName(existingRef);
    return this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      try {
        const size = await withImage(ioctx, name, { readOnly: true }, (img) => img.size());
        return Math.ceil(size / GiB);
      } catch (err) {
        if (err instanceof ImageNotFound) throw new ManageExistingInvalidReference(name, 'Specified rbd image does not exist.', { cause: err });
        throw err;
      }
    });
  }

  /** manage_existing: rename the image to the volume's name. */
  async manageExisting(volume: Volume, existingRef: { 'source-name': string }): Promise<ModelUpdate> {
    const v = checkVolume(volume);
    rejectEncrypted(v, 'manageExisting');
    checkVolumeType(volume.volumeType);
    const name = this.#sourceName(existingRef);
    return this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      try {
        await Rbd.rename(ioctx, name, v.name);
      } catch (err) {
        if (err instanceof ImageNotFound) throw new ManageExistingInvalidReference(name, 'Specified rbd image does not exist.', { cause: err });
        throw err;
      }
      // The image is the user's: a failed setup leaves it managed, not removed.
      return this.#setup(volume, v.name, true);
    });
  }

  /** unmanage: nothing on the back end (the image stays as it is). */
  async unmanage(_volume: Volume): Promise<void> {
    // Cinder forgets the volume; the image keeps its name.
  }

  /**
   * get_manageable_volumes: every image of the pool with its size (GiB),
   * Cinder id when it is already a Cinder volume, and why it is not safe to
   * manage ('already managed', 'volume in use', 'volume marked as deleted'),
   * sorted and paginated as Cinder does.
   */
  async getManageableVolumes(
    cinderVolumes: Array<{ id: string }>,
    marker: unknown,
    limit: number | null | undefined,
    offset: number | null | undefined,
    sortKeys: string[] = ['reference'],
    sortDirs: string[] = ['desc'],
  ): Promise<ManageableVolume[]> {
    const ids = new Set((cinderVolumes ?? []).map((c) => c.id));
    const entries = await this.#session.run(async () => listManageableVolumes(await this.#ioctx(), ids, this.#logger));
    return paginateEntries(entries, marker, limit, offset, sortKeys, sortDirs);
  }

  // ---- id-based reads ----------------------------------------------------------------------

  /** `volume-<id>`, the id validated (also exported as volumeName()). */
  static volumeName(id: string): string {
    return volumeName(id);
  }

  /** `snapshot-<id>`, the id validated (also exported as snapshotName()). */
  static snapshotName(id: string): string {
    return snapshotName(id);
  }

  /** Size, parent, snapshots, features and watchers of volume `id`; VolumeNotFound. */
  async getVolume(id: string): Promise<VolumeInfo> {
    volumeName(id);
    return this.#session.run(async () => readVolume(await this.#ioctx(), this.config.pool, id));
  }

  /** Every Cinder volume of the pool (`volume-<id>` images, hidden `.deleted` ones excluded), by id. */
  async listVolumes(): Promise<VolumeInfo[]> {
    return this.#session.run(async () => {
      const ioctx = await this.#ioctx();
      const out: VolumeInfo[] = [];
      for (const id of await readVolumeIds(ioctx)) {
        try {
          out.push(await readVolume(ioctx, this.config.pool, id));
        } catch (err) {
          if (!(err instanceof VolumeNotFound)) throw err; // deleted meanwhile
        }
      }
      return out;
    });
  }

  /** The snapshots of volume `volumeId` (all of them, with `id` set on Cinder's own `snapshot-<id>` ones); VolumeNotFound. */
  async listSnapshots(volumeId: string): Promise<SnapshotInfo[]> {
    volumeName(volumeId);
    return this.#session.run(async () => readSnapshots(await this.#ioctx(), this.config.pool, volumeId));
  }

  /** Snapshot `snapshot-<snapId>` of volume `volumeId`; VolumeNotFound / SnapshotNotFound. */
  async getSnapshot(volumeId: string, snapId: string): Promise<SnapshotInfo> {
    volumeName(volumeId);
    snapshotName(snapId);
    return this.#session.run(async () => readSnapshot(await this.#ioctx(), this.config.pool, volumeId, snapId));
  }

  // ---- snapshot management ----------------------------------------------------------------

  /** manage_existing_snapshot_get_size: the size in GiB of `snapshot.volumeName@<source-name>`. */
  async manageExistingSnapshotGetSize(snapshot: Snapshot, existingRef: { 'source-name': string } | string): Promise<number> {
    const s = checkSnapshot(snapshot);
    const name = snapshotSourceName(existingRef);
    return this.#session.run(async () => manageableSnapshotSize(await this.#ioctx(), s.volumeName, name));
  }

  /** manage_existing_snapshot: renames the snapshot to `snapshot-<id>` and protects it. */
  async manageExistingSnapshot(snapshot: Snapshot, existingRef: { 'source-name': string } | string): Promise<ModelUpdate> {
    const s = checkSnapshot(snapshot);
    const name = snapshotSourceName(existingRef);
    await this.#session.run(async () => manageSnapshot(await this.#ioctx(), s.volumeName, name, s.name));
    return {};
  }

  /** get_manageable_snapshots: every snapshot of the pool, sorted and paginated as Cinder does. */
  async getManageableSnapshots(
    cinderSnapshots: Array<{ id: string }>,
    marker: unknown,
    limit: number | null | undefined,
    offset: number | null | undefined,
    sortKeys: string[] = ['reference'],
    sortDirs: string[] = ['desc'],
  ): Promise<ManageableSnapshot[]> {
    const ids = new Set((cinderSnapshots ?? []).map((c) => c.id));
    const entries = await this.#session.run(async () => listManageableSnapshots(await this.#ioctx(), ids, this.#logger));
    return paginateEntries(entries, marker, limit, offset, sortKeys, sortDirs);
  }

  /** unmanage_snapshot: unprotects it when it has no clones; it stays on the volume. */
  async unmanageSnapshot(snapshot: Snapshot): Promise<void> {
    const s = checkSnapshot(snapshot);
    await this.#session.run(async () => unmanageSnapshot(await this.#ioctx(), s.volumeName, s.name));
  }

  // ---- replication (lib/cinder/replication.ts, failover.ts) ----------------------------------

  /** One round of the snapshot-mirroring schedule (replicationMode 'snapshot'; run every replicationSnapshotIntervalSec after checkForSetupError()). */
  async createMirrorSnapshots(): Promise<MirrorSnapshotRound> {
    return this.#session.run(async () => createMirrorSnapshots(await this.#ioctx(), this.#logger));
  }

  #failoverContext(): FailoverContext {
    return { config: this.config, logger: this.#logger, active: this.#active };
  }

  /**
   * failover: demote the replicated volumes where the active cluster
   * answers, promote them on `secondaryId` ('default' = failback); one
   * update per volume, non-replicated ones reported, not touched
   * (lib/cinder/failover.ts; docs/API.md#replication-failover-failback).
   * The driver stays on its cluster until failoverCompleted().
   */
  async failover(volumes: FailoverVolume[], secondaryId?: string): Promise<FailoverResult> {
    if (!Array.isArray(volumes)) throw invalidType('volumes', 'an array of volumes', volumes);
    const checked = volumes.map((v, i) => {
      const ref = checkVolumeIdent(v, `volumes[${i}]`);
      return { ...(typeof v === 'object' ? v : {}), id: ref.id, name: ref.name, size: ref.size ?? 0 } as Volume;
    });
    if (secondaryId !== undefined) checkString(secondaryId, 'secondaryId');
    return failoverVolumes(this.#failoverContext(), checked, secondaryId);
  }

  /** failover_completed: every later call (connection info and stats included) goes to `secondaryId`'s cluster. */
  async failoverCompleted(secondaryId?: string): Promise<void> {
    if (secondaryId !== undefined) checkString(secondaryId, 'secondaryId');
    const target = failoverTarget(this.config, this.#active.backendId, secondaryId);
    const old = this.#session;
    this.#active = target;
    this.#session = this.#newSession(target);
    this.#chain = this.#newChain();
    this.#stats = undefined;
    this.#logger.info(`RBD driver active backend is now ${target.backendId}.`);
    await old.close().catch((err: unknown) => this.#logger.debug(`closing the old connection: ${errorText(err)}`));
  }

  /** failover_host: failover() then failoverCompleted() (Cinder without active/active). */
  async failoverHost(volumes: FailoverVolume[], secondaryId?: string): Promise<FailoverResult> {
    const result = await this.failover(volumes, secondaryId);
    await this.failoverCompleted(secondaryId);
    return result;
  }

  // ---- lifetime ---------------------------------------------------------------------------

  /** Stops the purge and mirror snapshot tasks and shuts the connection down. Idempotent. */
  async close(): Promise<void> {
    if (this.#purgeTimer) clearInterval(this.#purgeTimer);
    this.#purgeTimer = undefined;
    if (this.#mirrorSnapTimer) clearInterval(this.#mirrorSnapTimer);
    this.#mirrorSnapTimer = undefined;
    await this.#session.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
