/**
 * OpenStack error bodies: `{"<kind>": {"code": N, "message": "..."}}` as
 * Cinder's faults look (cinderclient prints `ERROR: <message> (HTTP N)`);
 * the image API adds Glance's `title` (glanceclient reads the `message` of
 * each top-level object and prints `HTTP N <title>: <message>`).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** The fault names Cinder uses, by status. */
const KIND: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  406: 'notAcceptable',
  409: 'conflictingRequest',
  411: 'lengthRequired',
  413: 'overLimit',
  415: 'badMediaType',
  416: 'requestedRangeNotSatisfiable',
  500: 'computeFault',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

const TITLE: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Requested Range Not Satisfiable',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** An error the API answers with `status` and `message`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message);
export const notFound = (message: string): ApiError => new ApiError(404, message);
export const conflict = (message: string): ApiError => new ApiError(409, message);
export const forbidden = (message: string): ApiError => new ApiError(403, message);
/** 413 overLimit; Retry-After 0 so cinderclient does not sleep and retry. */
export const overLimit = (message: string): ApiError => new ApiError(413, message, { 'retry-after': '0' });

/** Which body shape an API answers errors with. */
export type ErrorStyle = 'cinder' | 'glance';

export function errorBody(style: ErrorStyle, status: number, message: string): unknown {
  const kind = KIND[status] ?? (status >= 500 ? 'computeFault' : 'badRequest');
  return { [kind]: { code: status, ...(style === 'glance' ? { title: TITLE[status] ?? 'Error' } : {}), message } };
}

/** Maps Fastify's own errors (validation, JSON parse, body size) and ours to one status + message. */
function classify(err: FastifyError | ApiError | Error): { status: number; message: string; headers: Record<string, string> } {
  if (err instanceof ApiError) return { status: err.status, message: err.message, headers: err.headers };
  const fe = err as FastifyError;
  if (fe.validation) return { status: 400, message: `Invalid input received: ${fe.message}`, headers: {} };
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, message: 'Unsupported Content-Type', headers: {} };
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { status: 400, message: 'Malformed request body: the body is empty', headers: {} };
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: 'Request body too large', headers: {} };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const message = fe instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? `Malformed request body: ${fe.message}` : fe.message;
    return { status: fe.statusCode, message, headers: {} };
  }
  return { status: 500, message: 'The server has either erred or is incapable of performing the requested operation.', headers: {} };
}

/** A Fastify error handler answering in `style`; 5xx causes go to `log`. */
export function errorHandler(style: ErrorStyle, log: (msg: string) => void) {
  return (err: FastifyError | ApiError | Error, request: FastifyRequest, reply: FastifyReply): void => {
    const { status, message, headers } = classify(err);
    if (status >= 500) log(`${request.method} ${request.url}: ${err.stack ?? err.message}`);
    void reply.code(status).headers(headers).type('application/json').send(errorBody(style, status, message));
  };
}
