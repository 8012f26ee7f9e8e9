/** Image v2 response bodies, shaped as Glance's. */
import type { ImageRow } from '../db/schema';
import { parseJson } from '../volume-api/views';

/** Glance's timestamps: seconds, `Z`. */
const ts = (iso: string): string => iso.replace(/\.\d+Z$/, 'Z');

export function imageView(i: ImageRow): Record<string, unknown> {
  return {
    ...parseJson<Record<string, string>>(i.properties, {}),
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    protected: i.protected === 1,
    os_hidden: false,
    checksum: i.checksum,
    os_hash_algo: i.os_hash_algo,
    os_hash_value: i.os_hash_value,
    owner: i.owner,
    size: i.size === null ? null : Number(i.size),
    virtual_size: i.virtual_size === null ? null : Number(i.virtual_size),
    min_ram: i.min_ram,
    min_disk: i.min_disk,
    disk_format: i.disk_format,
    container_format: i.container_format,
    tags: parseJson<string[]>(i.tags, []),
    created_at: ts(i.created_at),
    updated_at: ts(i.updated_at),
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}
