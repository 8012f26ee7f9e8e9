/** Public shapes of the Cinder layer: driver options, volumes, snapshots, the image store it talks to. */
import type { Readable } from 'node:stream';

import type { Logger } from '../logger';

/** Options of RbdVolumeDriver.open (Cinder's [backend] rbd_* / rados_* options). */
export interface RbdVolumeDriverOptions {
  /** rbd_pool. Default 'rbd'. */
  pool?: string;
  /** rbd_user: cephx id without "client.". Default: librados' default client (never a literal "None"). */
  user?: string;
  /** rbd_ceph_conf. Default: librados' search (CEPH_CONF, /etc/ceph/$cluster.conf, …). */
  confFile?: string;
  /** rbd_cluster_name. Default 'ceph'. */
  clusterName?: string;
  /** rbd_secret_uuid (libvirt secret). Default: the cluster's fsid. */
  secretUuid?: string;
  /** rbd_keyring_conf: a keyring file whose contents go into the connection info. */
  keyringConf?: string;
  /** rbd_flatten_volume_from_snapshot. Default false. */
  flattenVolumeFromSnapshot?: boolean;
  /** rbd_max_clone_depth. Default 5; 0 or less = full copies instead of clones. */
  maxCloneDepth?: number;
  /** rbd_store_chunk_size in MiB (object size of new volumes). Default 4. */
  chunkSizeMiB?: number;
  /** rados_connect_timeout in ms: bounds connect and every mon/OSD op. Default: librados' defaults. */
  connectTimeoutMs?: number;
  /** rados_connection_retries: total attempts for connect, remove and unprotect. Default 3. */
  connectionRetries?: number;
  /** rados_connection_interval in ms; waits interval × 2^(n-1). Default 5000. */
  connectionIntervalMs?: number;
  /** rbd_exclusive_cinder_pool. Default true, as upstream (false: stats open every image of the pool to sum provisioned sizes). */
  exclusivePool?: boolean;
  /** enable_deferred_deletion: deleted volumes go to the RBD trash. Default false. */
  enableDeferredDeletion?: boolean;
  /** deferred_deletion_delay in seconds. Default 0. */
  deferredDeletionDelaySec?: number;
  /** deferred_deletion_purge_interval in seconds; 0 = no periodic purge. Default 60. */
  deferredDeletionPurgeIntervalSec?: number;
  /** image_conversion_dir: where copyImageToVolume / copyVolumeToImage (qcow2) keep their private temporary directory. Default os.tmpdir(). */
  imageConversionDir?: string;
  /** volume_backend_name. Default 'RBD' in stats. */
  volumeBackendName?: string;
  /** rbd_concurrent_flatten_operations. Default 3; 0 = unlimited. */
  concurrentFlattenOperations?: number;
  /** reserved_percentage reported in stats. Default 0. */
  reservedPercentage?: number;
  /** max_over_subscription_ratio reported in stats. Default 20.0. */
  maxOverSubscriptionRatio?: number | 'auto';
  /** report_dynamic_total_capacity. Default true (total = free + used). */
  reportDynamicTotalCapacity?: boolean;
  /** Parallel aio requests when copying image data. Default 4. */
  ioConcurrency?: number;
  /**
   * replication_device: the clusters this backend's replicated volumes are
   * mirrored to (RBD mirroring between the clusters is the operator's: pool
   * mirror mode 'image', peers, an rbd-mirror daemon per receiving site).
   * The pool has the same name on every cluster. Default none (stats report
   * `replication_enabled: false`).
   */
  replicationDevices?: ReplicationDevice[];
  /** replication_connect_timeout in ms: bounds each connection (and its ops) of a demote or promote. Default 5000; negative = librados' defaults. */
  replicationConnectTimeoutMs?: number;
  /**
   * How a replicated type's volumes are mirrored: 'journal' (default, as
   * upstream: exclusive-lock and journaling enabled, every write replayed in
   * order) or 'snapshot' (mirror snapshots, copied by the peer's rbd-mirror).
   */
  replicationMode?: 'journal' | 'snapshot';
  /**
   * 'snapshot' mode only: every this many seconds the driver (once
   * checkForSetupError() ran) creates a mirror snapshot of each primary
   * snapshot-mirrored image of the pool (createMirrorSnapshots()). Default
   * 60; 0 = never (schedule them yourself, e.g. `rbd mirror snapshot schedule add`).
   */
  replicationSnapshotIntervalSec?: number;
  /**
   * The backend id this driver starts on (Cinder's active_backend_id after a
   * failover: a replicationDevices backendId, or 'default'/unset for the
   * configured cluster).
   */
  activeBackendId?: string;
  /** Where log lines go. Default: the library's logger (setLogger), silent unless one is set. */
  logger?: Logger;
}

/** One replication_device entry: a secondary cluster. */
export interface ReplicationDevice {
  /** backend_id: the name failover(…, secondaryId) takes. */
  backendId: string;
  /** conf: the secondary cluster's ceph.conf. Default `/etc/ceph/<backendId>.conf` (as upstream). */
  confFile?: string;
  /** user: cephx id on the secondary. Default the driver's `user`, else 'cinder' (as upstream). */
  user?: string;
  /** secret_uuid: libvirt secret for the secondary. Default the driver's `secretUuid`, else that cluster's fsid. */
  secretUuid?: string;
}

