/**
 * A small HTTP service over the library with node:http alone: images
 * (upload, Range download, stat, delete) and volumes (from an image, info,
 * snapshots, delete), every library error mapped to a status through its
 * stable `code` (the table in docs/API.md#error-contract), with
 * `Retry-After` when `retryable`.
 *
 *   CEPH_CONF=/etc/ceph/ceph.conf PORT=8080 node dist/examples/http-service.js
 *
 *   PUT    /images/:id            body = the data (Content-Length known or chunked)
 *   GET    /images/:id            the data; honours `Range: bytes=a-b`
 *   HEAD   /images/:id            size and location headers
 *   DELETE /images/:id
 *   POST   /volumes               {"id", "size" (GiB), "imageId"?}
 *   GET    /volumes/:id           size, parent, snapshots, watchers
 *   POST   /volumes/:id/snapshots {"id"}
 *   DELETE /volumes/:id/snapshots/:snapId
 *   DELETE /volumes/:id           refused (409) while it has snapshots
 *
 * Uses pools 'images' (Glance) and 'rbd' (volumes). Stops on SIGTERM/SIGINT.
 * In your own project, import from 'ceph-rbd' instead of '../lib'.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import { GlanceStore, RbdVolumeDriver } from '../lib';

/** The status a service answers for each error `code` (docs/API.md#error-contract). */
const STATUS: Record<string, number> = {
  ERR_INVALID_ARG_TYPE: 400,
  ERR_INVALID_ARG_VALUE: 400,
  ERR_OUT_OF_RANGE: 400,
  ERR_GLANCE_BAD_STORE_URI: 400,
  ERR_GLANCE_INVALID: 400,
  ERR_GLANCE_DUPLICATE: 409,
  ERR_GLANCE_NOT_FOUND: 404,
  ERR_GLANCE_IN_USE_BY_STORE: 409,
  ERR_GLANCE_STORAGE_FULL: 507,
  ERR_GLANCE_BACKEND: 503,
  ERR_GLANCE_BAD_STORE_CONFIGURATION: 500,
  ERR_CINDER_VOLUME_EXISTS: 409,
  ERR_CINDER_VOLUME_NOT_FOUND: 404,
  ERR_CINDER_SNAPSHOT_EXISTS: 409,
  ERR_CINDER_SNAPSHOT_NOT_FOUND: 404,
  ERR_CINDER_VOLUME_IS_BUSY: 409,
  ERR_CINDER_SNAPSHOT_IS_BUSY: 409,
  ERR_CINDER_VOLUME_HAS_SNAPSHOTS: 409,
  ERR_CINDER_INVALID_INPUT: 400,
  ERR_CINDER_IMAGE_UNACCEPTABLE: 422,
  ERR_CINDER_NOT_SUPPORTED: 501,
  ERR_CINDER_FORBIDDEN: 403,
  ERR_CINDER_BACKEND_API: 502,
  ERR_CINDER_MANAGE_INVALID_REFERENCE: 400,
  ERR_CINDER_INVALID_CONFIGURATION_VALUE: 500,
  ENOENT: 404,
  EEXIST: 409,
  EBUSY: 409,
  ENOTEMPTY: 409,
  EINVAL: 400,
  EPERM: 403,
  EACCES: 403,
  ENOSPC: 507,
  EDQUOT: 507,
  ETIMEDOUT: 504,
  ENOTCONN: 503,
  ESHUTDOWN: 503,
  ECONNREFUSED: 503,
  ERR_CEPH_CLOSED: 503,
  ABORT_ERR: 499,
};

/** The HTTP answer for an error: status from its code, Retry-After when retrying can help. */
export function errorResponse(err: unknown): { status: number; headers: Record<string, string>; body: { error: { name: string; code: string; message: string; retryable: boolean } } } {
  const e = err as { name?: string; code?: unknown; message?: string; retryable?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'ERR_INTERNAL';
  const retryable = e?.retryable === true;
  return {
    status: STATUS[code] ?? 500,
    headers: retryable ? { 'retry-after': '30' } : {},
    body: { error: { name: e?.name ?? 'Error', code, message: e?.message ?? String(err), retryable } },
  };
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...headers, ...(text ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } : {}) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const p of req) parts.push(p as Buffer);
  try {
    const v = JSON.parse(Buffer.concat(parts).toString() || '{}') as unknown;
    if (v !== null && typeof v === 'object') return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw Object.assign(new TypeError('Expected a JSON object for the request body'), { code: 'ERR_INVALID_ARG_VALUE' });
}

