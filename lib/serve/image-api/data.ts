/**
 * Image data: `PUT /v2/images/{id}/file` streams the request body straight
 * into GlanceStore.add() (chunked or sized; never buffered whole) and
 * `GET /v2/images/{id}/file` streams GlanceStore.get() back, honouring
 * `Range` (206 + Content-Range) and sending Content-MD5 for the client's check.
 */
import type { Readable } from 'node:stream';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import { Duplicate, Invalid, StorageFull } from '../../glance/errors';
import { ApiError, badRequest, conflict, forbidden } from '../errors';
import { errorText, nowIso } from '../manager';
import type { ImageApi } from './index';
import { findImage } from './images';

/** The upload's byte count from Content-Length, or 0 (unknown: chunked). */
function announcedSize(request: FastifyRequest): number {
  const cl = request.headers['content-length'];
  if (cl === undefined || request.headers['transfer-encoding'] !== undefined) return 0;
  if (!/^\d+$/.test(cl) || !Number.isSafeInteger(Number(cl))) throw badRequest(`Invalid Content-Length: ${cl}`);
  return Number(cl);
}

function uploadError(err: unknown): ApiError {
  if (err instanceof Invalid) return badRequest(`Failed to upload image data: ${err.message}`);
  if (err instanceof StorageFull) return new ApiError(413, `Image storage media is full: ${err.message}`);
  if (err instanceof Duplicate) return conflict(`Image data already exists: ${err.message}`);
  return new ApiError(500, `Failed to upload image data due to internal error: ${errorText(err)}`);
}

async function upload(api: ImageApi, request: FastifyRequest<{ Params: { id: string } }>): Promise<void> {
  const row = await findImage(api, request, request.params.id);
  if (row.owner !== request.caller.projectId && !request.caller.isAdmin) throw forbidden(`You are not permitted to upload data to image ${row.id}.`);
  const size = announcedSize(request);
  const now = nowIso();
  const claimed = await api.db
    .updateTable('images')
    .set({ status: 'saving', claim: api.manager.token, updated_at: now })
    .where('id', '=', row.id)
    .where('status', '=', 'queued')
    .where('claim', 'is', null)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) throw conflict(`Image status transition from ${row.status} to saving is not allowed`);
  // The client going away mid-upload aborts it: the store removes what it wrote.
  const gone = new AbortController();
  const onClose = (): void => {
    if (!request.raw.complete) gone.abort(new Error('the client closed the connection during the upload'));
  };
  request.raw.once('close', onClose);
  try {
    const stored = await api.store.add(row.id, request.body as Readable, size, { signal: gone.signal, ...(size > 0 ? { expectedSize: size } : {}) });
    const done = await api.manager.finish('images', row.id, {
      status: 'active',
      size: stored.size,
      virtual_size: stored.size,
      checksum: stored.checksum,
      os_hash_algo: api.store.hashAlgo,
      os_hash_value: stored.multihash,
      location: stored.location,
    });
    if (!done) {
      // Deleted while it was being saved: its data goes too.
      await api.store.delete(stored.location).catch(() => undefined);
      throw conflict(`Image ${row.id} was deleted during the upload`);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    await api.manager.finish('images', row.id, { status: 'killed' });
    throw uploadError(err);
  } finally {
    request.raw.removeListener('close', onClose);
  }
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → offset and length; 416 when unsatisfiable. */
function parseRange(header: string, size: number): { offset: number; length: number } {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = (): never => {
    throw new ApiError(416, `Requested range ${header} not satisfiable for an image of ${size} bytes`, { 'content-range': `bytes */${size}` });
  };
  if (!m || (m[1] === '' && m[2] === '')) return unsatisfiable();
  if (m[1] === '') {
    const n = Math.min(Number(m[2]), size);
    if (n === 0) unsatisfiable();
    return { offset: size - n, length: n };
  }
  const first = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(first) || first >= size || last < first) unsatisfiable();
  return { offset: first, length: last - first + 1 };
}

export function registerImageData(app: FastifyInstance, api: ImageApi): void {
  // The upload body reaches the handler as the request stream itself.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  app.put<{ Params: { id: string } }>('/v2/images/:id/file', async (request, reply) => {
    if (!/^application\/octet-stream\s*(;|$)/i.test(request.headers['content-type'] ?? '')) throw new ApiError(415, 'Content-Type must be application/octet-stream');
    await upload(api, request);
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>('/v2/images/:id/file', async (request, reply) => {
    const row = await findImage(api, request, request.params.id);
    if (row.status === 'deactivated') throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
    if (row.status !== 'active' || row.location === null) return reply.code(204).send();
    const size = Number(row.size ?? 0);
    const range = typeof request.headers.range === 'string' ? parseRange(request.headers.range, size) : null;
    const got = await api.store.get(row.location, range ?? {});
    void reply.header('content-type', 'application/octet-stream').header('content-length', String(got.length));
    if (row.checksum) void reply.header('content-md5', row.checksum);
    if (range) void reply.code(206).header('content-range', `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`);
    return reply.send(got.stream);
  });
}
