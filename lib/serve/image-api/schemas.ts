/**
 * The Image v2 schema documents (`/v2/schemas/image`, `/v2/schemas/images`):
 * glanceclient builds its models from them and validates what it sends and
 * receives. And the request-body schemas of the routes.
 */
export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
export const STATUSES = ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'] as const;
export const UUID_PATTERN = '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';

/** Attributes the server owns: a create or a patch naming them is refused (403, as Glance). */
export const READ_ONLY = new Set(['id', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size', 'owner', 'created_at', 'updated_at', 'self', 'file', 'schema', 'direct_url', 'locations']);
/** Base attributes (everything else is an additional, string-valued property). */
export const BASE = new Set([...READ_ONLY, 'name', 'visibility', 'protected', 'os_hidden', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'tags']);

const imageProperties = {
  id: { type: 'string', pattern: UUID_PATTERN, description: 'An identifier for the image', readOnly: true },
  name: { type: ['null', 'string'], maxLength: 255, description: 'Descriptive name for the image' },
  status: { type: 'string', enum: STATUSES, readOnly: true, description: 'Status of the image' },
  visibility: { type: 'string', enum: VISIBILITIES, description: 'Scope of image accessibility' },
  protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
  os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
  checksum: { type: ['null', 'string'], maxLength: 32, readOnly: true, description: 'md5 hash of image contents.' },
  os_hash_algo: { type: ['null', 'string'], maxLength: 64, readOnly: true, description: 'Algorithm to calculate the os_hash_value' },
  os_hash_value: { type: ['null', 'string'], maxLength: 128, readOnly: true, description: 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo' },
  owner: { type: ['null', 'string'], maxLength: 255, description: 'Owner of the image' },
  size: { type: ['null', 'integer'], readOnly: true, description: 'Size of image file in bytes' },
  virtual_size: { type: ['null', 'integer'], readOnly: true, description: 'Virtual size of image in bytes' },
  container_format: { type: ['null', 'string'], enum: [null, ...CONTAINER_FORMATS], description: 'Format of the container' },
  disk_format: { type: ['null', 'string'], enum: [null, ...DISK_FORMATS], description: 'Format of the disk' },
  created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
  updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
  tags: { type: 'array', items: { type: 'string', maxLength: 255 }, description: 'List of strings related to the image' },
  direct_url: { type: 'string', readOnly: true, description: 'URL to access the image file kept in external store' },
  min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
  min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
  self: { type: 'string', readOnly: true, description: 'An image self url' },
  file: { type: 'string', readOnly: true, description: 'An image file url' },
  schema: { type: 'string', readOnly: true, description: 'An image schema url' },
  locations: { type: 'array', items: { type: 'object' }, description: 'A set of URLs to access the image file kept in external store' },
};

export const IMAGE_SCHEMA = {
  name: 'image',
  properties: imageProperties,
  additionalProperties: { type: 'string' },
  links: [
    { rel: 'self', href: '{self}' },
    { rel: 'enclosure', href: '{file}' },
    { rel: 'describedby', href: '{schema}' },
  ],
};

export const IMAGES_SCHEMA = {
  name: 'images',
  properties: {
    images: { type: 'array', items: IMAGE_SCHEMA },
    schema: { type: 'string' },
    first: { type: 'string' },
    next: { type: 'string' },
  },
  links: [
    { rel: 'first', href: '{first}' },
    { rel: 'next', href: '{next}' },
    { rel: 'describedby', href: '{schema}' },
  ],
};

/** POST /v2/images. Additional properties must be strings (Glance's rule). */
export const createImageBody = {
  type: 'object',
  properties: {
    id: { type: 'string', pattern: UUID_PATTERN },
    name: { type: ['null', 'string'], maxLength: 255 },
    visibility: { type: 'string', enum: VISIBILITIES },
    protected: { type: 'boolean' },
    os_hidden: { type: 'boolean' },
    container_format: { type: ['null', 'string'], enum: [null, ...CONTAINER_FORMATS] },
    disk_format: { type: ['null', 'string'], enum: [null, ...DISK_FORMATS] },
    min_ram: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
    min_disk: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
    tags: { type: 'array', maxItems: 128, items: { type: 'string', maxLength: 255 } },
  },
  propertyNames: { maxLength: 255, pattern: '^[A-Za-z0-9_:.-]+$' },
  additionalProperties: { type: 'string', maxLength: 65535 },
  maxProperties: 128,
};

/** PATCH /v2/images/{id} (application/openstack-images-v2.1-json-patch). */
export const patchImageBody = {
  type: 'array',
  maxItems: 128,
  items: {
    type: 'object',
    required: ['op', 'path'],
    properties: {
      op: { type: 'string', enum: ['add', 'replace', 'remove'] },
      path: { type: 'string', pattern: '^/[A-Za-z0-9_:.-]{1,255}$' },
    },
  },
};
