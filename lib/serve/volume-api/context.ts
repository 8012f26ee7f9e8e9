/** What the volume API's route files share. */
import type { FastifyRequest } from 'fastify';

import type { Caller, Microversion } from '../context';
import type { Db } from '../db';
import { badRequest } from '../errors';
import type { Manager } from '../manager';
import type { Quotas } from '../quota';

export interface VolumeApi {
  db: Db;
  manager: Manager;
  quotas: Quotas;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
    microversion: Microversion;
  }
}

export interface ProjectParams {
  project_id: string;
}
export interface IdParams extends ProjectParams {
  id: string;
}

/** Scheme://host:port the client used (links point back there). */
export function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? request.hostname}`;
}

export interface Page {
  limit: number | undefined;
  marker: string | undefined;
  sort: Array<{ key: string; dir: 'asc' | 'desc' }>;
  filters: Record<string, string>;
}

const SORT_KEYS = new Set(['created_at', 'updated_at', 'id', 'name', 'status', 'size']);
/** The largest page the API returns (osapi_max_limit). */
export const MAX_LIMIT = 1000;

/** limit, marker, sort (`k1:dir,k2`) or sort_key/sort_dir, and the remaining keys as filters. */
export function pageOf(query: Record<string, string | string[] | undefined>): Page {
  const one = (k: string): string | undefined => {
    const v = query[k];
    return Array.isArray(v) ? v[v.length - 1] : v;
  };
  let limit: number | undefined;
  const l = one('limit');
  if (l !== undefined) {
    if (!/^\d+$/.test(l)) throw badRequest(`Invalid input received: limit must be a non-negative integer, got '${l}'`);
    limit = Math.min(Number(l), MAX_LIMIT);
  }
  const sort: Page['sort'] = [];
  const s = one('sort') ?? (one('sort_key') !== undefined ? `${one('sort_key')}:${one('sort_dir') ?? 'desc'}` : undefined);
  for (const part of (s ?? '').split(',').filter((p) => p !== '')) {
    const [given, dir = 'desc'] = part.split(':');
    // cinderclient sends the legacy names of some keys.
    const key = given === 'display_name' ? 'name' : given;
    if (!SORT_KEYS.has(key) || (dir !== 'asc' && dir !== 'desc')) throw badRequest(`Invalid input received: Invalid sort key or direction: ${part}`);
    sort.push({ key, dir });
  }
  if (!sort.some((k) => k.key === 'id')) sort.push(...(sort.length === 0 ? [{ key: 'created_at', dir: 'desc' as const }] : []), { key: 'id', dir: 'desc' });
  const filters: Record<string, string> = {};
  for (const k of Object.keys(query)) {
    if (['limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'offset', 'with_count'].includes(k)) continue;
    const v = one(k);
    if (v !== undefined) filters[k] = v;
  }
  return { limit, marker: one('marker'), sort, filters };
}
