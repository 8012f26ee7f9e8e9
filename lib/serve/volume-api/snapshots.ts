/** /v3/{project_id}/snapshots: create (force for in-use), list, show, update, delete. */
import { randomUUID } from 'node:crypto';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { SnapshotRow } from '../db/schema';
import { badRequest, notFound } from '../errors';
import { nowIso } from '../manager';
import { type IdParams, type ProjectParams, type VolumeApi } from './context';
import { listPage } from './list';
import { createSnapshotBody, idParams, updateSnapshotBody } from './schemas';
import { snapshotDetail } from './views';

interface CreateSnapshot {
  snapshot: {
    volume_id: string;
    name?: string | null;
    display_name?: string | null;
    description?: string | null;
    display_description?: string | null;
    force?: boolean | string | null;
    metadata?: Record<string, string> | null;
  };
}

async function findSnapshot(api: VolumeApi, request: FastifyRequest, id: string): Promise<SnapshotRow> {
  const row = await api.db.selectFrom('snapshots').selectAll().where('id', '=', id).where('project_id', '=', request.caller.projectId).executeTakeFirst();
  if (!row) throw notFound(`Snapshot ${id} could not be found.`);
  return row;
}

async function createSnapshot(api: VolumeApi, request: FastifyRequest<{ Body: CreateSnapshot }>): Promise<SnapshotRow> {
  const s = request.body.snapshot;
  const project = request.caller.projectId;
  const volume = await api.db.selectFrom('volumes').selectAll().where('id', '=', s.volume_id).where('project_id', '=', project).executeTakeFirst();
  if (!volume) throw notFound(`Volume ${s.volume_id} could not be found.`);
  const force = s.force === true || (typeof s.force === 'string' && /^(true|yes|1)$/i.test(s.force));
  const allowed = force ? ['available', 'in-use'] : ['available'];
  const now = nowIso();
  const row: SnapshotRow = {
    id: randomUUID(),
    project_id: project,
    user_id: request.caller.userId,
    volume_id: volume.id,
    name: s.name ?? s.display_name ?? null,
    description: s.description ?? s.display_description ?? null,
    size: volume.size,
    status: 'creating',
    metadata: JSON.stringify(s.metadata ?? {}),
    error: null,
    // Claimed by this service from the insert on (Manager.start).
    claim: api.manager.token,
    created_at: now,
    updated_at: now,
  };
  await api.db.transaction().execute(async (trx) => {
    const reservation = await api.quotas.reserve(trx, project, { snapshots: 1 });
    // Holds the volume row (row lock in PostgreSQL) while the snapshot record is
    // made: a delete that marked it `deleting` first makes this fail.
    const r = await trx.updateTable('volumes').set({ updated_at: now }).where('id', '=', volume.id).where('status', 'in', allowed).where('claim', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) {
      throw badRequest(`Invalid volume: Volume ${volume.id} status must be ${allowed.join(' or ')}, but current status is: ${volume.status}.`);
    }
    await trx.insertInto('snapshots').values(row).execute();
    await api.quotas.commit(trx, reservation);
  });
  api.manager.start([['snapshots', row.id]], `create snapshot ${row.id}`, () => api.manager.createSnapshot(row));
  return row;
}

export function registerSnapshots(app: FastifyInstance, api: VolumeApi): void {
  const list = (detail: boolean) => async (request: FastifyRequest<{ Params: ProjectParams; Querystring: Record<string, string> }>) => {
    const { rows, links } = await listPage(api.db, 'snapshots', request, request.caller.projectId, detail, ['name', 'status', 'volume_id']);
    const body: Record<string, unknown> = {
      snapshots: rows.map((r) => (detail ? snapshotDetail(r) : { id: r.id, name: r.name, volume_id: r.volume_id, status: r.status, size: r.size })),
      ...links,
    };
    return body;
  };
  app.get('/v3/:project_id/snapshots', list(false));
  app.get('/v3/:project_id/snapshots/detail', list(true));

  app.get<{ Params: IdParams }>('/v3/:project_id/snapshots/:id', { schema: { params: idParams } }, async (request) => ({
    snapshot: snapshotDetail(await findSnapshot(api, request, request.params.id)),
  }));

  app.post<{ Params: ProjectParams; Body: CreateSnapshot }>('/v3/:project_id/snapshots', { schema: { body: createSnapshotBody } }, async (request, reply) => {
    const row = await createSnapshot(api, request);
    return reply.code(202).send({ snapshot: snapshotDetail(row) });
  });

  app.put<{ Params: IdParams; Body: { snapshot: Record<string, string | null | undefined> } }>(
    '/v3/:project_id/snapshots/:id',
    { schema: { params: idParams, body: updateSnapshotBody } },
    async (request) => {
      const row = await findSnapshot(api, request, request.params.id);
      const s = request.body.snapshot;
      const set: Partial<SnapshotRow> = { updated_at: nowIso() };
      if (s.name !== undefined || s.display_name !== undefined) set.name = s.name ?? s.display_name ?? null;
      if (s.description !== undefined || s.display_description !== undefined) set.description = s.description ?? s.display_description ?? null;
      await api.db.updateTable('snapshots').set(set).where('id', '=', row.id).execute();
      return { snapshot: snapshotDetail(await findSnapshot(api, request, row.id)) };
    },
  );

  app.delete<{ Params: IdParams }>('/v3/:project_id/snapshots/:id', { schema: { params: idParams } }, async (request, reply) => {
    const row = await findSnapshot(api, request, request.params.id);
    const r = await api.db
      .updateTable('snapshots')
      .set({ status: 'deleting', claim: api.manager.token, updated_at: nowIso() })
      .where('id', '=', row.id)
      .where('status', 'in', ['available', 'error', 'error_deleting'])
      .where('claim', 'is', null)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('volumes as v').select('v.id').where('v.snapshot_id', '=', row.id).where('v.status', '=', 'creating'))))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw badRequest(`Invalid snapshot: Snapshot status must be available or error and must not be part of a group (status ${row.status}).`);
    api.manager.start([['snapshots', row.id]], `delete snapshot ${row.id}`, () => api.manager.deleteSnapshot({ ...row, status: 'deleting' }));
    return reply.code(202).send();
  });
}
