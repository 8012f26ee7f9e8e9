/** Option resolution and argument checks of the Cinder driver. */
import { checkRbdName, invalidType, outOfRange } from '../validate';
import { InvalidConfigurationValue, NotSupported } from './errors';
import type { ImageLocation, ImageMeta, RbdVolumeDriverOptions, ReplicationDevice, Snapshot, Volume } from './types';

type Optional = 'user' | 'confFile' | 'secretUuid' | 'keyringConf' | 'connectTimeoutMs' | 'imageConversionDir' | 'volumeBackendName' | 'activeBackendId' | 'replicationConnectTimeoutMs';
export type Resolved = Required<Omit<RbdVolumeDriverOptions, Optional | 'logger' | 'replicationDevices'>> &
  Pick<RbdVolumeDriverOptions, Optional> & {
    /** Each with confFile and user filled in (upstream's defaults). */
    replicationDevices: Array<Required<Omit<ReplicationDevice, 'secretUuid'>> & Pick<ReplicationDevice, 'secretUuid'>>;
  };

function bool(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new InvalidConfigurationValue(name, v, 'expected a boolean');
  return v;
}

function int(v: unknown, name: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new InvalidConfigurationValue(name, v, `expected an integer >= ${min}`);
  return v;
}

function str(v: unknown, name: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidConfigurationValue(name, v, 'expected a string');
  return v;
}

/**
 * replication_device entries as upstream parses them: backendId required
 * (a name, not 'default'), unique; conf defaults to /etc/ceph/<id>.conf,
 * user to the driver's user or 'cinder', secretUuid to the driver's.
 */
function replicationDevices(v: unknown, user: string | undefined, secretUuid: string | undefined): Resolved['replicationDevices'] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidConfigurationValue('replicationDevices', v, 'expected an array of { backendId, confFile?, user?, secretUuid? }');
  const seen = new Set<string>();
  return v.map((d: unknown, i) => {
    const name = `replicationDevices[${i}]`;
    if (d === null || typeof d !== 'object' || Array.isArray(d)) throw new InvalidConfigurationValue(name, d, 'expected an object');
    const dev = d as Record<string, unknown>;
    const id = str(dev.backendId, `${name}.backendId`);
    if (!id) throw new InvalidConfigurationValue(`${name}.backendId`, dev.backendId, 'Missing backend_id in replication_device configuration.');
    if (id === 'default' || /[\s/:]/.test(id)) throw new InvalidConfigurationValue(`${name}.backendId`, id, "a name without spaces, '/' or ':', not 'default'");
    if (seen.has(id)) throw new InvalidConfigurationValue(`${name}.backendId`, id, 'duplicate backendId');
    seen.add(id);
    const secret = str(dev.secretUuid, `${name}.secretUuid`) || secretUuid;
    return {
      backendId: id,
      confFile: str(dev.confFile, `${name}.confFile`) || `/etc/ceph/${id}.conf`,
      user: str(dev.user, `${name}.user`) || user || 'cinder',
      ...(secret ? { secretUuid: secret } : {}),
    };
  });
}

export function resolveOptions(o: RbdVolumeDriverOptions): Resolved {
  const user = str(o.user, 'user') || undefined;
  const secretUuid = str(o.secretUuid, 'secretUuid') || undefined;
  const devices = replicationDevices(o.replicationDevices, user, secretUuid);
  const active = str(o.activeBackendId, 'activeBackendId') || undefined;
  if (active !== undefined && active !== 'default' && !devices.some((d) => d.backendId === active)) {
    throw new InvalidConfigurationValue('activeBackendId', active, 'not a replicationDevices backendId');
  }
  const mode = o.replicationMode ?? 'journal';
  if (mode !== 'journal' && mode !== 'snapshot') throw new InvalidConfigurationValue('replicationMode', mode, "expected 'journal' or 'snapshot'");
  const ratio = o.maxOverSubscriptionRatio ?? 20.0;
  if (ratio !== 'auto' && (typeof ratio !== 'number' || !(ratio >= 1))) throw new InvalidConfigurationValue('maxOverSubscriptionRatio', ratio);
  return {
    pool: str(o.pool, 'pool') ?? 'rbd',
    user,
    confFile: str(o.confFile, 'confFile') || undefined,
    clusterName: str(o.clusterName, 'clusterName') ?? 'ceph',
    secretUuid,
    keyringConf: str(o.keyringConf, 'keyringConf') || undefined,
    flattenVolumeFromSnapshot: bool(o.flattenVolumeFromSnapshot, 'flattenVolumeFromSnapshot', false),
    maxCloneDepth: int(o.maxCloneDepth, 'maxCloneDepth', 5, Number.MIN_SAFE_INTEGER),
    chunkSizeMiB: int(o.chunkSizeMiB, 'chunkSizeMiB', 4, 1),
    connectTimeoutMs: o.connectTimeoutMs === undefined || o.connectTimeoutMs < 0 ? undefined : int(o.connectTimeoutMs, 'connectTimeoutMs', 0, 0),
    connectionRetries: int(o.connectionRetries, 'connectionRetries', 3, 1),
    connectionIntervalMs: int(o.connectionIntervalMs, 'connectionIntervalMs', 5000, 0),
    exclusivePool: bool(o.exclusivePool, 'exclusivePool', true),
    enableDeferredDeletion: bool(o.enableDeferredDeletion, 'enableDeferredDeletion', false),
    deferredDeletionDelaySec: int(o.deferredDeletionDelaySec, 'deferredDeletionDelaySec', 0, 0),
    deferredDeletionPurgeIntervalSec: int(o.deferredDeletionPurgeIntervalSec, 'deferredDeletionPurgeIntervalSec', 60, 0),
    imageConversionDir: str(o.imageConversionDir, 'imageConversionDir'),
    volumeBackendName: str(o.volumeBackendName, 'volumeBackendName'),
    concurrentFlattenOperations: int(o.concurrentFlattenOperations, 'concurrentFlattenOperations', 3, 0),
    reservedPercentage: int(o.reservedPercentage, 'reservedPercentage', 0, 0),
    maxOverSubscriptionRatio: ratio,
    reportDynamicTotalCapacity: bool(o.reportDynamicTotalCapacity, 'reportDynamicTotalCapacity', true),
    ioConcurrency: int(o.ioConcurrency, 'ioConcurrency', 4, 1),
    replicationDevices: devices,
    replicationConnectTimeoutMs:
      o.replicationConnectTimeoutMs === undefined ? 5000 : o.replicationConnectTimeoutMs < 0 ? undefined : int(o.replicationConnectTimeoutMs, 'replicationConnectTimeoutMs', 5000, 0),
    replicationMode: mode,
    replicationSnapshotIntervalSec: int(o.replicationSnapshotIntervalSec, 'replicationSnapshotIntervalSec', 60, 0),
    activeBackendId: active === 'default' ? undefined : active,
  };
}

