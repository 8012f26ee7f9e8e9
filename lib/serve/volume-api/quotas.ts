/**
 * /v3/{project_id}/os-quota-sets/{target}: show (with usage), defaults,
 * update and reset (admin), and /limits (the caller's absolute limits), as
 * `cinder quota-show|quota-update|quota-defaults|absolute-limits` use them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { ID_RE } from '../context';
import { badRequest, forbidden } from '../errors';
import { type Resource } from '../quota';
import type { VolumeApi } from './context';

/** The resources the volume API reports (images are the image API's). */
const VOLUME_RESOURCES = ['volumes', 'gigabytes', 'snapshots'] as const satisfies readonly Resource[];

function checkTarget(request: FastifyRequest, target: string): void {
  if (!ID_RE.test(target)) throw badRequest(`Invalid project id ${target}`);
  if (target !== request.caller.projectId && !request.caller.isAdmin) throw forbidden(`Policy doesn't allow volume_extension:quotas:show to be performed for project ${target}.`);
}

const updateBody = {
  type: 'object',
  required: ['quota_set'],
  properties: {
    quota_set: {
      type: 'object',
      propertyNames: { enum: [...VOLUME_RESOURCES, 'images', 'tenant_id', 'id'] },
      properties: Object.fromEntries([...VOLUME_RESOURCES, 'images'].map((r) => [r, { type: 'integer', minimum: -1, maximum: 2 ** 31 - 1 }])),
    },
  },
};

export function registerQuotas(app: FastifyInstance, api: VolumeApi): void {
  const show = async (target: string, usage: boolean): Promise<Record<string, unknown>> => {
    const limits = await api.quotas.limits(target);
    const used = await api.quotas.usage(target);
    const set: Record<string, unknown> = { id: target };
    for (const r of VOLUME_RESOURCES) set[r] = usage ? { limit: limits[r], in_use: used[r].in_use, reserved: used[r].reserved, allocated: 0 } : limits[r];
    return { quota_set: set };
  };

  app.get<{ Params: { project_id: string; target: string }; Querystring: { usage?: string } }>('/v3/:project_id/os-quota-sets/:target', async (request) => {
    checkTarget(request, request.params.target);
    return show(request.params.target, /^(true|1|yes)$/i.test(request.query.usage ?? ''));
  });

  app.get<{ Params: { project_id: string; target: string } }>('/v3/:project_id/os-quota-sets/:target/defaults', async (request) => {
    checkTarget(request, request.params.target);
    const d = api.quotas.defaultLimits();
    return { quota_set: { id: request.params.target, ...Object.fromEntries(VOLUME_RESOURCES.map((r) => [r, d[r]])) } };
  });

  app.put<{ Params: { project_id: string; target: string }; Body: { quota_set: Record<string, number> } }>(
    '/v3/:project_id/os-quota-sets/:target',
    { schema: { body: updateBody } },
    async (request) => {
      if (!request.caller.isAdmin) throw forbidden('Policy does not allow volume_extension:quotas:update to be performed.');
      checkTarget(request, request.params.target);
      for (const [k, v] of Object.entries(request.body.quota_set)) {
        if (k === 'tenant_id' || k === 'id') continue;
        await api.quotas.setLimit(request.params.target, k as Resource, v);
      }
      return show(request.params.target, false);
    },
  );

  app.delete<{ Params: { project_id: string; target: string } }>('/v3/:project_id/os-quota-sets/:target', async (request, reply) => {
    if (!request.caller.isAdmin) throw forbidden('Policy does not allow volume_extension:quotas:delete to be performed.');
    checkTarget(request, request.params.target);
    await api.quotas.resetLimits(request.params.target);
    return reply.code(200).send();
  });

  app.get('/v3/:project_id/limits', async (request) => {
    const p = request.caller.projectId;
    const limits = await api.quotas.limits(p);
    const used = await api.quotas.usage(p);
    return {
      limits: {
        rate: [],
        absolute: {
          maxTotalVolumes: limits.volumes,
          maxTotalSnapshots: limits.snapshots,
          maxTotalVolumeGigabytes: limits.gigabytes,
          maxTotalBackups: 0,
          maxTotalBackupGigabytes: 0,
          totalVolumesUsed: used.volumes.in_use,
          totalSnapshotsUsed: used.snapshots.in_use,
          totalGigabytesUsed: used.gigabytes.in_use,
          totalBackupsUsed: 0,
          totalBackupGigabytesUsed: 0,
        },
      },
    };
  });
}
