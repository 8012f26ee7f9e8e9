/** The Image v2 API (a Fastify plugin): version documents, schemas, images and their data. */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { GlanceStore } from '../../glance/store';
import { callerOf } from '../context';
import type { Db } from '../db';
import type { Manager } from '../manager';
import type { Quotas } from '../quota';
import { registerImageData } from './data';
import { registerImages } from './images';
import { IMAGE_SCHEMA, IMAGES_SCHEMA } from './schemas';

export interface ImageApi {
  db: Db;
  manager: Manager;
  quotas: Quotas;
  store: GlanceStore;
}

function versions(request: FastifyRequest): Record<string, unknown> {
  const base = `${request.protocol}://${request.headers.host ?? request.hostname}`;
  const v = (id: string, status: string) => ({ id, status, links: [{ rel: 'self', href: `${base}/v2/` }] });
  return { versions: [v('v2.9', 'CURRENT'), ...['v2.7', 'v2.6', 'v2.5', 'v2.4', 'v2.3', 'v2.2', 'v2.1', 'v2.0'].map((id) => v(id, 'SUPPORTED'))] };
}

export function registerImageApi(app: FastifyInstance, api: ImageApi): void {
  app.decorateRequest('caller', null as never);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    if (request.url.startsWith('/v2/')) request.caller = callerOf(request);
  });
  // Glance's JSON-patch media type is JSON.
  app.addContentTypeParser('application/openstack-images-v2.1-json-patch', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  app.get('/versions', async (request) => versions(request));
  app.get('/', async (request, reply) => reply.code(300).send(versions(request)));
  app.get('/v2/schemas/image', async () => IMAGE_SCHEMA);
  app.get('/v2/schemas/images', async () => IMAGES_SCHEMA);
  registerImages(app, api);
  registerImageData(app, api);
}
