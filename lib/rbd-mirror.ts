/**
 * RBD mirroring (rbd_mirror_*): a pool's mirror mode, this cluster's site
 * name, peers (bootstrap tokens or added by hand), and per image: enable in
 * journal or snapshot mode, disable, promote, demote, resync, mirror
 * snapshots and replication status. The replication itself is done by an
 * `rbd-mirror` daemon on each receiving site (scripts/mirror-pair.sh starts
 * a pair of micro clusters with one each).
 */
import { isDeepStrictEqual } from 'node:util';

import { type NativeMirrorGlobalStatus, type NativeMirrorImageInfo, type NativeMirrorPeer, type NativeMirrorSiteStatus, addon } from './native';
import type { IoCtx, Rados } from './rados';
import { Image } from './rbd';
import { type GroupSnapCreateOptions, snapCreateFlags } from './rbd-group';
import './setup';
import { checkBoolean, checkInteger, checkName, checkObject, checkSecret, checkString, invalidType, invalidValue } from './validate';

/** A pool's mirroring: off, per image (`mirrorEnable`), or every journaling image. */
export type MirrorMode = 'disabled' | 'image' | 'pool';
/** How an image replicates: by replaying its journal, or by mirror snapshots. */
export type MirrorImageMode = 'journal' | 'snapshot';
/** Which way a peer replicates, seen from this site ('rx-only': the peer sends, we receive). */
export type MirrorPeerDirection = 'rx-only' | 'tx-only' | 'rx-tx';
export type MirrorImageState = NativeMirrorImageInfo['state'];
/** What an rbd-mirror daemon reports for an image (the `rbd` CLI shows `up+replaying`). */
export type MirrorStatusState = NativeMirrorSiteStatus['state'];
export type MirrorImageInfo = NativeMirrorImageInfo;
/** One site's view of an image; `mirrorUuid` is '' for this site, the peer's mirror uuid otherwise. */
export type MirrorSiteStatus = NativeMirrorSiteStatus;
export type MirrorGlobalStatus = NativeMirrorGlobalStatus;
/** A peer site: `lastSeenMs` is 0 until a daemon of that site registered. */
export type MirrorPeer = NativeMirrorPeer;
/** Peer attributes: `mon_host` and `key` (the peer's cephx key) connect to the peer without a config file. */
export type MirrorPeerAttributes = Record<string, string>;

export const RBD_MIRROR_MODE_DISABLED = 0;
export const RBD_MIRROR_MODE_IMAGE = 1;
export const RBD_MIRROR_MODE_POOL = 2;
export const RBD_MIRROR_PEER_DIRECTION_RX = 0;
export const RBD_MIRROR_PEER_DIRECTION_TX = 1;
export const RBD_MIRROR_PEER_DIRECTION_RX_TX = 2;
export const RBD_MIRROR_IMAGE_MODE_JOURNAL = 0;
export const RBD_MIRROR_IMAGE_MODE_SNAPSHOT = 1;

const MODES: Record<MirrorMode, number> = { disabled: RBD_MIRROR_MODE_DISABLED, image: RBD_MIRROR_MODE_IMAGE, pool: RBD_MIRROR_MODE_POOL };
const DIRECTIONS: Record<MirrorPeerDirection, number> = {
  'rx-only': RBD_MIRROR_PEER_DIRECTION_RX,
  'tx-only': RBD_MIRROR_PEER_DIRECTION_TX,
  'rx-tx': RBD_MIRROR_PEER_DIRECTION_RX_TX,
};
const IMAGE_MODES: Record<MirrorImageMode, number> = { journal: RBD_MIRROR_IMAGE_MODE_JOURNAL, snapshot: RBD_MIRROR_IMAGE_MODE_SNAPSHOT };

function pick<K extends string>(table: Record<K, number>, value: unknown, name: string): number {
  if (typeof value !== 'string') throw invalidType(name, 'a string', value);
  if (!Object.hasOwn(table, value)) throw invalidValue(name, `one of ${Object.keys(table).map((k) => `'${k}'`).join(', ')}`, value);
  return table[value as K];
}

