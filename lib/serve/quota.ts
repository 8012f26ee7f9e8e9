/**
 * Per-project quotas with reservations, as Cinder's QUOTAS engine keeps them:
 * reserve() checks `in_use + reserved + delta <= limit` and books the delta
 * as reserved (one reservation id over one or more resources); commit()
 * moves it to in_use, rollback() drops it; release() gives usage back when a
 * resource is destroyed. Every step is one transaction. A reservation left
 * open past its transaction (an extend's, until the worker has resized) has
 * an owner, the record it is for (reservationOwner()): whoever finishes that
 * record's operation, its worker or a service that took it over, settles it
 * with settleOwned() in the transaction of the record's final update.
 */
import { randomUUID } from 'node:crypto';

import type { Transaction } from 'kysely';

import type { Database, Db } from './db';
import { overLimit } from './errors';

export const RESOURCES = ['volumes', 'gigabytes', 'snapshots', 'images'] as const;
export type Resource = (typeof RESOURCES)[number];

/** Default limits (Cinder's defaults for volumes/gigabytes/snapshots; Glance's image_count_total-like cap). -1 = unlimited. */
export const DEFAULT_QUOTAS: Readonly<Record<Resource, number>> = { volumes: 10, gigabytes: 1000, snapshots: 10, images: 100 };

export type Deltas = Partial<Record<Resource, number>>;

type Trx = Transaction<Database>;

/** The owner written on the reservations of a record's operation: `table/id`. */
export function reservationOwner(table: 'volumes' | 'snapshots' | 'images', id: string): string {
  return `${table}/${id}`;
}

export class Quotas {
  constructor(
    private readonly db: Db,
    private readonly defaults: Record<Resource, number>,
  ) {}

  /** The default limits. */
  defaultLimits(): Record<Resource, number> {
    return { ...this.defaults };
  }

  async limits(projectId: string, trx: Trx | Db = this.db): Promise<Record<Resource, number>> {
    const rows = await trx.selectFrom('quotas').selectAll().where('project_id', '=', projectId).execute();
    const out = { ...this.defaults };
    for (const r of rows) if ((RESOURCES as readonly string[]).includes(r.resource)) out[r.resource as Resource] = Number(r.hard_limit);
    return out;
  }

  async usage(projectId: string, trx: Trx | Db = this.db): Promise<Record<Resource, { in_use: number; reserved: number }>> {
    const rows = await trx.selectFrom('quota_usages').selectAll().where('project_id', '=', projectId).execute();
    const out = Object.fromEntries(RESOURCES.map((r) => [r, { in_use: 0, reserved: 0 }])) as Record<Resource, { in_use: number; reserved: number }>;
    for (const r of rows) if (r.resource in out) out[r.resource as Resource] = { in_use: Number(r.in_use), reserved: Number(r.reserved) };
    return out;
  }

  async setLimit(projectId: string, resource: Resource, limit: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('quotas').where('project_id', '=', projectId).where('resource', '=', resource).execute();
      await trx.insertInto('quotas').values({ project_id: projectId, resource, hard_limit: limit }).execute();
    });
  }

  /** Back to the defaults. */
  async resetLimits(projectId: string): Promise<void> {
    await this.db.deleteFrom('quotas').where('project_id', '=', projectId).execute();
  }

  async #bump(trx: Trx, projectId: string, resource: string, field: 'in_use' | 'reserved', delta: number): Promise<void> {
    const r = await trx
      .updateTable('quota_usages')
      .set((eb) => ({ [field]: eb(field, '+', delta) }))
      .where('project_id', '=', projectId)
      .where('resource', '=', resource)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      await trx
        .insertInto('quota_usages')
        .values({ project_id: projectId, resource, in_use: field === 'in_use' ? delta : 0, reserved: field === 'reserved' ? delta : 0 })
        .execute();
    }
  }

  /**
   * Books `deltas` for the project inside `trx`; 413 overLimit (nothing
   * booked) when one would exceed its limit. Returns the reservation id.
   * `owner` (reservationOwner()): the record it is for, when it stays open
   * after `trx`.
   */
  async reserve(trx: Trx, projectId: string, deltas: Deltas, owner: string | null = null): Promise<string> {
    const limits = await this.limits(projectId, trx);
    const usage = await this.usage(projectId, trx);
    for (const [res, delta] of Object.entries(deltas) as Array<[Resource, number]>) {
      const limit = limits[res];
      if (delta > 0 && limit >= 0 && usage[res].in_use + usage[res].reserved + delta > limit) {
        const what = res === 'gigabytes' ? `${delta}G of storage` : `${delta} ${res}`;
        throw overLimit(
          `${res === 'gigabytes' ? 'Requested volume or snapshot exceeds allowed gigabytes quota' : `Maximum number of ${res} allowed (${limit}) exceeded`}: requested ${what}, already used ${usage[res].in_use} of ${limit} (${usage[res].reserved} reserved) in project ${projectId}`,
        );
      }
    }
    const id = randomUUID();
    const now = new Date().toISOString();
    for (const [res, delta] of Object.entries(deltas) as Array<[Resource, number]>) {
      if (!delta) continue;
      await trx.insertInto('reservations').values({ id, project_id: projectId, resource: res, delta, owner, created_at: now }).execute();
      await this.#bump(trx, projectId, res, 'reserved', delta);
    }
    return id;
  }

  async #settle(trx: Trx, reservationId: string, commit: boolean): Promise<void> {
    const rows = await trx.selectFrom('reservations').selectAll().where('id', '=', reservationId).execute();
    for (const r of rows) {
      await this.#bump(trx, r.project_id, r.resource, 'reserved', -Number(r.delta));
      if (commit) await this.#bump(trx, r.project_id, r.resource, 'in_use', Number(r.delta));
    }
    await trx.deleteFrom('reservations').where('id', '=', reservationId).execute();
  }

  /** Reserved → in use. A reservation already settled is a no-op (exactly once). */
  commit(trx: Trx, reservationId: string): Promise<void> {
    return this.#settle(trx, reservationId, true);
  }

  /** Drops the reservation. A reservation already settled is a no-op. */
  rollback(trx: Trx, reservationId: string): Promise<void> {
    return this.#settle(trx, reservationId, false);
  }

  /** Commits (`commit`) or rolls back every open reservation of `owner`; how many. */
  async settleOwned(trx: Trx, owner: string, commit: boolean): Promise<number> {
    const ids = await trx.selectFrom('reservations').select('id').distinct().where('owner', '=', owner).execute();
    for (const { id } of ids) await this.#settle(trx, id, commit);
    return ids.length;
  }

  /** Gives back usage of destroyed resources. */
  async release(trx: Trx, projectId: string, deltas: Deltas): Promise<void> {
    for (const [res, delta] of Object.entries(deltas) as Array<[Resource, number]>) if (delta) await this.#bump(trx, projectId, res, 'in_use', -delta);
  }
}
