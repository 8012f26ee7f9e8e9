/** /v3/{project_id}/volumes: create, list, show, update, delete (with cascade). */
import { randomUUID } from 'node:crypto';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { VolumeRow } from '../db/schema';
import { badRequest, conflict, notFound } from '../errors';
import { nowIso } from '../manager';
import { baseUrl, type IdParams, type ProjectParams, type VolumeApi } from './context';
import { listPage } from './list';
import { createVolumeBody, idParams, updateVolumeBody } from './schemas';
import { DEFAULT_TYPE, parseJson, volumeDetail, volumeSummary } from './views';

const GiB = 2 ** 30;
/** Statuses a volume may be deleted from (Cinder's delete conditions). */
export const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];

interface CreateVolume {
  volume: {
    size?: number | null;
    name?: string | null;
    display_name?: string | null;
    description?: string | null;
    display_description?: string | null;
    snapshot_id?: string | null;
    source_volid?: string | null;
    imageRef?: string | null;
    volume_type?: string | null;
    metadata?: Record<string, string> | null;
  };
}

export async function findVolume(api: VolumeApi, request: FastifyRequest, id: string): Promise<VolumeRow> {
  const row = await api.db.selectFrom('volumes').selectAll().where('id', '=', id).where('project_id', '=', request.caller.projectId).executeTakeFirst();
  if (!row) throw notFound(`Volume ${id} could not be found.`);
  return row;
}

async function typeNames(api: VolumeApi, rows: VolumeRow[]): Promise<Map<string, string>> {
  const ids = [...new Set(rows.map((r) => r.volume_type_id).filter((x): x is string => x !== null))];
  if (ids.length === 0) return new Map();
  const types = await api.db.selectFrom('volume_types').select(['id', 'name']).where('id', 'in', ids).execute();
  return new Map(types.map((t) => [t.id, t.name]));
}

export async function showVolume(api: VolumeApi, request: FastifyRequest, row: VolumeRow): Promise<Record<string, unknown>> {
  const names = await typeNames(api, [row]);
  return volumeDetail(baseUrl(request), row, row.volume_type_id ? (names.get(row.volume_type_id) ?? null) : null, request.caller.isAdmin);
}

/** size, source and type of a create request, checked against what the project can see. */
async function resolveCreate(api: VolumeApi, request: FastifyRequest, v: CreateVolume['volume']): Promise<{ size: number; typeId: string | null }> {
  const project = request.caller.projectId;
  const sources = [v.snapshot_id, v.source_volid, v.imageRef].filter((x) => x !== null && x !== undefined);
  if (sources.length > 1) throw badRequest('Invalid input received: only one of snapshot_id, source_volid and imageRef may be given');
  let min = 1;
  let size = v.size ?? null;
  if (v.snapshot_id) {
    const s = await api.db.selectFrom('snapshots').selectAll().where('id', '=', v.snapshot_id).where('project_id', '=', project).executeTakeFirst();
    if (!s) throw notFound(`Snapshot ${v.snapshot_id} could not be found.`);
    if (s.status !== 'available') throw badRequest(`Invalid snapshot: Originating snapshot status must be one of 'available' values`);
    min = s.size;
    size ??= s.size;
  } else if (v.source_volid) {
    const s = await api.db.selectFrom('volumes').selectAll().where('id', '=', v.source_volid).where('project_id', '=', project).executeTakeFirst();
    if (!s) throw notFound(`Volume ${v.source_volid} could not be found.`);
    if (s.status !== 'available' && s.status !== 'in-use') throw badRequest('Invalid volume: Source volume status must be available or in-use');
    min = s.size;
    size ??= s.size;
  } else if (v.imageRef) {
    const img = await api.db
      .selectFrom('images')
      .selectAll()
      .where('id', '=', v.imageRef)
      .where((eb) => eb.or([eb('owner', '=', project), eb('visibility', 'in', ['public', 'community'])]))
      .executeTakeFirst();
    if (!img) throw notFound(`Image ${v.imageRef} could not be found.`);
    if (img.status !== 'active') throw badRequest(`Invalid image identifier or unable to access requested image: image ${v.imageRef} is ${img.status}`);
    min = Math.max(1, Math.ceil(Number(img.size ?? 0) / GiB), img.min_disk);
    size ??= min;
  }
  if (size === null) throw badRequest('Invalid input received: size is required when no source is given');
  if (size < min) throw badRequest(`Invalid input received: Volume size '${size}'GB cannot be smaller than the source size ${min}GB.`);
  let typeId: string | null = null;
  if (v.volume_type && v.volume_type !== DEFAULT_TYPE) {
    const t = await api.db
      .selectFrom('volume_types')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', v.volume_type!), eb('name', '=', v.volume_type!)]))
      .executeTakeFirst();
    if (!t) throw notFound(`Volume type with name ${v.volume_type} could not be found.`);
    typeId = t.id;
  }
  return { size, typeId };
}