/**
 * An id or name the `rbd` tool can address once `prefix` is added:
 * ERR_INVALID_ARG_TYPE for another type, ERR_INVALID_ARG_VALUE for '' or a
 * '/', '@' or NUL in it, ERR_OUT_OF_RANGE when too long (lib/validate.ts).
 */
function checkId(value: unknown, name: string, prefix = ''): string {
  return checkRbdName(value, name, prefix);
}

export interface VolumeRef {
  id: string;
  name: string;
  size: number;
  encrypted: boolean;
  useQuota: boolean;
}

function checkSize(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a non-negative integer (GiB)', value);
  return value;
}

export function checkVolume(v: Volume, what = 'volume'): VolumeRef {
  if (v === null || typeof v !== 'object') throw invalidType(what, 'a volume object', v);
  const id = checkId(v.id, `${what}.id`, 'volume-');
  const name = v.name === undefined ? `volume-${id}` : checkId(v.name, `${what}.name`);
  const size = checkSize(v.size, `${what}.size`);
  return { id, name, size, encrypted: v.encrypted === true, useQuota: v.useQuota !== false };
}

/** A volume given by id alone (a string) or as an object whose size may be omitted. */
export function checkVolumeIdent(v: string | VolumeIdent, what = 'volume'): { id: string; name: string; size: number | undefined } {
  if (typeof v === 'string') return { id: checkId(v, `${what}Id`, 'volume-'), name: `volume-${v}`, size: undefined };
  if (v === null || typeof v !== 'object') throw invalidType(what, 'a volume id or a volume object', v);
  const id = checkId(v.id, `${what}.id`, 'volume-');
  const name = v.name === undefined ? `volume-${id}` : checkId(v.name, `${what}.name`);
  return { id, name, size: v.size === undefined ? undefined : checkSize(v.size, `${what}.size`) };
}

/** A volume as the id-based calls take it: the id is enough. */
export interface VolumeIdent {
  id: string;
  name?: string;
  size?: number;
}

export interface SnapshotRef {
  id: string;
  name: string;
  volumeName: string;
  /** GiB; undefined when not given (read from the cluster where needed). */
  volumeSize: number | undefined;
}

export function checkSnapshot(s: Snapshot): SnapshotRef {
  if (s === null || typeof s !== 'object') throw invalidType('snapshot', 'a snapshot object', s);
  const id = checkId(s.id, 'snapshot.id', 'snapshot-');
  const name = s.name === undefined ? `snapshot-${id}` : checkId(s.name, 'snapshot.name');
  let volumeName: string;
  if (s.volumeName !== undefined) volumeName = checkId(s.volumeName, 'snapshot.volumeName');
  else if (s.volumeId !== undefined) volumeName = `volume-${checkId(s.volumeId, 'snapshot.volumeId', 'volume-')}`;
  else throw invalidType('snapshot.volumeName', 'a string (or snapshot.volumeId)', s.volumeName);
  return { id, name, volumeName, volumeSize: s.volumeSize === undefined ? undefined : checkSize(s.volumeSize, 'snapshot.volumeSize') };
}

export function rejectEncrypted(v: VolumeRef, op: string): void {
  if (v.encrypted) throw new NotSupported(`${op}: encrypted (LUKS) volumes are not supported by this driver (volume ${v.name})`);
}

export function diskFormatOf(meta: ImageMeta | undefined): string | undefined {
  return meta?.disk_format ?? meta?.diskFormat;
}

/** Candidate URLs: every `url` in the locations list when there is one, else the direct URL. */
export function candidateLocations(location: ImageLocation): string[] {
  if (typeof location === 'string') return [location];
  let direct: string | null | undefined;
  let list: Array<{ url: string }> | null | undefined;
  if (Array.isArray(location)) [direct, list] = location;
  else if (location && typeof location === 'object') ({ directUrl: direct, locations: list } = location);
  if (Array.isArray(list) && list.length > 0) {
    return list.map((l: unknown) => (l !== null && typeof l === 'object' ? (l as { url?: unknown }).url : undefined)).filter((u): u is string => typeof u === 'string');
  }
  return typeof direct === 'string' ? [direct] : [];
}
