/** POST /v3/{project_id}/volumes/{id}/action: os-extend, revert, os-reset_status, os-volume_upload_image. */
import { randomUUID } from 'node:crypto';

import type { FastifyInstance } from 'fastify';

import type { ImageRow, VolumeRow } from '../db/schema';
import { badRequest, forbidden, notFound } from '../errors';
import { nowIso } from '../manager';
import { reservationOwner } from '../quota';
import type { IdParams, VolumeApi } from './context';
import { findVolume } from './volumes';
import { idParams, volumeActionBody } from './schemas';

type Action = {
  'os-extend'?: { new_size: number };
  revert?: { snapshot_id: string };
  'os-reset_status'?: { status?: string };
  'os-volume_upload_image'?: { image_name: string; disk_format?: string; container_format?: string; force?: boolean | string | null; visibility?: string };
};

/** Moves the volume from `from` to `to`, claimed by this service (Manager.start), if nobody else did; 400 otherwise. */
async function transition(api: VolumeApi, row: VolumeRow, from: string[], to: string): Promise<void> {
  const r = await api.db.updateTable('volumes').set({ status: to, claim: api.manager.token, updated_at: nowIso() }).where('id', '=', row.id).where('status', 'in', from).where('claim', 'is', null).executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1) throw badRequest(`Invalid volume: Volume ${row.id} status must be ${from.join(' or ')}, but current status is: ${row.status}.`);
}

async function extend(api: VolumeApi, row: VolumeRow, newSize: number): Promise<void> {
  if (newSize <= row.size) throw badRequest(`Invalid input received: New size for extend must be greater than current size. (current: ${row.size}, extended: ${newSize}).`);
  await api.db.transaction().execute(async (trx) => {
    // Open until the resize: owned by the volume, so a service that takes the extend over settles it.
    await api.quotas.reserve(trx, row.project_id, { gigabytes: newSize - row.size }, reservationOwner('volumes', row.id));
    const r = await trx.updateTable('volumes').set({ status: 'extending', claim: api.manager.token, updated_at: nowIso() }).where('id', '=', row.id).where('status', '=', 'available').where('claim', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw badRequest(`Invalid volume: Volume status must be available to extend, but current status is: ${row.status}.`);
  });
  api.manager.start([['volumes', row.id]], `extend volume ${row.id}`, () => api.manager.extendVolume(row, newSize));
}

async function uploadToImage(api: VolumeApi, row: VolumeRow, a: NonNullable<Action['os-volume_upload_image']>, caller: { projectId: string }): Promise<ImageRow> {
  const force = a.force === true || (typeof a.force === 'string' && /^(true|yes|1)$/i.test(a.force));
  const now = nowIso();
  const image: ImageRow = {
    id: randomUUID(),
    owner: caller.projectId,
    name: a.image_name,
    status: 'saving',
    visibility: a.visibility ?? 'shared',
    disk_format: a.disk_format ?? 'raw',
    container_format: a.container_format ?? 'bare',
    size: null,
    virtual_size: null,
    checksum: null,
    os_hash_algo: null,
    os_hash_value: null,
    min_disk: row.size,
    min_ram: 0,
    protected: 0,
    location: null,
    properties: JSON.stringify({}),
    tags: '[]',
    // Claimed by this service from the insert on, with the volume (Manager.start).
    claim: api.manager.token,
    created_at: now,
    updated_at: now,
  };
  await api.db.transaction().execute(async (trx) => {
    const reservation = await api.quotas.reserve(trx, caller.projectId, { images: 1 });
    const allowed = force ? ['available', 'in-use'] : ['available'];
    const r = await trx.updateTable('volumes').set({ status: 'uploading', claim: api.manager.token, updated_at: now }).where('id', '=', row.id).where('status', 'in', allowed).where('claim', 'is', null).executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw badRequest(`Invalid volume: Volume ${row.id} status must be ${allowed.join(' or ')}, but current status is: ${row.status}.`);
    await trx.insertInto('images').values(image).execute();
    await api.quotas.commit(trx, reservation);
  });
  api.manager.start([['images', image.id]], `upload volume ${row.id} to image ${image.id}`, () => api.manager.uploadVolumeToImage(row, image));
  return image;
}

export function registerActions(app: FastifyInstance, api: VolumeApi): void {
  app.post<{ Params: IdParams; Body: Action }>('/v3/:project_id/volumes/:id/action', { schema: { params: idParams, body: volumeActionBody } }, async (request, reply) => {
    const row = await findVolume(api, request, request.params.id);
    const body = request.body;
    if (body['os-extend']) {
      await extend(api, row, body['os-extend'].new_size);
      return reply.code(202).send();
    }
    if (body.revert) {
      if (request.microversion.minor < 40) throw notFound('The resource could not be found: revert needs microversion 3.40 or later.');
      const snapId = body.revert.snapshot_id;
      const snaps = await api.db.selectFrom('snapshots').selectAll().where('volume_id', '=', row.id).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
      const snap = snaps.find((s) => s.id === snapId);
      if (!snap) throw notFound(`Snapshot ${snapId} could not be found.`);
      if (snaps[0].id !== snapId) throw badRequest(`Invalid snapshot: Volume ${row.id} can only be reverted to its latest snapshot.`);
      if (snap.status !== 'available') throw badRequest(`Invalid snapshot: Snapshot status must be available, but current status is: ${snap.status}.`);
      if (snap.size !== row.size) throw badRequest('Invalid volume: Volume size and snapshot size must match to revert.');
      await transition(api, row, ['available'], 'reverting');
      api.manager.start([['volumes', row.id]], `revert volume ${row.id}`, () => api.manager.revertVolume(row, snap));
      return reply.code(202).send();
    }
    if (body['os-reset_status']) {
      if (!request.caller.isAdmin) throw forbidden('Policy does not allow volume_extension:volume_admin_actions:reset_status to be performed.');
      const status = body['os-reset_status'].status;
      if (status !== undefined) await api.db.updateTable('volumes').set({ status, claim: null, updated_at: nowIso() }).where('id', '=', row.id).execute();
      return reply.code(202).send();
    }
    const up = body['os-volume_upload_image']!;
    const image = await uploadToImage(api, row, up, request.caller);
    return reply.code(202).send({
      'os-volume_upload_image': {
        id: row.id,
        updated_at: image.updated_at,
        status: 'uploading',
        display_description: row.description,
        size: row.size,
        volume_type: null,
        image_id: image.id,
        container_format: image.container_format,
        disk_format: image.disk_format,
        image_name: image.name,
        visibility: image.visibility,
        protected: false,
      },
    });
  });
}