async function createVolume(api: VolumeApi, request: FastifyRequest<{ Params: ProjectParams; Body: CreateVolume }>): Promise<VolumeRow> {
  const v = request.body.volume;
  const { size, typeId } = await resolveCreate(api, request, v);
  const now = nowIso();
  const row: VolumeRow = {
    id: randomUUID(),
    project_id: request.caller.projectId,
    user_id: request.caller.userId,
    name: v.name ?? v.display_name ?? null,
    description: v.description ?? v.display_description ?? null,
    size,
    status: 'creating',
    volume_type_id: typeId,
    snapshot_id: v.snapshot_id ?? null,
    source_volid: v.source_volid ?? null,
    image_id: v.imageRef ?? null,
    metadata: JSON.stringify(v.metadata ?? {}),
    bootable: 0,
    error: null,
    // Claimed by this service from the insert on (Manager.start).
    claim: api.manager.token,
    created_at: now,
    updated_at: now,
  };
  await api.db.transaction().execute(async (trx) => {
    const reservation = await api.quotas.reserve(trx, row.project_id, { volumes: 1, gigabytes: size });
    // The source must still be there and usable when the record is made (a
    // concurrent delete moves it to `deleting` first: then this fails).
    if (row.snapshot_id) {
      const r = await trx.updateTable('snapshots').set({ updated_at: now }).where('id', '=', row.snapshot_id).where('status', '=', 'available').executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw badRequest(`Invalid snapshot: Originating snapshot status must be one of 'available' values`);
    } else if (row.source_volid) {
      const r = await trx.updateTable('volumes').set({ updated_at: now }).where('id', '=', row.source_volid).where('status', 'in', ['available', 'in-use']).executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw badRequest('Invalid volume: Source volume status must be available or in-use');
    }
    await trx.insertInto('volumes').values(row).execute();
    // Cinder counts a volume against the quota from the moment its record exists (error volumes too).
    await api.quotas.commit(trx, reservation);
  });
  api.manager.start([['volumes', row.id]], `create volume ${row.id}`, () => api.manager.createVolume(row));
  return row;
}

/**
 * Marks the volume (and with cascade its snapshots) deleting and claimed by
 * this service in one transaction; 400/409 when it cannot be. Resolves the
 * ids of the snapshots marked.
 */
async function startDelete(api: VolumeApi, row: VolumeRow, cascade: boolean): Promise<string[]> {
  return api.db.transaction().execute(async (trx) => {
    const snaps = await trx.selectFrom('snapshots').select(['id', 'status']).where('volume_id', '=', row.id).execute();
    if (snaps.length > 0 && !cascade) throw conflict(`Invalid volume: Volume ${row.id} still has ${snaps.length} dependent snapshots.`);
    if (cascade && snaps.some((s) => s.status !== 'available' && s.status !== 'error')) {
      throw badRequest('Invalid volume: Snapshot of volume not in a deletable state (available or error).');
    }
    const r = await trx
      .updateTable('volumes')
      .set({ status: 'deleting', claim: api.manager.token, updated_at: nowIso() })
      .where('id', '=', row.id)
      .where('status', 'in', DELETABLE)
      .where('claim', 'is', null)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('volumes as c').select('c.id').where('c.source_volid', '=', row.id).where('c.status', '=', 'creating'))))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('snapshots as s').select('s.id').where('s.volume_id', '=', row.id).where('s.status', 'not in', ['available', 'error']))))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) {
      throw badRequest(
        `Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer. (status ${row.status})`,
      );
    }
    if (!cascade) return [];
    await trx.updateTable('snapshots').set({ status: 'deleting', claim: api.manager.token, updated_at: nowIso() }).where('volume_id', '=', row.id).execute();
    return snaps.map((s) => s.id);
  });
}

