/** /v2/images: create the record, list, show, JSON-patch update, delete. */
import { randomUUID } from 'node:crypto';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import { InUseByStore } from '../../glance/errors';
import type { ImageRow } from '../db/schema';
import { badRequest, conflict, forbidden, notFound } from '../errors';
import { errorText, nowIso } from '../manager';
import { parseJson } from '../volume-api/views';
import type { ImageApi } from './index';
import { BASE, CONTAINER_FORMATS, createImageBody, DISK_FORMATS, patchImageBody, READ_ONLY, UUID_PATTERN, VISIBILITIES } from './schemas';
import { imageView } from './views';

const UUID_RE = new RegExp(UUID_PATTERN);
const MAX_LIMIT = 1000;
const SORT_KEYS = new Set(['created_at', 'updated_at', 'name', 'id', 'status', 'size', 'disk_format', 'container_format', 'visibility', 'owner', 'min_disk', 'min_ram']);

/** The image if the caller may see it (its own, or public/community); 404 otherwise. */
export async function findImage(api: ImageApi, request: FastifyRequest, id: string): Promise<ImageRow> {
  if (!UUID_RE.test(id)) throw notFound(`No image found with ID ${id}`);
  const row = await api.db
    .selectFrom('images')
    .selectAll()
    .where('id', '=', id)
    .where((eb) => eb.or([eb('owner', '=', request.caller.projectId), eb('visibility', 'in', ['public', 'community'])]))
    .executeTakeFirst();
  if (!row) throw notFound(`No image found with ID ${id}`);
  return row;
}

/** Only the owner (or admin) changes an image. */
function checkOwner(request: FastifyRequest, row: ImageRow): void {
  if (row.owner !== request.caller.projectId && !request.caller.isAdmin) throw forbidden(`You are not permitted to modify image ${row.id}.`);
}

async function createImage(api: ImageApi, request: FastifyRequest<{ Body: Record<string, unknown> }>): Promise<ImageRow> {
  const b = request.body;
  for (const k of Object.keys(b)) if (READ_ONLY.has(k) && k !== 'id') throw forbidden(`Attribute '${k}' is read-only.`);
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(b)) if (!BASE.has(k)) props[k] = v as string;
  const now = nowIso();
  const row: ImageRow = {
    id: (b.id as string | undefined)?.toLowerCase() ?? randomUUID(),
    owner: request.caller.projectId,
    name: (b.name as string | null | undefined) ?? null,
    status: 'queued',
    visibility: (b.visibility as string | undefined) ?? 'shared',
    disk_format: (b.disk_format as string | null | undefined) ?? null,
    container_format: (b.container_format as string | null | undefined) ?? null,
    size: null,
    virtual_size: null,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    min_disk: (b.min_disk as number | undefined) ?? 0,
    min_ram: (b.min_ram as number | undefined) ?? 0,
    protected: b.protected === true ? 1 : 0,
    location: null,
    properties: JSON.stringify(props),
    tags: JSON.stringify([...new Set((b.tags as string[] | undefined) ?? [])]),
    claim: null,
    created_at: now,
    updated_at: now,
  };
  if (row.visibility === 'public' && !request.caller.isAdmin) {
    throw forbidden('You are not authorized to complete publicize_image action.');
  }
  await api.db.transaction().execute(async (trx) => {
    if (await trx.selectFrom('images').select('id').where('id', '=', row.id).executeTakeFirst()) throw conflict(`Image with identifier ${row.id} already exists!`);
    const reservation = await api.quotas.reserve(trx, row.owner, { images: 1 });
    await trx.insertInto('images').values(row).execute();
    await api.quotas.commit(trx, reservation);
  });
  return row;
}

type PatchOp = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