/** Options of the paged listings: `startAfter` an image id (exclusive), `max` 1..4096 (default 64). */
export interface MirrorPageOptions {
  startAfter?: string;
  max?: number;
}
/** Options of the listing generators: `pageSize` 1..4096 (default 64). */
export interface MirrorListOptions {
  pageSize?: number;
}
export interface MirrorImageStatusEntry {
  id: string;
  status: MirrorGlobalStatus;
}
export interface MirrorImageInfoEntry {
  id: string;
  mode: MirrorImageMode;
  info: MirrorImageInfo;
}
export interface MirrorInstanceEntry {
  id: string;
  /** The rbd-mirror instance (its RADOS client id) replaying the image on this site. */
  instanceId: string;
}

function page(options: MirrorPageOptions | undefined): [string, number] {
  const o = checkObject<MirrorPageOptions>(options, 'options');
  const after = o.startAfter === undefined ? '' : checkString(o.startAfter, 'options.startAfter');
  const max = o.max === undefined ? 64 : checkInteger(o.max, 'options.max', 1, 4096);
  return [after, max];
}

function pageSize(options: MirrorListOptions | undefined): number {
  const o = checkObject<MirrorListOptions>(options, 'options');
  return o.pageSize === undefined ? 64 : checkInteger(o.pageSize, 'options.pageSize', 1, 4096);
}

/** Every entry of a paged listing, `size` at a time, by the id of the last one. */
async function* pages<T>(size: number, fetch: (after: string, max: number) => Promise<T[]>, idOf: (entry: T) => string): AsyncGenerator<T> {
  let after = '';
  for (;;) {
    const entries = await fetch(after, size);
    yield* entries;
    if (entries.length < size) return;
    after = idOf(entries[entries.length - 1]);
  }
}

function modeFilter(value: unknown): number | undefined {
  return value === undefined ? undefined : pick(IMAGE_MODES, value, 'options.mode');
}

/**
 * Pool- and cluster-level mirroring (python-rbd's RBD.mirror_*, go-ceph's
 * Mirror* functions). Errors are typed as everywhere: InvalidArgument for
 * what librbd refuses (e.g. a 'tx-only' peer, a bootstrap token from a pool
 * without mirroring), MirrorPeerNotFound / MirrorPeerExists for peers,
 * ObjectNotFound from getUuid before mirroring was ever enabled.
 */
