/** The Image v2 API (a Fastify plugin): version documents, schemas, images and their data. */
import type { FastifyInstance } from 'fastify';

import type { Db } from '../db';
import type { GlanceStore } from '../../glance/store';
import type { Manager } from '../manager';
import type { Quotas } from '../quota';

export interface ImageApi {
  db: Db;
  manager: Manager;
  quotas: Quotas;
  store: GlanceStore;
}

function versions(base: string): Record<string, unknown> {
  const v = (id: string, status: string) => ({ id, status, links: [{ rel: 'self', href: `${base}/v2/` }] });
  return { versions: [v('v2.9', 'CURRENT'), v('v2.7', 'SUPPORTED'), v('v2.6', 'SUPPORTED'), v('v2.5', 'SUPPORTED'), v('v2.4', 'SUPPORTED'), v('v2.3', 'SUPPORTED'), v('v2.2', 'SUPPORTED'), v('v2.1', 'SUPPORTED'), v('v2.0', 'SUPPORTED')] };
}

export function registerImageApi(app: FastifyInstance, _api: ImageApi): void {
  app.get('/versions', async (request) => versions(`${request.protocol}://${request.headers.host ?? request.hostname}`));
  app.get('/', async (request, reply) => reply.code(300).send(versions(`${request.protocol}://${request.headers.host ?? request.hostname}`)));
}