export function registerVolumes(app: FastifyInstance, api: VolumeApi): void {
  const list = (detail: boolean) => async (request: FastifyRequest<{ Params: ProjectParams; Querystring: Record<string, string> }>) => {
    const { rows, links } = await listPage(api.db, 'volumes', request, request.caller.projectId, detail, ['name', 'status', 'size', 'bootable', 'snapshot_id', 'source_volid']);
    const names = await typeNames(api, rows);
    const b = baseUrl(request);
    const body: Record<string, unknown> = {
      volumes: rows.map((r) => (detail ? volumeDetail(b, r, r.volume_type_id ? (names.get(r.volume_type_id) ?? null) : null, request.caller.isAdmin) : volumeSummary(b, r))),
      ...links,
    };
    return body;
  };
  app.get('/v3/:project_id/volumes', list(false));
  app.get('/v3/:project_id/volumes/detail', list(true));

  app.get<{ Params: IdParams }>('/v3/:project_id/volumes/:id', { schema: { params: idParams } }, async (request) => ({
    volume: await showVolume(api, request, await findVolume(api, request, request.params.id)),
  }));

  app.post<{ Params: ProjectParams; Body: CreateVolume }>('/v3/:project_id/volumes', { schema: { body: createVolumeBody } }, async (request, reply) => {
    const row = await createVolume(api, request);
    return reply.code(202).send({ volume: await showVolume(api, request, row) });
  });

  app.put<{ Params: IdParams; Body: { volume: Record<string, unknown> } }>(
    '/v3/:project_id/volumes/:id',
    { schema: { params: idParams, body: updateVolumeBody } },
    async (request) => {
      const row = await findVolume(api, request, request.params.id);
      const v = request.body.volume as CreateVolume['volume'];
      const set: Partial<VolumeRow> = { updated_at: nowIso() };
      if (v.name !== undefined || v.display_name !== undefined) set.name = v.name ?? v.display_name ?? null;
      if (v.description !== undefined || v.display_description !== undefined) set.description = v.description ?? v.display_description ?? null;
      if (v.metadata) set.metadata = JSON.stringify(v.metadata);
      await api.db.updateTable('volumes').set(set).where('id', '=', row.id).execute();
      return { volume: await showVolume(api, request, await findVolume(api, request, row.id)) };
    },
  );

  // Volume metadata: GET, POST (merge), PUT (replace), DELETE one key.
  const metadataBody = { type: 'object', required: ['metadata'], properties: { metadata: createVolumeBody.properties.volume.properties.metadata.anyOf[0] } };
  const setMetadata = async (request: FastifyRequest<{ Params: IdParams; Body: { metadata: Record<string, string> } }>, merge: boolean) => {
    const row = await findVolume(api, request, request.params.id);
    const metadata = { ...(merge ? parseJson<Record<string, string>>(row.metadata, {}) : {}), ...request.body.metadata };
    if (Object.keys(metadata).length > 128) throw badRequest('Invalid input received: at most 128 metadata items');
    await api.db.updateTable('volumes').set({ metadata: JSON.stringify(metadata), updated_at: nowIso() }).where('id', '=', row.id).execute();
    return { metadata };
  };
  app.get<{ Params: IdParams }>('/v3/:project_id/volumes/:id/metadata', { schema: { params: idParams } }, async (request) => ({
    metadata: parseJson<Record<string, string>>((await findVolume(api, request, request.params.id)).metadata, {}),
  }));
  app.post<{ Params: IdParams; Body: { metadata: Record<string, string> } }>('/v3/:project_id/volumes/:id/metadata', { schema: { params: idParams, body: metadataBody } }, (request) => setMetadata(request, true));
  app.put<{ Params: IdParams; Body: { metadata: Record<string, string> } }>('/v3/:project_id/volumes/:id/metadata', { schema: { params: idParams, body: metadataBody } }, (request) => setMetadata(request, false));
  app.delete<{ Params: IdParams & { key: string } }>('/v3/:project_id/volumes/:id/metadata/:key', async (request, reply) => {
    const row = await findVolume(api, request, request.params.id);
    const metadata = parseJson<Record<string, string>>(row.metadata, {});
    if (!(request.params.key in metadata)) throw notFound(`Volume ${row.id} has no metadata with key ${request.params.key}.`);
    delete metadata[request.params.key];
    await api.db.updateTable('volumes').set({ metadata: JSON.stringify(metadata), updated_at: nowIso() }).where('id', '=', row.id).execute();
    return reply.code(200).send();
  });

  app.delete<{ Params: IdParams; Querystring: { cascade?: string } }>('/v3/:project_id/volumes/:id', { schema: { params: idParams } }, async (request, reply) => {
    const row = await findVolume(api, request, request.params.id);
    const cascadeRaw = request.query.cascade;
    if (cascadeRaw !== undefined && !/^(true|false|1|0|yes|no)$/i.test(cascadeRaw)) throw badRequest(`Invalid input received: cascade must be a boolean, got '${cascadeRaw}'`);
    const cascade = cascadeRaw !== undefined && /^(true|1|yes)$/i.test(cascadeRaw);
    const snapIds = await startDelete(api, row, cascade);
    const owned: Array<['volumes' | 'snapshots', string]> = [['volumes', row.id], ...snapIds.map((id) => ['snapshots', id] as ['snapshots', string])];
    api.manager.start(owned, `delete volume ${row.id}`, async () => {
      if (snapIds.length > 0) {
        const snaps = await api.db.selectFrom('snapshots').selectAll().where('id', 'in', snapIds).execute();
        for (const s of snaps) await api.manager.deleteSnapshot(s);
        if (await api.db.selectFrom('snapshots').select('id').where('volume_id', '=', row.id).executeTakeFirst()) {
          await api.manager.finish('volumes', row.id, { status: 'error_deleting', error: 'a snapshot of the volume could not be deleted' });
          return;
        }
      }
      await api.manager.deleteVolume(row);
    });
    return reply.code(202).send();
  });
}

