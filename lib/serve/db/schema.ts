/**
 * The service's tables, as Cinder and Glance keep them (trimmed to what the
 * API serves). Timestamps are ISO strings and JSON columns are text, so one
 * schema and one query layer serve SQLite and PostgreSQL alike.
 *
 * `claim` is the exactly-once marker of the manager (lib/serve/manager.ts):
 * a worker owns a record's pending operation only after a conditional update
 * set `claim` from NULL to its own token.
 */
export interface VolumeRow {
  id: string;
  project_id: string;
  user_id: string;
  name: string | null;
  description: string | null;
  /** GiB. */
  size: number;
  status: string;
  volume_type_id: string | null;
  snapshot_id: string | null;
  source_volid: string | null;
  image_id: string | null;
  /** JSON object of strings. */
  metadata: string;
  bootable: number;
  /** What the last failed operation said (not shown by the API, kept for operators). */
  error: string | null;
  claim: string | null;
  created_at: string;
  updated_at: string;
}

export interface SnapshotRow {
  id: string;
  project_id: string;
  user_id: string;
  volume_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  metadata: string;
  error: string | null;
  claim: string | null;
  created_at: string;
  updated_at: string;
}

export interface ImageRow {
  id: string;
  owner: string;
  name: string | null;
  status: string;
  visibility: string;
  disk_format: string | null;
  container_format: string | null;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  min_disk: number;
  min_ram: number;
  protected: number;
  /** The store location (rbd://…), never shown by the API. */
  location: string | null;
  /** JSON object: additional properties. */
  properties: string;
  /** JSON array of strings. */
  tags: string;
  claim: string | null;
  created_at: string;
  updated_at: string;
}

export interface VolumeTypeRow {
  id: string;
  name: string;
  description: string | null;
  is_public: number;
  extra_specs: string;
  qos_specs_id: string | null;
  created_at: string;
}

export interface QosSpecsRow {
  id: string;
  name: string;
  consumer: string;
  specs: string;
  created_at: string;
}

export interface QuotaRow {
  project_id: string;
  resource: string;
  hard_limit: number;
}

export interface QuotaUsageRow {
  project_id: string;
  resource: string;
  in_use: number;
  reserved: number;
}

export interface ReservationRow {
  id: string;
  project_id: string;
  resource: string;
  delta: number;
  /** The record it is for while it stays open (`table/id`, lib/serve/quota.ts reservationOwner), else null. */
  owner: string | null;
  created_at: string;
}

/** A running service (lib/serve/services.ts). Times: milliseconds since the epoch, by the database's clock. */
export interface ServiceRow {
  /** Its manager's claim token. */
  token: string;
  /** Host name and pid, for operators. */
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
}

export interface Database {
  volumes: VolumeRow;
  snapshots: SnapshotRow;
  images: ImageRow;
  volume_types: VolumeTypeRow;
  qos_specs: QosSpecsRow;
  quotas: QuotaRow;
  quota_usages: QuotaUsageRow;
  reservations: ReservationRow;
  services: ServiceRow;
}
