/**
 * createServer(): the Block Storage v3 and Image v2 APIs over one cluster —
 * the Cinder driver on the volume pool, the Glance store on the image pool —
 * with a database (SQLite in the data directory, or PostgreSQL), the manager
 * and start-up reconciliation. Two Fastify instances, one per port.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

import Fastify, { type FastifyInstance } from 'fastify';

import { RbdVolumeDriver } from '../cinder/driver';
import { GlanceStore } from '../glance/store';
import { componentLogger, type Logger } from '../logger';
import { openDatabase } from './db';
import { errorBody, errorHandler, type ErrorStyle } from './errors';
import { registerImageApi } from './image-api';
import { Manager } from './manager';
import { DEFAULT_QUOTAS, Quotas, type Resource } from './quota';
import { reconcile, type ReconcileReport } from './reconcile';
import { leaseOptions, ServiceRegistry } from './services';
import { registerVolumeApi } from './volume-api';

export interface ServeOptions {
  /** Ceph configuration file. Default: librados' search. */
  confFile?: string;
  /** Directory of the SQLite database (created when missing). */
  dataDir: string;
  /** Database URL: postgres://… for PostgreSQL, sqlite:PATH or unset for SQLite. */
  db?: string;
  /** Address to bind. Default 127.0.0.1. */
  host?: string;
  /** Volume API port; 0 = any free port. Default 8776. */
  volumePort?: number;
  /** Image API port; 0 = any free port. Default 9292. */
  imagePort?: number;
  /** Pool of the volumes. Default 'volumes'. */
  volumePool?: string;
  /** Pool of the images. Default 'images'. */
  imagePool?: string;
  /** cephx id for both. Default: librados' default client. */
  user?: string;
  /** Default per-project limits (-1 = unlimited). Default DEFAULT_QUOTAS. */
  quotas?: Partial<Record<Resource, number>>;
  /**
   * How often the service writes its heartbeat in the database and looks for
   * claims of dead services to take over. Default 5000 (ms).
   */
  heartbeatMs?: number;
  /** A service whose heartbeat is older than this (ms) is dead and its claims are taken over. Default 3 × heartbeatMs. */
  leaseMs?: number;
  /** Where the service, the driver and the store log (levels left out are silent). Default: the library's logger (silent unless set). */
  logger?: Partial<Logger>;
}

export interface RunningServer {
  /** http://HOST:PORT/v3 */
  volumeUrl: string;
  /** http://HOST:PORT */
  imageUrl: string;
  /** What start-up reconciliation did. */
  reconciled: ReconcileReport;
  manager: Manager;
  quotas: Quotas;
  /** Stops listening, waits for running operations, closes driver, store and database. */
  close(): Promise<void>;
}

/** 1 MiB of JSON is far more than any request of these APIs needs. */
const BODY_LIMIT = 1024 * 1024;

/** Collections of the volume API: `/v3/<collection>` is project-less (microversion 3.67+ URLs, or a client given the bare /v3 endpoint). */
const PROJECTLESS = /^\/v3\/(volumes|snapshots|types|qos-specs|os-quota-sets|limits)(?=[/?]|$)/;

/**
 * `/v3/volumes…` → `/v3/<caller's project>/volumes…`, the project taken from
 * the noauth token (`user:project`) or X-Project-Id; `-` when there is none
 * (the request is then refused as unauthenticated).
 */
function projectlessRewrite(req: { url?: string; headers: Record<string, string | string[] | undefined> }): string {
  const url = req.url ?? '/';
  if (!PROJECTLESS.test(url)) return url;
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const token = first(req.headers['x-auth-token']);
  const project = (token ? token.slice(token.indexOf(':') + 1) : undefined) || first(req.headers['x-project-id']) || '-';
  return `/v3/${encodeURIComponent(project)}${url.slice(3)}`;
}

