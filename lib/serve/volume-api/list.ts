/** List queries with filters, sort and marker/limit pagination (Cinder's _get_query_with_sort). */
import type { FastifyRequest } from 'fastify';
import type { Selectable, SelectQueryBuilder } from 'kysely';

import type { Db } from '../db';
import type { Database } from '../db/schema';
import { badRequest, notFound } from '../errors';
import { baseUrl, type Page, pageOf } from './context';

type Row = { id: string; created_at: string };

/**
 * Applies `page` to a query over `table`. The marker must be a record the
 * caller can see (404 otherwise, as Cinder's MarkerNotFound); the rows after
 * it in the sort order follow. `allowed` lists the filter keys honoured.
 */
export async function applyPage<T extends 'volumes' | 'snapshots', O extends Row>(
  query: SelectQueryBuilder<Database, T, O>,
  page: Page,
  allowed: readonly string[],
  markerRow: (id: string) => Promise<Record<string, unknown> | undefined>,
): Promise<SelectQueryBuilder<Database, T, O>> {
  let q = query;
  for (const [k, v] of Object.entries(page.filters)) {
    if (!allowed.includes(k)) continue;
    q = q.where(k as never, '=', (k === 'size' ? Number(v) : v) as never);
  }
  if (page.marker !== undefined) {
    const m = await markerRow(page.marker);
    if (!m) throw notFound(`Marker ${page.marker} could not be found.`);
    // Keyset condition over the sort keys: (k1 > m1) or (k1 = m1 and k2 > m2) …
    q = q.where((eb) =>
      eb.or(
        page.sort.map((_, i) =>
          eb.and([
            ...page.sort.slice(0, i).map((s) => eb(s.key as never, '=', m[s.key] as never)),
            eb(page.sort[i].key as never, page.sort[i].dir === 'asc' ? '>' : '<', m[page.sort[i].key] as never),
          ]),
        ),
      ),
    );
  }
  for (const s of page.sort) q = q.orderBy(s.key as never, s.dir);
  if (page.limit !== undefined) q = q.limit(page.limit);
  return q;
}

export function checkFilterValue(key: string, value: string): void {
  if (key === 'size' && !/^\d+$/.test(value)) throw badRequest(`Invalid input received: size filter must be an integer, got '${value}'`);
}

/** One list page of a project's volumes or snapshots: the rows, and the `<collection>_links` next link when the page is full. */
export async function listPage<T extends 'volumes' | 'snapshots'>(
  db: Db,
  table: T,
  request: FastifyRequest<{ Querystring: Record<string, string> }>,
  project: string,
  detail: boolean,
  allowed: readonly string[],
): Promise<{ rows: Array<Selectable<Database[T]>>; links: Record<string, unknown> }> {
  const page = pageOf(request.query);
  for (const [k, v] of Object.entries(page.filters)) checkFilterValue(k, v);
  // One generic query for both tables: Kysely cannot narrow a table union, hence the casts.
  const rowsOf = () => db.selectFrom(table as 'volumes').selectAll().where('project_id', '=', project);
  const query = await applyPage(rowsOf(), page, allowed, (id) => rowsOf().where('id', '=', id).executeTakeFirst());
  const rows = (await query.execute()) as unknown as Array<Selectable<Database[T]>>;
  const links: Record<string, unknown> = {};
  if (page.limit !== undefined && rows.length === page.limit && rows.length > 0) {
    const qs = new URLSearchParams({ ...request.query, marker: (rows[rows.length - 1] as { id: string }).id });
    links[`${table}_links`] = [{ rel: 'next', href: `${baseUrl(request)}/v3/${project}/${table}${detail ? '/detail' : ''}?${qs.toString()}` }];
  }
  return { rows, links };
}