export const RbdMirror = {
  /** This cluster's site name (the fsid until one is set). */
  getSiteName(rados: Rados): Promise<string> {
    return addon.rbdMirror.siteNameGet(rados.native);
  },
  /** Sets the site name peers know this cluster by; '' resets it to the fsid. */
  async setSiteName(rados: Rados, name: string): Promise<void> {
    return addon.rbdMirror.siteNameSet(rados.native, checkString(name, 'name'));
  },
  getMode(ioctx: IoCtx): Promise<MirrorMode> {
    return addon.rbdMirror.modeGet(ioctx.native);
  },
  /** 'disabled' needs every image's mirroring disabled first (InvalidArgument otherwise) and no peers. */
  async setMode(ioctx: IoCtx, mode: MirrorMode): Promise<void> {
    return addon.rbdMirror.modeSet(ioctx.native, pick(MODES, mode, 'mode'));
  },
  /** The pool's mirror uuid (what peers list as `mirrorUuid`); ENOENT before mirroring was enabled. */
  getUuid(ioctx: IoCtx): Promise<string> {
    return addon.rbdMirror.uuidGet(ioctx.native);
  },
  /**
   * A token another site imports to add this one as a peer (it holds this
   * cluster's fsid, monitors and the cephx key of client.rbd-mirror-peer,
   * created if missing): treat it as a secret. Mirroring must be enabled.
   */
  createBootstrapToken(ioctx: IoCtx): Promise<string> {
    return addon.rbdMirror.peerBootstrapCreate(ioctx.native);
  },
  /**
   * Adds the site of `token` as a peer of this pool (and, with 'rx-tx', this
   * site as a peer of it). Direction 'rx-only' or 'rx-tx' (default).
   */
  async importBootstrapToken(ioctx: IoCtx, token: string, direction: MirrorPeerDirection = 'rx-tx'): Promise<void> {
    const d = pick(DIRECTIONS, direction, 'direction');
    return addon.rbdMirror.peerBootstrapImport(ioctx.native, d, checkSecret(token, 'token'));
  },
  /** Adds a peer by hand; returns its uuid. Set its `mon_host`/`key` with setPeerAttributes. */
  async addPeer(ioctx: IoCtx, siteName: string, clientName: string, direction: MirrorPeerDirection = 'rx-tx'): Promise<string> {
    const d = pick(DIRECTIONS, direction, 'direction');
    return addon.rbdMirror.peerSiteAdd(ioctx.native, d, checkName(siteName, 'siteName'), checkName(clientName, 'clientName'));
  },
  async removePeer(ioctx: IoCtx, uuid: string): Promise<void> {
    return addon.rbdMirror.peerSiteRemove(ioctx.native, checkName(uuid, 'uuid'));
  },
  listPeers(ioctx: IoCtx): Promise<MirrorPeer[]> {
    return addon.rbdMirror.peerSiteList(ioctx.native);
  },
  async setPeerSiteName(ioctx: IoCtx, uuid: string, siteName: string): Promise<void> {
    return addon.rbdMirror.peerSiteSet(ioctx.native, checkName(uuid, 'uuid'), 'name', checkName(siteName, 'siteName'));
  },
  /** The same as setPeerSiteName (a peer's site name is its cluster name; python-rbd's mirror_peer_set_cluster). */
  async setPeerCluster(ioctx: IoCtx, uuid: string, clusterName: string): Promise<void> {
    return addon.rbdMirror.peerSiteSet(ioctx.native, checkName(uuid, 'uuid'), 'name', checkName(clusterName, 'clusterName'));
  },
  /** The cephx user the local rbd-mirror connects to the peer as, e.g. 'client.rbd-mirror-peer'. */
  async setPeerClient(ioctx: IoCtx, uuid: string, clientName: string): Promise<void> {
    return addon.rbdMirror.peerSiteSet(ioctx.native, checkName(uuid, 'uuid'), 'client', checkName(clientName, 'clientName'));
  },
  async setPeerDirection(ioctx: IoCtx, uuid: string, direction: MirrorPeerDirection): Promise<void> {
    const d = pick(DIRECTIONS, direction, 'direction');
    return addon.rbdMirror.peerSiteSet(ioctx.native, checkName(uuid, 'uuid'), 'direction', d);
  },
  /** The peer's attributes (`mon_host`, `key`); {} when none were set. */
  async getPeerAttributes(ioctx: IoCtx, uuid: string): Promise<MirrorPeerAttributes> {
    return Object.fromEntries(await addon.rbdMirror.peerSiteGetAttributes(ioctx.native, checkName(uuid, 'uuid')));
  },
  /** Replaces every attribute of the peer; `key` is checked as a secret (never shown in an error). */
  async setPeerAttributes(ioctx: IoCtx, uuid: string, attributes: MirrorPeerAttributes): Promise<void> {
    const id = checkName(uuid, 'uuid');
    if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) throw invalidType('attributes', 'an object of strings', attributes);
    const keys: string[] = [];
    const values: string[] = [];
    for (const [k, v] of Object.entries(attributes)) {
      keys.push(checkName(k, 'attributes key'));
      values.push(k === 'key' ? checkSecret(v, `attributes.${k}`) : checkString(v, `attributes.${k}`));
    }
    return addon.rbdMirror.peerSiteSetAttributes(ioctx.native, id, keys, values);
  },

  // ---- pool-wide status -----------------------------------------------------
  /** How many mirrored images of the pool are in each state (states with no image are left out). */
  async imageStatusSummary(ioctx: IoCtx): Promise<Partial<Record<MirrorStatusState, number>>> {
    return Object.fromEntries(await addon.rbdMirror.imageStatusSummary(ioctx.native));
  },
  /** One page of mirrored images with their global status, by image id. */
  async listImageStatus(ioctx: IoCtx, options?: MirrorPageOptions): Promise<MirrorImageStatusEntry[]> {
    const [after, max] = page(options);
    return addon.rbdMirror.imageGlobalStatusList(ioctx.native, after, max);
  },
  /** Every mirrored image with its global status, `pageSize` per call to librbd. */
  imageStatuses(ioctx: IoCtx, options?: MirrorListOptions): AsyncGenerator<MirrorImageStatusEntry> {
    const size = pageSize(options);
    return pages(size, (after, max) => addon.rbdMirror.imageGlobalStatusList(ioctx.native, after, max), (e) => e.id);
  },
  /** One page of mirrored images with their mode and info, optionally only those of `mode`. */
  async listImageInfo(ioctx: IoCtx, options?: MirrorPageOptions & { mode?: MirrorImageMode }): Promise<MirrorImageInfoEntry[]> {
    const [after, max] = page(options);
    return addon.rbdMirror.imageInfoList(ioctx.native, after, max, modeFilter(options?.mode));
  },
  imageInfos(ioctx: IoCtx, options?: MirrorListOptions & { mode?: MirrorImageMode }): AsyncGenerator<MirrorImageInfoEntry> {
    const size = pageSize(options);
    const mode = modeFilter(options?.mode);
    return pages(size, (after, max) => addon.rbdMirror.imageInfoList(ioctx.native, after, max, mode), (e) => e.id);
  },
  /** One page of the images an rbd-mirror daemon of this site replays, with its instance id. */
  async listInstanceIds(ioctx: IoCtx, options?: MirrorPageOptions): Promise<MirrorInstanceEntry[]> {
    const [after, max] = page(options);
    return (await addon.rbdMirror.imageInstanceIdList(ioctx.native, after, max)).map(([id, instanceId]) => ({ id, instanceId }));
  },
  instanceIds(ioctx: IoCtx, options?: MirrorListOptions): AsyncGenerator<MirrorInstanceEntry> {
    const size = pageSize(options);
    const fetch = async (after: string, max: number) =>
      (await addon.rbdMirror.imageInstanceIdList(ioctx.native, after, max)).map(([id, instanceId]) => ({ id, instanceId }));
    return pages(size, fetch, (e) => e.id);
  },
};