/** Applies a JSON patch (Glance's subset: top-level attributes and properties). */
function applyPatch(row: ImageRow, ops: PatchOp[]): Partial<ImageRow> {
  const props = parseJson<Record<string, string>>(row.properties, {});
  const set: Partial<ImageRow> = {};
  for (const op of ops) {
    const key = op.path.slice(1);
    if (READ_ONLY.has(key)) throw forbidden(`Attribute '${key}' is read-only.`);
    const value = op.value;
    if (op.op !== 'remove' && !('value' in op)) throw badRequest(`Unable to find 'value' in JSON patch operation ${op.op} ${op.path}`);
    if (!BASE.has(key)) {
      if (op.op === 'remove') {
        if (!(key in props)) throw conflict(`Property ${key} does not exist.`);
        delete props[key];
      } else {
        if (typeof value !== 'string' || value.length > 65535) throw badRequest(`Invalid value for property ${key}: a string is required`);
        if (op.op === 'replace' && !(key in props)) throw conflict(`Property ${key} does not exist.`);
        props[key] = value;
      }
      continue;
    }
    if (op.op === 'remove') throw forbidden(`Attribute '${key}' is required and cannot be removed.`);
    const fail = (what: string): never => {
      throw badRequest(`Invalid value for ${key}: ${what}`);
    };
    switch (key) {
      case 'name':
        if (value !== null && (typeof value !== 'string' || value.length > 255)) fail('a string of at most 255 characters or null');
        set.name = value as string | null;
        break;
      case 'visibility':
        if (!(VISIBILITIES as readonly unknown[]).includes(value)) fail(VISIBILITIES.join(', '));
        set.visibility = value as string;
        break;
      case 'protected':
        if (typeof value !== 'boolean') fail('true or false');
        set.protected = value ? 1 : 0;
        break;
      case 'min_disk':
      case 'min_ram':
        if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 2 ** 31 - 1) fail('a non-negative integer');
        set[key] = value as number;
        break;
      case 'tags':
        if (!Array.isArray(value) || value.some((t) => typeof t !== 'string' || t.length > 255)) fail('a list of strings');
        set.tags = JSON.stringify([...new Set(value as string[])]);
        break;
      case 'disk_format':
      case 'container_format': {
        const allowed: readonly string[] = key === 'disk_format' ? DISK_FORMATS : CONTAINER_FORMATS;
        if (row.status !== 'queued') throw forbidden(`Attribute ${key} can be only replaced for a queued image.`);
        if (value !== null && !allowed.includes(value as string)) fail(allowed.join(', '));
        set[key] = value as string | null;
        break;
      }
      default:
        throw forbidden(`Attribute '${key}' cannot be changed.`);
    }
  }
  set.properties = JSON.stringify(props);
  return set;
}

/**
 * DELETE: the record goes to `pending_delete`, claimed by this service, in one
 * conditional update that only one request wins; then the manager deletes the
 * data and the record, the request waiting (Glance answers 204 once both are
 * gone). A crash in between leaves the record `pending_delete` under a dead
 * claim, which reconciliation or a live service's takeover finishes. A record
 * `saving` is an upload's (claimed): it is deleted at once, and the upload,
 * finding it gone, removes its data.
 */
async function deleteImage(api: ImageApi, request: FastifyRequest, found: ImageRow): Promise<void> {
  let row: ImageRow | undefined = found;
  // A few rounds: the status may move on between the read and the update (queued → saving → active).
  for (let round = 0; row !== undefined && round < 5; round++) {
    checkOwner(request, row);
    if (row.protected === 1) throw forbidden(`Image ${row.id} is protected and cannot be deleted.`);
    if (row.status === 'pending_delete' && row.claim !== null) {
      // Being deleted: by this service (a request, or reconciliation after a restart) → wait for it;
      // by another service (alive, or dead and soon taken over) → the client tries again.
      const running = row.claim === api.manager.token ? api.manager.imageDelete(row.id) : undefined;
      if (running === undefined) throw conflict(`Image ${row.id} is being deleted; try again later.`);
      await running.catch(() => undefined);
    } else if (row.status === 'saving') {
      const r = await api.db.transaction().execute(async (trx) => {
        const d = await trx.deleteFrom('images').where('id', '=', row!.id).where('status', '=', 'saving').executeTakeFirst();
        if (Number(d.numDeletedRows) === 1) await api.quotas.release(trx, row!.owner, { images: 1 });
        return Number(d.numDeletedRows) === 1;
      });
      if (r) return;
    } else {
      const r = await api.db
        .updateTable('images')
        .set({ status: 'pending_delete', claim: api.manager.token, updated_at: nowIso() })
        .where('id', '=', row.id)
        .where('status', '=', row.status)
        .where('claim', 'is', null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) {
        const claimed: ImageRow = { ...row, status: 'pending_delete', claim: api.manager.token };
        try {
          await api.manager.run([['images', row.id]], `delete image ${row.id}`, () => api.manager.deleteImage(claimed));
        } catch (err) {
          if (err instanceof InUseByStore) throw conflict(`Image ${row.id} could not be deleted because it is in use: ${errorText(err)}`);
          throw err;
        }
        return;
      }
    }
    row = await api.db.selectFrom('images').selectAll().where('id', '=', found.id).executeTakeFirst();
  }
  if (row === undefined) return; // deleted meanwhile (by this request's wait, or another request)
  throw conflict(`Image ${row.id} could not be deleted: its status is changing (${row.status}); try again.`);
}

