/** Volume API response bodies, shaped as Cinder's views build them. */
import type { SnapshotRow, VolumeRow } from '../db/schema';

export const DEFAULT_TYPE = '__DEFAULT__';

export function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

function links(base: string, kind: string, projectId: string, id: string): Array<{ href: string; rel: string }> {
  return [
    { href: `${base}/v3/${projectId}/${kind}/${id}`, rel: 'self' },
    { href: `${base}/${projectId}/${kind}/${id}`, rel: 'bookmark' },
  ];
}

export function volumeSummary(base: string, v: VolumeRow): Record<string, unknown> {
  return { id: v.id, name: v.name, links: links(base, 'volumes', v.project_id, v.id) };
}

export function volumeDetail(base: string, v: VolumeRow, typeName: string | null, isAdmin: boolean): Record<string, unknown> {
  return {
    id: v.id,
    name: v.name,
    description: v.description,
    status: v.status,
    size: v.size,
    availability_zone: 'nova',
    created_at: v.created_at,
    updated_at: v.updated_at,
    volume_type: typeName ?? DEFAULT_TYPE,
    volume_type_id: v.volume_type_id,
    snapshot_id: v.snapshot_id,
    source_volid: v.source_volid,
    metadata: parseJson<Record<string, string>>(v.metadata, {}),
    links: links(base, 'volumes', v.project_id, v.id),
    user_id: v.user_id,
    bootable: v.bootable ? 'true' : 'false',
    encrypted: false,
    replication_status: null,
    consistencygroup_id: null,
    multiattach: false,
    attachments: [],
    group_id: null,
    provider_id: null,
    service_uuid: null,
    shared_targets: false,
    cluster_name: null,
    consumes_quota: true,
    ...(v.image_id !== null ? { volume_image_metadata: { image_id: v.image_id } } : {}),
    ...(isAdmin ? { 'os-vol-tenant-attr:tenant_id': v.project_id, 'os-vol-host-attr:host': 'ceph-rbd-serve@rbd#rbd' } : {}),
  };
}

export function snapshotDetail(s: SnapshotRow): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    volume_id: s.volume_id,
    status: s.status,
    size: s.size,
    created_at: s.created_at,
    updated_at: s.updated_at,
    metadata: parseJson<Record<string, string>>(s.metadata, {}),
    user_id: s.user_id,
    group_snapshot_id: null,
    consumes_quota: true,
    'os-extended-snapshot-attributes:progress': s.status === 'available' ? '100%' : '0%',
    'os-extended-snapshot-attributes:project_id': s.project_id,
  };
}