function fastify(style: ErrorStyle, log: Logger): FastifyInstance {
  const app = Fastify({
    ...(style === 'cinder' ? { rewriteUrl: projectlessRewrite } : {}),
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Wrong types are errors, not silently converted; unknown keys are kept (clients send many).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, allowUnionTypes: true } },
    requestTimeout: 0,
    genReqId: () => `req-${crypto.randomUUID()}`,
  });
  app.setErrorHandler(errorHandler(style, (m) => log.error(m)));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).type('application/json').send(errorBody(style, 404, `The resource could not be found: ${request.method} ${request.url.split('?')[0]}`));
  });
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-openstack-request-id', request.id);
  });
  return app;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function createServer(options: ServeOptions): Promise<RunningServer> {
  const log = componentLogger('serve', options.logger);
  const host = options.host ?? '127.0.0.1';
  const lease = leaseOptions(options);
  mkdirSync(options.dataDir, { recursive: true });
  const { db, kind } = await openDatabase(options.db, options.dataDir);
  const common = { ...(options.confFile ? { confFile: options.confFile } : {}), ...(options.user ? { user: options.user } : {}) };
  const driver = await RbdVolumeDriver.open({ ...common, pool: options.volumePool ?? 'volumes', ...(options.logger ? { logger: componentLogger('cinder', options.logger) } : {}) });
  let store: GlanceStore | undefined;
  const apps: FastifyInstance[] = [];
  let manager: Manager | undefined;
  let services: ServiceRegistry | undefined;
  try {
    // Thin: all-zero chunks (a volume's unwritten space, uploaded to an image) are not written.
    store = await GlanceStore.open({ ...common, pool: options.imagePool ?? 'images', thinProvisioning: true, ...(options.logger ? { logger: options.logger } : {}) });
    const quotas = new Quotas(db, { ...DEFAULT_QUOTAS, ...options.quotas });
    manager = new Manager({ db, driver, store, quotas, logger: log });
    services = new ServiceRegistry(db, kind, manager.token, lease, log);
    await services.register();
    const deps = { db, driver, store, quotas, logger: log, manager };
    // SQLite: this service is alone on its database and takes every transient record.
    const atStart = kind === 'sqlite' ? ('all' as const) : { unclaimed: true, owners: await services.deadOwners() };
    const reconciled = await reconcile({ ...deps, take: atStart, atStart: true });
    await services.forgetStale();
    services.start(async (owners) => {
      await reconcile({ ...deps, take: { unclaimed: false, owners }, atStart: false });
    });

    const volumeApp = fastify('cinder', log);
    registerVolumeApi(volumeApp, { db, manager, quotas });
    const imageApp = fastify('glance', log);
    registerImageApi(imageApp, { db, manager, quotas, store });
    apps.push(volumeApp, imageApp);
    await volumeApp.listen({ host, port: options.volumePort ?? 8776 });
    await imageApp.listen({ host, port: options.imagePort ?? 9292 });
    const vport = (volumeApp.server.address() as AddressInfo).port;
    const iport = (imageApp.server.address() as AddressInfo).port;
    const m = manager;
    const s = store;
    const reg = services;
    let closing: Promise<void> | undefined;
    return {
      volumeUrl: `http://${urlHost(host)}:${vport}/v3`,
      imageUrl: `http://${urlHost(host)}:${iport}`,
      reconciled,
      manager: m,
      quotas,
      close: () =>
        (closing ??= (async () => {
          await Promise.allSettled(apps.map((a) => a.close()));
          // The heartbeat goes on while running operations finish (others must not take their claims), then the row goes.
          reg.stopTakingOver();
          await m.close();
          await reg.stop();
          await s.close();
          await driver.close();
          await db.destroy();
        })()),
    };
  } catch (err) {
    await Promise.allSettled(apps.map((a) => a.close()));
    await manager?.close();
    await services?.stop().catch(() => undefined);
    await store?.close();
    await driver.close();
    await db.destroy();
    throw err;
  }
}
