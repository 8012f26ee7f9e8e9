/** JSON schemas of the volume API's request bodies (Fastify validates them before a handler runs). */

/** Largest volume the API accepts, GiB (1 PiB); quotas usually stop far below. */
export const MAX_VOLUME_GIB = 1024 * 1024;

const nullableString = (max = 255) => ({ type: ['string', 'null'], maxLength: max });
const uuidOrNull = { type: ['string', 'null'], pattern: '^[0-9a-fA-F-]{32,36}$' };
/** Name and description, under the current and the v1 (`display_*`) keys, on volumes and snapshots alike. */
const naming = { name: nullableString(), display_name: nullableString(), description: nullableString(), display_description: nullableString() };
const metadata = { type: 'object', maxProperties: 128, propertyNames: { maxLength: 255, minLength: 1 }, additionalProperties: { type: 'string', maxLength: 255 } };

export const createVolumeBody = {
  type: 'object',
  required: ['volume'],
  properties: {
    volume: {
      type: 'object',
      properties: {
        size: { type: ['integer', 'null'], minimum: 1, maximum: MAX_VOLUME_GIB },
        ...naming,
        snapshot_id: uuidOrNull,
        source_volid: uuidOrNull,
        imageRef: uuidOrNull,
        volume_type: nullableString(),
        availability_zone: nullableString(),
        metadata: { anyOf: [metadata, { type: 'null' }] },
        backup_id: { type: 'null' },
        consistencygroup_id: { type: 'null' },
        group_id: { type: 'null' },
        multiattach: { type: ['boolean', 'null'] },
      },
    },
    'OS-SCH-HNT:scheduler_hints': { type: ['object', 'null'] },
  },
};

export const updateVolumeBody = {
  type: 'object',
  required: ['volume'],
  properties: {
    volume: {
      type: 'object',
      properties: {
        ...naming,
        metadata: metadata,
      },
    },
  },
};

export const createSnapshotBody = {
  type: 'object',
  required: ['snapshot'],
  properties: {
    snapshot: {
      type: 'object',
      required: ['volume_id'],
      properties: {
        volume_id: { type: 'string', pattern: '^[0-9a-fA-F-]{32,36}$' },
        ...naming,
        force: { anyOf: [{ type: ['boolean', 'null'] }, { type: 'string', pattern: '^([Tt]rue|[Ff]alse|yes|no|1|0)$' }] },
        metadata: { anyOf: [metadata, { type: 'null' }] },
      },
    },
  },
};

export const updateSnapshotBody = {
  type: 'object',
  required: ['snapshot'],
  properties: {
    snapshot: {
      type: 'object',
      properties: {
        ...naming,
      },
    },
  },
};

/** POST /volumes/{id}/action: exactly one action key. */
export const volumeActionBody = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  properties: {
    'os-extend': { type: 'object', required: ['new_size'], properties: { new_size: { type: 'integer', minimum: 1, maximum: MAX_VOLUME_GIB } } },
    'os-volume_upload_image': {
      type: 'object',
      required: ['image_name'],
      properties: {
        image_name: { type: 'string', minLength: 1, maxLength: 255 },
        disk_format: { type: 'string', enum: ['raw', 'qcow2'] },
        container_format: { type: 'string', enum: ['bare'] },
        force: { anyOf: [{ type: ['boolean', 'null'] }, { type: 'string', pattern: '^([Tt]rue|[Ff]alse|yes|no|1|0)$' }] },
        visibility: { type: 'string', enum: ['public', 'private', 'shared', 'community'] },
        protected: { anyOf: [{ type: 'boolean' }, { type: 'string', pattern: '^([Tt]rue|[Ff]alse)$' }] },
      },
    },
    'os-reset_status': {
      type: 'object',
      properties: { status: { type: 'string', enum: ['available', 'error', 'in-use', 'error_deleting', 'creating', 'deleting', 'maintenance'] } },
    },
    revert: { type: 'object', required: ['snapshot_id'], properties: { snapshot_id: { type: 'string', pattern: '^[0-9a-fA-F-]{32,36}$' } } },
  },
  additionalProperties: false,
};

export const idParams = {
  type: 'object',
  properties: { project_id: { type: 'string', pattern: '^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$' }, id: { type: 'string', maxLength: 64 } },
};
