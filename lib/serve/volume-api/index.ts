/** The Block Storage v3 API (a Fastify plugin): version documents, noauth + microversion per request, resources. */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { callerOf, microversionOf } from '../context';
import type { VolumeApi } from './context';
import { registerActions } from './actions';
import { registerQuotas } from './quotas';
import { registerSnapshots } from './snapshots';
import { registerTypes } from './types';
import { registerVersions } from './versions';
import { registerVolumes } from './volumes';

export type { VolumeApi } from './context';

export function registerVolumeApi(app: FastifyInstance, api: VolumeApi): void {
  app.decorateRequest('caller', null as never);
  app.decorateRequest('microversion', null as never);
  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    const project = /^\/v3\/([^/?]+)\//.exec(request.url)?.[1];
    if (project === undefined) return;
    request.microversion = microversionOf(request);
    void reply.header('OpenStack-API-Version', `volume ${request.microversion.major}.${request.microversion.minor}`);
    void reply.header('Vary', 'OpenStack-API-Version');
    request.caller = callerOf(request, decodeURIComponent(project));
  });
  registerVersions(app);
  registerVolumes(app, api);
  registerSnapshots(app, api);
  registerActions(app, api);
  registerQuotas(app, api);
  registerTypes(app, api);
}
