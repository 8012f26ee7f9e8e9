/**
 * Noauth request context: who is calling, for which project, and (volume
 * API) which microversion. Keystone tokens are NOT validated: the token is
 * taken as `user:project` (cinderclient's noauth plugin sends exactly that)
 * and believed. A token without a colon names both user and project.
 */
import type { FastifyRequest } from 'fastify';

import { ApiError, badRequest, forbidden } from './errors';

export interface Caller {
  userId: string;
  projectId: string;
  /** noauth admin: the user or project named `admin`. */
  isAdmin: boolean;
}

/** Project and user ids: what Keystone ids look like (no '/', no '..'). */
export const ID_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The caller from X-Auth-Token (`user:project`), X-User-Id / X-Project-Id, or the URL's project. */
export function callerOf(request: FastifyRequest, urlProject?: string): Caller {
  let token = header(request, 'x-auth-token');
  // glanceclient percent-encodes header values (`user%3Aproject`).
  if (token !== undefined && token.includes('%')) {
    try {
      token = decodeURIComponent(token);
    } catch {
      throw badRequest('Malformed X-Auth-Token');
    }
  }
  let userId: string | undefined;
  let projectId: string | undefined;
  if (token !== undefined && token !== '') {
    const i = token.indexOf(':');
    userId = i < 0 ? token : token.slice(0, i);
    projectId = i < 0 ? token : token.slice(i + 1);
  }
  projectId ??= header(request, 'x-project-id') ?? header(request, 'x-tenant-id') ?? (urlProject === '-' ? undefined : urlProject);
  userId ??= header(request, 'x-user-id') ?? projectId;
  if (projectId === undefined || userId === undefined) throw new ApiError(401, 'No credentials: send X-Auth-Token user:project (noauth)');
  if (!ID_RE.test(projectId) || !ID_RE.test(userId)) throw badRequest('Malformed user or project id in the credentials');
  if (urlProject !== undefined && urlProject !== projectId) throw forbidden(`Project ${urlProject} in the URL is not the caller's project`);
  return { userId, projectId, isAdmin: userId === 'admin' || projectId === 'admin' };
}

export const MIN_VERSION = '3.0';
export const MAX_VERSION = '3.70';

export interface Microversion {
  major: number;
  minor: number;
}

const parse = (v: string): Microversion | null => {
  const m = /^(\d+)\.(\d+)$/.exec(v);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
};

/** a >= b */
export function atLeast(a: Microversion, b: string): boolean {
  const bb = parse(b)!;
  return a.major > bb.major || (a.major === bb.major && a.minor >= bb.minor);
}

/**
 * The requested volume microversion (OpenStack-API-Version: volume X.Y, or
 * the legacy header). None: 3.0; `latest`: 3.70; malformed: 400; outside
 * 3.0..3.70: 406, as Cinder answers.
 */
export function microversionOf(request: FastifyRequest): Microversion {
  let raw: string | undefined;
  const h = header(request, 'openstack-api-version');
  if (h !== undefined) {
    const m = /^\s*volume\s+(\S+)\s*$/i.exec(h.split(',').find((p) => /^\s*volume\s/i.test(p)) ?? '');
    if (m) raw = m[1];
    else if (h.trim() !== '') throw badRequest(`Invalid OpenStack-API-Version header: ${h}`);
  }
  raw ??= header(request, 'x-openstack-volume-api-version');
  if (raw === undefined) return parse(MIN_VERSION)!;
  if (raw === 'latest') return parse(MAX_VERSION)!;
  const v = parse(raw);
  if (!v) throw badRequest(`API Version String ${raw} is of invalid format. Must be of format MajorNum.MinorNum.`);
  if (!atLeast(v, MIN_VERSION) || atLeast(v, '3.71')) {
    throw new ApiError(406, `Version ${raw} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`);
  }
  return v;
}
