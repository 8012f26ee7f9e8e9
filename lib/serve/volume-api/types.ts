/**
 * Volume types with extra specs, and QoS specs (admin writes; everyone
 * reads public types): /v3/{project_id}/types… and /qos-specs…, as
 * `cinder type-*`, `type-key`, `qos-*` use them. A volume created with a type
 * hands its extra specs and its QoS specs to the driver (which applies
 * `back-end`/`both` QoS as rbd_qos_* on the image).
 */
import { randomUUID } from 'node:crypto';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { VolumeType } from '../../cinder/types';
import type { Db } from '../db';
import type { QosSpecsRow, VolumeTypeRow } from '../db/schema';
import { badRequest, conflict, forbidden, notFound } from '../errors';
import { nowIso } from '../manager';
import type { VolumeApi } from './context';
import { parseJson } from './views';

const specs = { type: 'object', maxProperties: 64, propertyNames: { minLength: 1, maxLength: 255 }, additionalProperties: { type: 'string', maxLength: 255 } };
const createTypeBody = {
  type: 'object',
  required: ['volume_type'],
  properties: {
    volume_type: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/]+$' },
        description: { type: ['string', 'null'], maxLength: 255 },
        'os-volume-type-access:is_public': { type: 'boolean' },
        extra_specs: specs,
      },
    },
  },
};
const extraSpecsBody = { type: 'object', required: ['extra_specs'], properties: { extra_specs: specs } };
const createQosBody = {
  type: 'object',
  required: ['qos_specs'],
  properties: {
    qos_specs: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, consumer: { type: 'string', enum: ['front-end', 'back-end', 'both'] } },
      additionalProperties: { type: 'string', maxLength: 255 },
    },
  },
};

function admin(request: FastifyRequest): void {
  if (!request.caller.isAdmin) throw forbidden('Policy does not allow this operation to be performed: admin only.');
}

const typeView = (t: VolumeTypeRow): Record<string, unknown> => ({
  id: t.id,
  name: t.name,
  description: t.description,
  is_public: t.is_public === 1,
  'os-volume-type-access:is_public': t.is_public === 1,
  extra_specs: parseJson<Record<string, string>>(t.extra_specs, {}),
  qos_specs_id: t.qos_specs_id,
});
const qosView = (q: QosSpecsRow): Record<string, unknown> => ({ id: q.id, name: q.name, consumer: q.consumer, specs: parseJson<Record<string, string>>(q.specs, {}) });