/** One entry of failover()'s `volumeUpdates`. */
export interface VolumeUpdate {
  volume_id: string;
  updates: ModelUpdate;
}

/** What failover() / failoverHost() resolve. */
export interface FailoverResult {
  /** The backend now active ('default' after a failback). */
  activeBackendId: string;
  volumeUpdates: VolumeUpdate[];
  /** Replication groups are not implemented: always []. */
  groupUpdates: [];
}

/** A Cinder volume type: extra specs (`multiattach`, `replication_enabled`) and its QoS specs. */
export interface VolumeType {
  id?: string;
  name?: string;
  /** e.g. `{ multiattach: '<is> True' }`. */
  extraSpecs?: Record<string, string>;
  /** Applied to the image (rbd_qos_* overrides) when `consumer` is 'back-end' or 'both'. */
  qosSpecs?: { consumer: 'front-end' | 'back-end' | 'both'; specs: Record<string, string> } | null;
}

/** A Cinder volume as the driver sees it. */
export interface Volume {
  id: string;
  /** 'volume-<id>' (volume_name_template); derived from id when omitted. */
  name?: string;
  /** Size in GiB. */
  size: number;
  /** A volume with an encryption key: rejected with NotSupported (docs/DESIGN.md#d6-encrypted-volumes-rejected). */
  encrypted?: boolean;
  /** false for Cinder's temporary volumes (no flatten at max clone depth). Default true. */
  useQuota?: boolean;
  /** The volume's type; every creating path applies it (`_setup_volume`). */
  volumeType?: VolumeType | null;
  /** What the driver stored: `{"saved_features":N}` for a multiattach volume. */
  providerLocation?: string | null;
  /** What the driver stored for a replicated volume: `{"had_exclusive_lock":B,"had_journaling":B}`. */
  replicationDriverData?: string | null;
  /** Cinder's replication_status ('enabled', 'disabled', 'failed-over', 'not-capable', …); failover() looks at it. */
  replicationStatus?: string | null;
  /** Cinder's status ('available', 'in-use', …); migrateVolume looks at it. */
  status?: string;
}

/** A Cinder snapshot. */
export interface Snapshot {
  id: string;
  /** 'snapshot-<id>'; derived from id when omitted. */
  name?: string;
  /** The name of the volume (image) the snapshot is on; or give `volumeId`. */
  volumeName?: string;
  /** The id of that volume (its name is then `volume-<volumeId>`). */
  volumeId?: string;
  /** The size of that volume in GiB; read from the cluster when omitted, an error when it disagrees. */
  volumeSize?: number;
}

/** Cinder's model update: fields to store on the volume record. */
export type ModelUpdate = Record<string, unknown>;

/** Glance image metadata the driver looks at. */
export interface ImageMeta {
  id?: string;
  disk_format?: string;
  diskFormat?: string;
  container_format?: string;
  containerFormat?: string;
  size?: number;
}

/**
 * Where an image lives: a single URL, Cinder's `(direct_url, locations)`
 * pair, or the same as an object. Candidate URLs are every `url` in the
 * list when there is one, else the direct URL.
 */
export type ImageLocation =
  | string
  | [string | null | undefined, Array<{ url: string }> | null | undefined]
  | { directUrl?: string | null; locations?: Array<{ url: string }> | null };

/**
 * What the driver needs from a Glance-style image store (structural, so
 * lib/glance's GlanceStore fits and so does a test double).
 */
export interface ImageStoreLike {
  add(
    imageId: string,
    source: Readable | AsyncIterable<Uint8Array>,
    sizeBytes: number,
    /** Passed by streamSnapshot: a store that honours `signal` stops the upload at once (GlanceStore does). */
    options?: { signal?: AbortSignal },
  ): Promise<{ location: string; size: number; checksum?: string; multihash?: string; metadata?: unknown }>;
  get(location: string, options?: { offset?: number; length?: number; chunkSize?: number }): Promise<{ stream: Readable | AsyncIterable<Uint8Array>; size: number }>;
}

/** Cinder's initialize_connection answer for the rbd (libvirt/os-brick) connector. */
export interface ConnectionInfo {
  driver_volume_type: 'rbd';
  data: {
    name: string;
    hosts: string[];
    ports: string[];
    cluster_name: string;
    auth_enabled: boolean;
    auth_username: string | null;
    secret_type: 'ceph';
    secret_uuid: string;
    volume_id: string;
    discard: true;
    keyring?: string;
  };
}

/** One entry of get_manageable_volumes. */
export interface ManageableVolume {
  reference: { 'source-name': string };
  size: number;
  cinder_id: string | null;
  extra_info: null;
  safe_to_manage: boolean;
  reason_not_safe: string | null;
}

/** get_volume_stats: the keys Cinder's RBD driver reports. */
export interface VolumeStats {
  vendor_name: 'Open Source';
  driver_version: string;
  storage_protocol: 'ceph';
  total_capacity_gb: number | 'unknown';
  free_capacity_gb: number | 'unknown';
  provisioned_capacity_gb?: number;
  reserved_percentage: number;
  multiattach: boolean;
  thin_provisioning_support: boolean;
  max_over_subscription_ratio: number | 'auto';
  location_info: string;
  backend_state: 'up' | 'down';
  qos_support: boolean;
  volume_backend_name: string;
  replication_enabled: boolean;
  /** 'default' and every replication device's backendId, when replication is enabled. */
  replication_targets?: string[];
}
