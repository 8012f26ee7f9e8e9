/**
 * `require('ceph-rbd/serve')`: the Block Storage v3 and Image v2 service
 * (`ceph-rbd serve`) as a library. Loading it loads Fastify and Kysely; the
 * database driver (better-sqlite3 or pg, optional dependencies) is loaded
 * when createServer() opens the database.
 */
export { createServer, type ServeOptions, type RunningServer } from './server';
export { DEFAULT_QUOTAS, type Resource } from './quota';
export type { ReconcileReport } from './reconcile';