async function findType(db: Db, id: string): Promise<VolumeTypeRow> {
  const t = await db.selectFrom('volume_types').selectAll().where((eb) => eb.or([eb('id', '=', id), eb('name', '=', id)])).executeTakeFirst();
  if (!t) throw notFound(`Volume type ${id} could not be found.`);
  return t;
}
async function findQos(db: Db, id: string): Promise<QosSpecsRow> {
  const q = await db.selectFrom('qos_specs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!q) throw notFound(`QoS Specs ${id} could not be found.`);
  return q;
}

/** The driver's view of a type (extra specs and QoS specs), or null. */
export async function driverVolumeType(db: Db, typeId: string | null): Promise<VolumeType | null> {
  if (typeId === null) return null;
  const t = await db.selectFrom('volume_types').selectAll().where('id', '=', typeId).executeTakeFirst();
  if (!t) return null;
  const q = t.qos_specs_id ? await db.selectFrom('qos_specs').selectAll().where('id', '=', t.qos_specs_id).executeTakeFirst() : undefined;
  return {
    id: t.id,
    name: t.name,
    extraSpecs: parseJson<Record<string, string>>(t.extra_specs, {}),
    qosSpecs: q ? { consumer: q.consumer as 'front-end' | 'back-end' | 'both', specs: parseJson<Record<string, string>>(q.specs, {}) } : null,
  };
}

export function registerTypes(app: FastifyInstance, api: VolumeApi): void {
  const db = api.db;
  type P = { Params: { project_id: string; id: string; key: string } };

  app.get('/v3/:project_id/types', async (request) => {
    let q = db.selectFrom('volume_types').selectAll().orderBy('name');
    if (!request.caller.isAdmin) q = q.where('is_public', '=', 1);
    return { volume_types: (await q.execute()).map(typeView) };
  });
  app.get<P>('/v3/:project_id/types/default', async () => ({ volume_type: { id: null, name: '__DEFAULT__', description: 'Default Volume Type', is_public: true, extra_specs: {} } }));
  app.get<P>('/v3/:project_id/types/:id', async (request) => ({ volume_type: typeView(await findType(db, request.params.id)) }));
  app.post<{ Body: { volume_type: { name: string; description?: string | null; 'os-volume-type-access:is_public'?: boolean; extra_specs?: Record<string, string> } } }>(
    '/v3/:project_id/types',
    { schema: { body: createTypeBody } },
    async (request) => {
      admin(request);
      const v = request.body.volume_type;
      if (v.name === '__DEFAULT__' || (await db.selectFrom('volume_types').select('id').where('name', '=', v.name).executeTakeFirst())) throw conflict(`Volume Type ${v.name} already exists.`);
      const row: VolumeTypeRow = {
        id: randomUUID(),
        name: v.name,
        description: v.description ?? null,
        is_public: v['os-volume-type-access:is_public'] === false ? 0 : 1,
        extra_specs: JSON.stringify(v.extra_specs ?? {}),
        qos_specs_id: null,
        created_at: nowIso(),
      };
      await db.insertInto('volume_types').values(row).execute();
      return { volume_type: typeView(row) };
    },
  );
  app.delete<P>('/v3/:project_id/types/:id', async (request, reply) => {
    admin(request);
    const t = await findType(db, request.params.id);
    if (await db.selectFrom('volumes').select('id').where('volume_type_id', '=', t.id).executeTakeFirst()) throw badRequest(`Target volume type is still in use. Volume Type ${t.id} deletion is not allowed with volumes present with the type.`);
    await db.deleteFrom('volume_types').where('id', '=', t.id).execute();
    return reply.code(202).send();
  });
  app.get<P>('/v3/:project_id/types/:id/extra_specs', async (request) => ({ extra_specs: parseJson<Record<string, string>>((await findType(db, request.params.id)).extra_specs, {}) }));
  app.post<P & { Body: { extra_specs: Record<string, string> } }>('/v3/:project_id/types/:id/extra_specs', { schema: { body: extraSpecsBody } }, async (request) => {
    admin(request);
    const t = await findType(db, request.params.id);
    const merged = { ...parseJson<Record<string, string>>(t.extra_specs, {}), ...request.body.extra_specs };
    await db.updateTable('volume_types').set({ extra_specs: JSON.stringify(merged) }).where('id', '=', t.id).execute();
    return { extra_specs: request.body.extra_specs };
  });
  app.delete<P>('/v3/:project_id/types/:id/extra_specs/:key', async (request, reply) => {
    admin(request);
    const t = await findType(db, request.params.id);
    const s = parseJson<Record<string, string>>(t.extra_specs, {});
    if (!(request.params.key in s)) throw notFound(`Volume Type ${t.id} has no extra specs with key ${request.params.key}.`);
    delete s[request.params.key];
    await db.updateTable('volume_types').set({ extra_specs: JSON.stringify(s) }).where('id', '=', t.id).execute();
    return reply.code(202).send();
  });

  app.get('/v3/:project_id/qos-specs', async (request) => {
    admin(request);
    return { qos_specs: (await db.selectFrom('qos_specs').selectAll().orderBy('name').execute()).map(qosView) };
  });
  app.get<P>('/v3/:project_id/qos-specs/:id', async (request) => {
    admin(request);
    return { qos_specs: qosView(await findQos(db, request.params.id)) };
  });
  app.post<{ Body: { qos_specs: Record<string, string> } }>('/v3/:project_id/qos-specs', { schema: { body: createQosBody } }, async (request) => {
    admin(request);
    const { name, consumer = 'back-end', ...rest } = request.body.qos_specs;
    if (await db.selectFrom('qos_specs').select('id').where('name', '=', name).executeTakeFirst()) throw conflict(`QoS Specs ${name} already exists.`);
    const row: QosSpecsRow = { id: randomUUID(), name, consumer, specs: JSON.stringify(rest), created_at: nowIso() };
    await db.insertInto('qos_specs').values(row).execute();
    return { qos_specs: qosView(row) };
  });
  app.delete<P>('/v3/:project_id/qos-specs/:id', async (request, reply) => {
    admin(request);
    const q = await findQos(db, request.params.id);
    if (await db.selectFrom('volume_types').select('id').where('qos_specs_id', '=', q.id).executeTakeFirst()) throw badRequest(`QoS Specs ${q.id} is still associated with entities.`);
    await db.deleteFrom('qos_specs').where('id', '=', q.id).execute();
    return reply.code(202).send();
  });
  const associate = (on: boolean) => async (request: FastifyRequest<{ Params: { id: string }; Querystring: { vol_type_id?: string } }>, reply: { code(n: number): { send(): unknown } }) => {
    admin(request);
    const q = await findQos(db, request.params.id);
    if (!request.query.vol_type_id) throw badRequest('Invalid input received: vol_type_id is required');
    const t = await findType(db, request.query.vol_type_id);
    await db.updateTable('volume_types').set({ qos_specs_id: on ? q.id : null }).where('id', '=', t.id).execute();
    return reply.code(202).send();
  };
  app.get('/v3/:project_id/qos-specs/:id/associate', associate(true));
  app.get('/v3/:project_id/qos-specs/:id/disassociate', associate(false));
  app.get<P>('/v3/:project_id/qos-specs/:id/associations', async (request) => {
    admin(request);
    const q = await findQos(db, request.params.id);
    const types = await db.selectFrom('volume_types').selectAll().where('qos_specs_id', '=', q.id).execute();
    return { qos_associations: types.map((t) => ({ association_type: 'volume_type', name: t.name, id: t.id })) };
  });
}