/** What a site status's description says about replay progress. */
export interface MirrorReplayProgress {
  /** The JSON after "replaying, " (journal: positions and entries behind; snapshot: snapshot timestamps), or null. */
  details: Record<string, unknown> | null;
  /**
   * true when the non-primary has replayed everything the primary reported
   * (journal: same positions and 0 entries behind; snapshot: the last
   * primary snapshot copied and replay idle), false when not yet, null when
   * the description carries no progress (not replaying).
   */
  caughtUp: boolean | null;
}

/**
 * Reads replay progress from a site status. librbd reports it only inside
 * the description text (`replaying, {...}`), which is how the `rbd` CLI shows
 * it too; this is the one place that reads it.
 */
export function mirrorReplayProgress(status: Pick<MirrorSiteStatus, 'state' | 'description'>): MirrorReplayProgress {
  if (status.state !== 'replaying') return { details: null, caughtUp: null };
  const at = status.description.indexOf('{');
  let details: Record<string, unknown> | null = null;
  if (at >= 0) {
    try {
      const parsed: unknown = JSON.parse(status.description.slice(at));
      if (parsed !== null && typeof parsed === 'object') details = parsed as Record<string, unknown>;
    } catch {
      details = null;
    }
  }
  if (details === null) return { details: null, caughtUp: null };
  if ('primary_position' in details) {
    const same = isDeepStrictEqual(details.primary_position, details.non_primary_position);
    return { details, caughtUp: same && details.entries_behind_primary === 0 };
  }
  if ('remote_snapshot_timestamp' in details) {
    const same = details.remote_snapshot_timestamp === details.local_snapshot_timestamp;
    return { details, caughtUp: same && details.replay_state === 'idle' };
  }
  return { details, caughtUp: null };
}

/**
 * How far the initial sync (or a snapshot-mode sync) of a non-primary copy
 * is, in percent, from its site status: journal mode reports it while
 * 'syncing' ("bootstrapping, IMAGE_SYNC/COPY_IMAGE 51%"), snapshot mode
 * inside the replaying details (`syncing_percent`); a copy that replays
 * otherwise is synced (100: how far its replay lags is
 * mirrorReplayProgress().caughtUp). null for other states.
 */
export function mirrorSyncPercent(status: Pick<MirrorSiteStatus, 'state' | 'description'>): number | null {
  if (status.state === 'syncing') {
    const m = /(\d{1,3})%/.exec(status.description);
    return m ? Math.min(100, Number(m[1])) : 0;
  }
  if (status.state !== 'replaying') return null;
  const pct = mirrorReplayProgress(status).details?.syncing_percent;
  return typeof pct === 'number' && Number.isFinite(pct) ? Math.max(0, Math.min(100, pct)) : 100;
}

