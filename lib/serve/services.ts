/**
 * The `services` table: one row per running service (its manager's claim
 * token, host and pid for operators, a heartbeat). A service writes its row
 * at start, refreshes the heartbeat every `heartbeatMs` and removes the row
 * on a clean close. A claim whose owner has no row, or a row whose heartbeat
 * is older than `leaseMs`, belongs to a dead service: the live services take
 * its records over (reconciliation, lib/serve/reconcile.ts) and delete the
 * stale row (docs/DESIGN.md#d23-the-serve-command-records-claims-and-reconciliation).
 *
 * Heartbeats and the lease check use the database's clock (one clock for all
 * services, whatever their hosts' clocks say), in milliseconds since the epoch.
 */
import { hostname } from 'node:os';

import { type RawBuilder, sql } from 'kysely';

import type { Logger } from '../logger';
import { outOfRange } from '../validate';
import type { Db } from './db';
import { errorText } from './manager';

export interface ServiceLease {
  /** How often the heartbeat is written and dead owners are looked for. Default 5000. */
  heartbeatMs?: number;
  /** A service whose heartbeat is older than this is dead. Default 3 × heartbeatMs. */
  leaseMs?: number;
}

export const DEFAULT_HEARTBEAT_MS = 5000;

/** The validated intervals: heartbeat ≥ 100 ms, lease > heartbeat. */
export function leaseOptions(o: ServiceLease): Required<ServiceLease> {
  const heartbeatMs = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (!Number.isSafeInteger(heartbeatMs) || heartbeatMs < 100) throw outOfRange('options.heartbeatMs', 'an integer >= 100', heartbeatMs);
  const leaseMs = o.leaseMs ?? 3 * heartbeatMs;
  if (!Number.isSafeInteger(leaseMs) || leaseMs <= heartbeatMs) throw outOfRange('options.leaseMs', `an integer > heartbeatMs (${heartbeatMs})`, leaseMs);
  return { heartbeatMs, leaseMs };
}

/** The database's current time in milliseconds since the epoch. */
function dbNow(kind: 'sqlite' | 'postgres'): RawBuilder<number> {
  return kind === 'postgres'
    ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
    : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
}

const TABLES = ['volumes', 'snapshots', 'images'] as const;

export class ServiceRegistry {
  readonly #db: Db;
  readonly #now: RawBuilder<number>;
  readonly #lease: Required<ServiceLease>;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #takingOver = true;

  constructor(
    db: Db,
    kind: 'sqlite' | 'postgres',
    readonly token: string,
    lease: Required<ServiceLease>,
    private readonly logger: Logger,
  ) {
    this.#db = db;
    this.#now = dbNow(kind);
    this.#lease = lease;
  }

  /** Writes this service's row. */
  async register(): Promise<void> {
    await this.#db
      .insertInto('services')
      .values({ token: this.token, host: hostname(), pid: process.pid, started_at: this.#now, heartbeat_at: this.#now })
      .execute();
  }

  /** Refreshes the heartbeat; writes the row again when another service removed it as stale. */
  async beat(): Promise<void> {
    const r = await this.#db.updateTable('services').set({ heartbeat_at: this.#now }).where('token', '=', this.token).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return;
    this.logger.warn(`service ${this.token}: its row was removed as stale (heartbeat older than ${this.#lease.leaseMs} ms): registered again; its claims may have been taken over`);
    await this.register();
  }

  /** Tokens of claims on transient records whose owner is dead: no row, or a heartbeat older than the lease. Never this service's. */
  async deadOwners(): Promise<string[]> {
    const owners = new Set<string>();
    const live = this.#db.selectFrom('services').select('token').where('heartbeat_at', '>=', sql<number>`${this.#now} - ${this.#lease.leaseMs}`);
    for (const table of TABLES) {
      const rows = await this.#db
        .selectFrom(table)
        .select('claim')
        .distinct()
        .where('claim', 'is not', null)
        .where('claim', '!=', this.token)
        .where('claim', 'not in', live)
        .execute();
      for (const r of rows) owners.add(r.claim!);
    }
    return [...owners];
  }

  /** Deletes the rows of dead services (heartbeat older than the lease); how many. */
  async forgetStale(): Promise<number> {
    const r = await this.#db
      .deleteFrom('services')
      .where('token', '!=', this.token)
      .where('heartbeat_at', '<', sql<number>`${this.#now} - ${this.#lease.leaseMs}`)
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * Every heartbeatMs: the heartbeat, then `takeOver(dead owners)` when there
   * are any, then stale rows are deleted. One tick at a time.
   */
  start(takeOver: (owners: string[]) => Promise<void>): void {
    const tick = async (): Promise<void> => {
      await this.beat();
      if (!this.#takingOver) return;
      const dead = await this.deadOwners();
      if (dead.length > 0) {
        this.logger.info(`claims of dead services taken over: ${dead.join(', ')}`);
        await takeOver(dead);
      }
      const gone = await this.forgetStale();
      if (gone > 0) this.logger.info(`${gone} stale service row(s) removed`);
    };
    this.#timer = setInterval(() => {
      if (this.#tick !== undefined) return;
      this.#tick = tick()
        .catch((err: unknown) => this.logger.warn(`service heartbeat: ${errorText(err)}`))
        .finally(() => (this.#tick = undefined));
    }, this.#lease.heartbeatMs);
    this.#timer.unref();
  }

  /** Closing: keeps the heartbeat (running operations keep their claims) but takes nothing over. */
  stopTakingOver(): void {
    this.#takingOver = false;
  }

  /** Stops the heartbeat and removes this service's row. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#tick;
    await this.#db.deleteFrom('services').where('token', '=', this.token).execute();
  }
}