/** `Range: bytes=a-b` (one range) → offset and length; undefined without one. */
function range(header: string | undefined): { offset: number; length?: number } | undefined {
  const m = header ? /^bytes=(\d+)-(\d*)$/.exec(header) : null;
  if (!m) return undefined;
  const offset = Number(m[1]);
  return m[2] === '' ? { offset } : { offset, length: Number(m[2]) - offset + 1 };
}

async function main(): Promise<void> {
  const confFile = process.env.CEPH_CONF;
  if (!confFile) {
    process.stderr.write("http-service: set CEPH_CONF to the cluster's ceph.conf\n");
    process.exitCode = 2;
    return;
  }
  const store = await GlanceStore.open({ confFile, pool: 'images', chunkSizeMiB: 1 });
  const driver = await RbdVolumeDriver.open({ confFile, pool: 'rbd', connectionIntervalMs: 200 });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [kind, id, sub, snapId] = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const abort = new AbortController();
    req.once('close', () => {
      if (!req.complete) abort.abort(new Error('client went away'));
    });
    if (kind === 'images' && id !== undefined && sub === undefined) {
      if (req.method === 'PUT') {
        const size = Number(req.headers['content-length'] ?? 0);
        const checksum = req.headers['x-checksum'];
        const added = await store.add(id, req, size, { signal: abort.signal, ...(typeof checksum === 'string' ? { expectedChecksum: checksum } : {}) });
        return send(res, 201, added, { location: `/images/${encodeURIComponent(id)}` });
      }
      if (req.method === 'GET') {
        const r = range(req.headers.range);
        const got = await store.get(store.locationFor(id), r ?? {});
        res.writeHead(r ? 206 : 200, {
          'content-type': 'application/octet-stream',
          'content-length': String(got.length),
          ...(r ? { 'content-range': `bytes ${r.offset}-${r.offset + got.length - 1}/${got.size}` } : {}),
        });
        got.stream.pipe(res);
        res.once('close', () => got.stream.destroy());
        return;
      }
      if (req.method === 'HEAD') {
        const st = await store.stat(id);
        res.writeHead(200, { 'content-length': String(st.size), 'x-location': st.location });
        res.end();
        return;
      }
      if (req.method === 'DELETE') {
        await store.delete(store.locationFor(id));
        return send(res, 204);
      }
    }
    if (kind === 'volumes') {
      if (req.method === 'POST' && id === undefined) {
        const body = await readJson(req);
        const volume = { id: body.id as string, size: body.size as number };
        if (typeof body.imageId === 'string') {
          const location = store.locationFor(body.imageId);
          await store.stat(location); // 404 when the image does not exist
          // As Cinder does: a copy-on-write clone when the image allows it, else a (format-checked) copy.
          const meta = { disk_format: 'raw' };
          const cloned = await driver.cloneImage(volume, location, meta);
          if (!cloned.cloned) await driver.copyImageToVolume(volume, store, location, meta);
        } else {
          await driver.createVolume(volume);
        }
        return send(res, 201, await driver.getVolume(volume.id));
      }
      if (req.method === 'GET' && id !== undefined && sub === undefined) return send(res, 200, await driver.getVolume(id));
      if (req.method === 'POST' && id !== undefined && sub === 'snapshots') {
        const body = await readJson(req);
        await driver.createSnapshot({ id: body.id as string, volumeId: id });
        return send(res, 201, await driver.getSnapshot(id, body.id as string));
      }
      if (req.method === 'DELETE' && id !== undefined && sub === undefined) {
        await driver.deleteVolume(id, { refuseWithSnapshots: true });
        return send(res, 204);
      }
      if (req.method === 'DELETE' && id !== undefined && sub === 'snapshots' && snapId !== undefined) {
        await driver.deleteSnapshot({ id: snapId, volumeId: id });
        return send(res, 204);
      }
    }
    send(res, 404, { error: { name: 'NotFound', code: 'ERR_NO_ROUTE', message: `no route ${req.method} ${url.pathname}`, retryable: false } });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy(err as Error);
        return;
      }
      const answer = errorResponse(err);
      send(res, answer.status, answer.body, answer.headers);
    });
  });
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const addr = server.address();
    process.stdout.write(`listening http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : ''}\n`);
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void Promise.allSettled([store.close(), driver.close()]).then(() => process.stdout.write('stopped\n'));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`http-service: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