/** Options of mirrorCreateSnapshot: the quiesce flags of rbd_mirror_image_create_snapshot2. */
export type MirrorSnapshotOptions = GroupSnapCreateOptions;

declare module './rbd' {
  interface Image {
    /**
     * Enables mirroring of this image (the pool must be in 'image' mode, or
     * 'pool' mode for snapshot mirroring). 'journal' (default) also turns on
     * the journaling feature, which needs exclusive-lock.
     */
    mirrorEnable(mode?: MirrorImageMode): Promise<void>;
    /** Disables mirroring; `force` also on a non-primary image (it stays, unreplicated). */
    mirrorDisable(options?: { force?: boolean }): Promise<void>;
    /** Makes this copy primary; `force` when the current primary cannot be demoted (its site is down). */
    mirrorPromote(options?: { force?: boolean }): Promise<void>;
    /** Makes this primary copy non-primary (read-only), so a peer can be promoted. */
    mirrorDemote(): Promise<void>;
    /** Flags a non-primary copy to be resynced from the primary (rbd-mirror deletes and re-copies it). */
    mirrorResync(): Promise<void>;
    /** Creates a mirror snapshot (snapshot mode; the peer's rbd-mirror copies up to it); returns its snapshot id. */
    mirrorCreateSnapshot(options?: MirrorSnapshotOptions): Promise<number>;
    mirrorGetInfo(): Promise<MirrorImageInfo>;
    /** 'journal' or 'snapshot': the mode mirroring is (or was last) enabled in; check mirrorGetInfo().state. */
    mirrorGetMode(): Promise<MirrorImageMode>;
    /** The image's mirroring info and every site's replay status. */
    mirrorGetGlobalStatus(): Promise<MirrorGlobalStatus>;
    /** The rbd-mirror instance replaying this image on this site; ImageNotFound (ENOENT) when none, InvalidArgument when not mirrored. */
    mirrorGetInstanceId(): Promise<string>;
  }
}

function force(options: { force?: boolean } | undefined): boolean {
  const o = checkObject<{ force: boolean }>(options, 'options');
  return o.force === undefined ? false : checkBoolean(o.force, 'options.force');
}

Image.prototype.mirrorEnable = async function mirrorEnable(this: Image, mode: MirrorImageMode = 'journal') {
  const m = pick(IMAGE_MODES, mode, 'mode');
  return addon.rbdMirror.imageEnable(this.native, m);
};
Image.prototype.mirrorDisable = async function mirrorDisable(this: Image, options?: { force?: boolean }) {
  const f = force(options);
  return addon.rbdMirror.imageDisable(this.native, f);
};
Image.prototype.mirrorPromote = async function mirrorPromote(this: Image, options?: { force?: boolean }) {
  const f = force(options);
  return addon.rbdMirror.imagePromote(this.native, f);
};
Image.prototype.mirrorDemote = function mirrorDemote(this: Image) {
  return addon.rbdMirror.imageDemote(this.native);
};
Image.prototype.mirrorResync = function mirrorResync(this: Image) {
  return addon.rbdMirror.imageResync(this.native);
};
Image.prototype.mirrorCreateSnapshot = async function mirrorCreateSnapshot(this: Image, options?: MirrorSnapshotOptions) {
  if (options === undefined) return addon.rbdMirror.imageCreateSnapshot(this.native);
  const flags = snapCreateFlags(options);
  return addon.rbdMirror.imageCreateSnapshot(this.native, flags);
};
Image.prototype.mirrorGetInfo = function mirrorGetInfo(this: Image) {
  return addon.rbdMirror.imageGetInfo(this.native);
};
Image.prototype.mirrorGetMode = function mirrorGetMode(this: Image) {
  return addon.rbdMirror.imageGetMode(this.native);
};
Image.prototype.mirrorGetGlobalStatus = function mirrorGetGlobalStatus(this: Image) {
  return addon.rbdMirror.imageGetGlobalStatus(this.native);
};
Image.prototype.mirrorGetInstanceId = function mirrorGetInstanceId(this: Image) {
  return addon.rbdMirror.imageGetInstanceId(this.native);
};