export function registerImages(app: FastifyInstance, api: ImageApi): void {
  app.post<{ Body: Record<string, unknown> }>('/v2/images', { schema: { body: createImageBody } }, async (request, reply) => {
    const row = await createImage(api, request);
    return reply.code(201).header('location', `/v2/images/${row.id}`).send(imageView(row));
  });

  app.get<{ Params: { id: string } }>('/v2/images/:id', async (request) => imageView(await findImage(api, request, request.params.id)));

  app.get<{ Querystring: Record<string, string> }>('/v2/images', async (request) => {
    const q = request.query;
    const project = request.caller.projectId;
    let limit = 25;
    if (q.limit !== undefined) {
      if (!/^\d+$/.test(q.limit)) throw badRequest(`limit param must be an integer, got '${q.limit}'`);
      limit = Math.min(Number(q.limit), MAX_LIMIT);
    }
    const sort: Array<{ key: string; dir: 'asc' | 'desc' }> = [];
    const keys = (q.sort_key ?? '').split(',').filter((k) => k !== '');
    for (const k of keys) sort.push({ key: k, dir: q.sort_dir === 'asc' ? 'asc' : 'desc' });
    for (const part of (q.sort ?? '').split(',').filter((p) => p !== '')) {
      const [key, dir = 'desc'] = part.split(':');
      sort.push({ key, dir: dir as 'asc' | 'desc' });
    }
    for (const s of sort) if (!SORT_KEYS.has(s.key) || (s.dir !== 'asc' && s.dir !== 'desc')) throw badRequest(`Invalid sort key or direction: ${s.key}:${s.dir}`);
    if (sort.length === 0) sort.push({ key: 'created_at', dir: 'desc' });
    if (!sort.some((s) => s.key === 'id')) sort.push({ key: 'id', dir: 'desc' });
    let query = api.db.selectFrom('images').selectAll().where((eb) => eb.or([eb('owner', '=', project), eb('visibility', 'in', ['public', 'community'])]));
    for (const f of ['name', 'status', 'visibility', 'owner', 'disk_format', 'container_format'] as const) if (q[f] !== undefined) query = query.where(f, '=', q[f]);
    if (q.marker !== undefined) {
      const m = await findImage(api, request, q.marker).catch(() => {
        throw badRequest(`Invalid marker. Image ${q.marker} could not be found.`);
      });
      const mm = m as unknown as Record<string, unknown>;
      query = query.where((eb) =>
        eb.or(
          sort.map((_, i) =>
            eb.and([...sort.slice(0, i).map((s) => eb(s.key as never, '=', mm[s.key] as never)), eb(sort[i].key as never, sort[i].dir === 'asc' ? '>' : '<', mm[sort[i].key] as never)]),
          ),
        ),
      );
    }
    for (const s of sort) query = query.orderBy(s.key as never, s.dir);
    const rows = await query.limit(limit).execute();
    const body: Record<string, unknown> = { images: rows.map(imageView), schema: '/v2/schemas/images', first: '/v2/images' };
    if (rows.length === limit && limit > 0) {
      const qs = new URLSearchParams({ ...q, marker: rows[rows.length - 1].id });
      body.next = `/v2/images?${qs.toString()}`;
    }
    return body;
  });

  app.patch<{ Params: { id: string }; Body: PatchOp[] }>('/v2/images/:id', { schema: { body: patchImageBody } }, async (request) => {
    const row = await findImage(api, request, request.params.id);
    checkOwner(request, row);
    const set = applyPatch(row, request.body);
    if (set.visibility === 'public' && !request.caller.isAdmin) throw forbidden('You are not authorized to complete publicize_image action.');
    await api.db
      .updateTable('images')
      .set({ ...set, updated_at: nowIso() })
      .where('id', '=', row.id)
      .execute();
    return imageView(await findImage(api, request, row.id));
  });

  app.delete<{ Params: { id: string } }>('/v2/images/:id', async (request, reply) => {
    const row = await findImage(api, request, request.params.id);
    await deleteImage(api, request, row);
    return reply.code(204).send();
  });
}

