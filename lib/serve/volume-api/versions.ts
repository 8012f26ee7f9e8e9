/** The Block Storage version documents: `GET /` (cinderclient reads min_version/version from it) and `GET /v3/`. */
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { MAX_VERSION, MIN_VERSION } from '../context';
import { baseUrl } from './context';

function v3(request: FastifyRequest): Record<string, unknown> {
  return {
    id: 'v3.0',
    status: 'CURRENT',
    version: MAX_VERSION,
    min_version: MIN_VERSION,
    updated: '2022-08-31T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl(request)}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
  };
}

export function registerVersions(app: FastifyInstance): void {
  app.get('/', async (request, reply) => reply.code(300).send({ versions: [v3(request)] }));
  app.get('/v3', async (request) => ({ version: v3(request) }));
  app.get('/v3/', async (request) => ({ version: v3(request) }));
}
