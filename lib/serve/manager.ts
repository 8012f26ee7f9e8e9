/**
 * The manager: runs the driver/store behind the API and moves each record to
 * its final state exactly once.
 *
 * Exactly once: a record's pending operation belongs to the service whose
 * token is in its `claim`. The API writes that claim in the same statement
 * that makes the record transient (the insert, or the conditional update to
 * `deleting`, `extending`, …, whose `claim IS NULL` condition lets one
 * request win), then hands the operation to this manager with start(); a
 * record taken over from a dead service (takeOver) is owned the same way.
 * Any other worker claims with one conditional update from NULL to its token
 * while the record is in the expected transient status (`UPDATE … SET claim
 * = token WHERE id = ? AND status = 'creating' AND claim IS NULL`), which
 * fails on a claimed record. Two workers, in one process or in two service
 * processes sharing one PostgreSQL, cannot both own it; the loser does
 * nothing. The final update is again conditional on the claim, so a record
 * is moved to `available`/`error`/gone once.
 */
import { randomUUID } from 'node:crypto';

import type { Transaction } from 'kysely';

import type { RbdVolumeDriver } from '../cinder/driver';
import type { Volume } from '../cinder/types';
import { VolumeBackendAPIException, VolumeIsBusy } from '../cinder/errors';
import { ImageBusy } from '../errors';
import { InUseByStore, NotFound as StoreNotFound } from '../glance/errors';
import type { GlanceStore } from '../glance/store';
import { sleep } from '../internal/retry';
import type { Logger } from '../logger';
import type { Database, Db } from './db';
import type { ImageRow, SnapshotRow, VolumeRow } from './db/schema';
import { type Quotas, reservationOwner } from './quota';
import { driverVolumeType } from './volume-api/types';

export const nowIso = (): string => new Date().toISOString();

/** Why an operation failed, one line. */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

export interface ManagerDeps {
  db: Db;
  driver: RbdVolumeDriver;
  store: GlanceStore;
  quotas: Quotas;
  logger: Logger;
}

type Table = 'volumes' | 'snapshots' | 'images';

/**
 * Runs `fn` again while it fails because the image is busy, until `graceMs`
 * passed: after a crash the dead process's watch on an image lingers until
 * the OSDs time it out (osd_client_watch_timeout, 30 s by default).
 */
export async function whileBusy<T>(graceMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const busy = err instanceof VolumeIsBusy || err instanceof ImageBusy || (err instanceof Error && err.cause instanceof ImageBusy);
      if (!busy || Date.now() > deadline) throw err;
      await sleep(2000);
    }
  }
}

export class Manager {
  /** This process's claim token. */
  readonly token = `svc-${randomUUID()}`;
  /** Operations this manager took (claimed) and ones it left because another worker had them. */
  readonly stats = { claimed: 0, skipped: 0 };
  readonly #inflight = new Set<Promise<void>>();
  /** `table/id` of records claimed by this service (start(), takeOver()) whose operation has not started yet. */
  readonly #taken = new Set<string>();
  /** Image deletes running in this process, by image id (a second DELETE of the image waits for its own). */
  readonly #imageDeletes = new Map<string, Promise<void>>();
  #closed = false;

  constructor(private readonly deps: ManagerDeps) {}

  get db(): Db {
    return this.deps.db;
  }

  /**
   * Reconciliation: takes a record's pending operation over from its previous
   * owner (`from`: a dead service's token, or NULL) in one conditional update,
   * so two live services never both take it. The operation method called next
   * on the record (createVolume, deleteVolume, …) then runs without claiming
   * it again; finish() ends it like any claim.
   */
  async takeOver(table: Table, id: string, status: string, from: string | null): Promise<boolean> {
    const r = await this.deps.db
      .updateTable(table)
      .set({ claim: this.token, updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', '=', status)
      .where('claim', from === null ? 'is' : '=', from)
      .executeTakeFirst();
    const won = Number(r.numUpdatedRows) === 1;
    if (won) this.#taken.add(`${table}/${id}`);
    return won;
  }

  /**
   * Runs the operation of records the API has just made transient with
   * `claim` = this service's token, written in the statement that made them
   * (`owned`: table and id of each, the first the one `run` is for): the
   * operation is this service's from the moment the record is, so if the
   * service dies before `run` ends, a live one takes it over (takeOver) like
   * any claimed record. The operation methods `run` calls (createVolume, …)
   * then run under that claim without claiming again.
   */
  start(owned: Array<[Table, string]>, what: string, run: () => Promise<void>): void {
    for (const [table, id] of owned) this.#taken.add(`${table}/${id}`);
    this.spawn(what, run);
  }

  /**
   * The record's pending operation is this worker's: claimed by this service
   * (start(), takeOver()) and still so in the database, in `status`, or
   * claimed now from NULL. Each claim is used once: a second call for the
   * same record in this process claims from NULL and loses.
   */
  async #own(table: Table, id: string, status: string): Promise<boolean> {
    if (!this.#taken.delete(`${table}/${id}`)) return this.claim(table, id, status);
    // Still ours: another service may have taken it over meanwhile (this one stalled past its lease), or an admin reset it.
    const r = await this.deps.db.updateTable(table).set({ updated_at: nowIso() }).where('id', '=', id).where('status', '=', status).where('claim', '=', this.token).executeTakeFirst();
    const won = Number(r.numUpdatedRows) === 1;
    if (won) this.stats.claimed++;
    else this.stats.skipped++;
    return won;
  }

  /** Takes the record's pending operation; false when another worker has it or the status moved on. */
  async claim(table: Table, id: string, status: string): Promise<boolean> {
    const r = await this.deps.db
      .updateTable(table)
      .set({ claim: this.token, updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', '=', status)
      .where('claim', 'is', null)
      .executeTakeFirst();
    const won = Number(r.numUpdatedRows) === 1;
    if (won) this.stats.claimed++;
    else this.stats.skipped++;
    return won;
  }

  /**
   * Final state of a claimed record (and the claim dropped); false when the
   * claim was not ours. `also` runs in the same transaction, only when the
   * update won (e.g. the quota reservation of the operation is settled).
   */
  async finish(table: Table, id: string, set: Record<string, unknown>, also?: (trx: Transaction<Database>) => Promise<unknown>): Promise<boolean> {
    this.#taken.delete(`${table}/${id}`);
    const update = async (db: Db | Transaction<Database>): Promise<boolean> => {
      const r = await db
        .updateTable(table)
        .set({ ...set, claim: null, updated_at: nowIso() } as never)
        .where('id', '=', id)
        .where('claim', '=', this.token)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) === 1;
    };
    if (also === undefined) return update(this.deps.db);
    return this.deps.db.transaction().execute(async (trx) => {
      const won = await update(trx);
      if (won) await also(trx);
      return won;
    });
  }

  /**
   * Like start(), for an operation the request waits for: resolves or
   * rejects with `run`'s outcome (rejects at once when the manager is closed).
   */
  run(owned: Array<[Table, string]>, what: string, run: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new Error('the service is closing'));
        return;
      }
      for (const [table, id] of owned) this.#taken.add(`${table}/${id}`);
      this.spawn(what, () => run().then(resolve, reject));
    });
  }

  /** Runs `fn` in the background, tracked so close() can wait for it. */
  spawn(what: string, fn: () => Promise<void>): void {
    if (this.#closed) return;
    const p = fn()
      .catch((err: unknown) => this.deps.logger.error(`${what}: ${errorText(err)}`))
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  /** Waits for every running operation. */
  async drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.drain();
  }

  // ---- volumes ----------------------------------------------------------------------

  /** creating → available | error. */
  async createVolume(row: VolumeRow): Promise<void> {
    if (!(await this.#own('volumes', row.id, 'creating'))) return;
    const { driver, db } = this.deps;
    const volume = { id: row.id, size: row.size, volumeType: await driverVolumeType(db, row.volume_type_id) };
    try {
      let bootable = 0;
      if (row.snapshot_id !== null) {
        const snap = await db.selectFrom('snapshots').selectAll().where('id', '=', row.snapshot_id).executeTakeFirstOrThrow();
        await driver.createVolumeFromSnapshot(volume, { id: snap.id, volumeId: snap.volume_id });
      } else if (row.source_volid !== null) {
        const src = await db.selectFrom('volumes').selectAll().where('id', '=', row.source_volid).executeTakeFirstOrThrow();
        await driver.createClonedVolume(volume, { id: src.id, size: src.size });
      } else if (row.image_id !== null) {
        await this.#volumeFromImage(volume, row.image_id);
        bootable = 1;
      } else {
        await driver.createVolume(volume);
      }
      await this.finish('volumes', row.id, { status: 'available', bootable, error: null });
    } catch (err) {
      this.deps.logger.error(`create volume ${row.id}: ${errorText(err)}`);
      await this.finish('volumes', row.id, { status: 'error', error: errorText(err) });
    }
  }

  /** A copy-on-write clone of the image's snapshot when the driver can, else a copy of its data. */
  async #volumeFromImage(volume: Volume, imageId: string): Promise<void> {
    const image = await this.deps.db.selectFrom('images').selectAll().where('id', '=', imageId).executeTakeFirstOrThrow();
    if (image.status !== 'active' || image.location === null) throw new VolumeBackendAPIException(`Image ${imageId} is not active`);
    const meta = { id: image.id, disk_format: image.disk_format ?? 'raw', container_format: image.container_format ?? 'bare', size: Number(image.size ?? 0) };
    const cloned = await this.deps.driver.cloneImage(volume, [image.location, [{ url: image.location }]], meta);
    if (cloned.cloned) return;
    this.deps.logger.info(`image ${imageId} not cloneable (${cloned.reason}): copying its data`);
    await this.deps.driver.copyImageToVolume(volume, this.deps.store, image.location, meta);
  }

  /** deleting → gone | error_deleting; the quota usage is given back with the record. `graceMs`: retry while busy (whileBusy). */
  async deleteVolume(row: VolumeRow, graceMs = 0): Promise<void> {
    if (!(await this.#own('volumes', row.id, 'deleting'))) return;
    try {
      await whileBusy(graceMs, () => this.deps.driver.deleteVolume(row.id));
      await this.deps.db.transaction().execute(async (trx) => {
        const r = await trx.deleteFrom('volumes').where('id', '=', row.id).where('claim', '=', this.token).executeTakeFirst();
        if (Number(r.numDeletedRows) === 1) await this.deps.quotas.release(trx, row.project_id, { volumes: 1, gigabytes: row.size });
      });
    } catch (err) {
      this.deps.logger.error(`delete volume ${row.id}: ${errorText(err)}`);
      await this.finish('volumes', row.id, { status: 'error_deleting', error: errorText(err) });
    }
  }

  /** extending → available (size grown, reservation committed) | error_extending (rolled back). The reservation is the volume's (reservationOwner). */
  async extendVolume(row: VolumeRow, newSize: number): Promise<void> {
    if (!(await this.#own('volumes', row.id, 'extending'))) return;
    const owner = reservationOwner('volumes', row.id);
    try {
      await this.deps.driver.extendVolume({ id: row.id, size: row.size }, newSize);
      await this.finish('volumes', row.id, { status: 'available', size: newSize }, (trx) => this.deps.quotas.settleOwned(trx, owner, true));
    } catch (err) {
      this.deps.logger.error(`extend volume ${row.id}: ${errorText(err)}`);
      await this.finish('volumes', row.id, { status: 'error_extending', error: errorText(err) }, (trx) => this.deps.quotas.settleOwned(trx, owner, false));
    }
  }

  /** reverting → available | error (Cinder leaves a failed revert's volume in error). */
  async revertVolume(row: VolumeRow, snap: SnapshotRow): Promise<void> {
    if (!(await this.#own('volumes', row.id, 'reverting'))) return;
    try {
      await this.deps.driver.revertToSnapshot(row.id, { id: snap.id, volumeId: row.id });
      await this.finish('volumes', row.id, { status: 'available', error: null });
    } catch (err) {
      this.deps.logger.error(`revert volume ${row.id}: ${errorText(err)}`);
      await this.finish('volumes', row.id, { status: 'error', error: errorText(err) });
    }
  }

  // ---- snapshots --------------------------------------------------------------------

  async createSnapshot(row: SnapshotRow): Promise<void> {
    if (!(await this.#own('snapshots', row.id, 'creating'))) return;
    try {
      await this.deps.driver.createSnapshot({ id: row.id, volumeId: row.volume_id });
      await this.finish('snapshots', row.id, { status: 'available', error: null });
    } catch (err) {
      this.deps.logger.error(`create snapshot ${row.id}: ${errorText(err)}`);
      await this.finish('snapshots', row.id, { status: 'error', error: errorText(err) });
    }
  }

  async deleteSnapshot(row: SnapshotRow, graceMs = 0): Promise<void> {
    if (!(await this.#own('snapshots', row.id, 'deleting'))) return;
    try {
      await whileBusy(graceMs, () => this.deps.driver.deleteSnapshot({ id: row.id, volumeId: row.volume_id }));
      await this.deps.db.transaction().execute(async (trx) => {
        const r = await trx.deleteFrom('snapshots').where('id', '=', row.id).where('claim', '=', this.token).executeTakeFirst();
        if (Number(r.numDeletedRows) === 1) await this.deps.quotas.release(trx, row.project_id, { snapshots: 1 });
      });
    } catch (err) {
      this.deps.logger.error(`delete snapshot ${row.id}: ${errorText(err)}`);
      await this.finish('snapshots', row.id, { status: 'error_deleting', error: errorText(err) });
    }
  }

  // ---- images -----------------------------------------------------------------------

  /**
   * pending_delete → gone: the image's data is deleted through the store,
   * then the record (the quota usage given back with it). The record is in
   * `pending_delete`, claimed, while the store delete runs, so a crash leaves
   * it to reconciliation or a live service's takeover, which run this again
   * (a missing image is fine). InUseByStore (the snapshot has clones, the
   * image is open elsewhere: nothing of its data removed) puts it back to
   * `active`; any other failure leaves it `pending_delete`, unclaimed, for a
   * later DELETE or start to finish. Rejects with the store's error.
   * `graceMs`: retry while busy (whileBusy).
   */
  deleteImage(row: ImageRow, graceMs = 0): Promise<void> {
    const p = this.#deleteImage(row, graceMs).finally(() => {
      if (this.#imageDeletes.get(row.id) === p) this.#imageDeletes.delete(row.id);
    });
    this.#imageDeletes.set(row.id, p);
    return p;
  }

  /** The delete of image `id` running in this process, if any (deleteImage). */
  imageDelete(id: string): Promise<void> | undefined {
    return this.#imageDeletes.get(id);
  }

  async #deleteImage(row: ImageRow, graceMs: number): Promise<void> {
    if (!(await this.#own('images', row.id, 'pending_delete'))) return;
    if (row.location !== null) {
      const location = row.location;
      try {
        await whileBusy(graceMs, () => this.deps.store.delete(location));
      } catch (err) {
        if (!(err instanceof StoreNotFound)) {
          this.deps.logger.error(`delete image ${row.id}: ${errorText(err)}`);
          await this.finish('images', row.id, err instanceof InUseByStore ? { status: 'active' } : {});
          throw err;
        }
      }
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const r = await trx.deleteFrom('images').where('id', '=', row.id).where('claim', '=', this.token).executeTakeFirst();
      if (Number(r.numDeletedRows) === 1) await this.deps.quotas.release(trx, row.owner, { images: 1 });
    });
  }

  /** Volume (status uploading) → image (status saving): raw or qcow2 through the driver. */
  async uploadVolumeToImage(volume: VolumeRow, image: ImageRow): Promise<void> {
    // The volume (uploading) is claimed with the image: if the service dies, a live one takes both over.
    if (!(await this.#own('images', image.id, 'saving'))) return;
    try {
      const stored = await this.deps.driver.copyVolumeToImage({ id: volume.id, size: volume.size }, this.deps.store, image.id, {
        id: image.id,
        disk_format: image.disk_format ?? 'raw',
        container_format: image.container_format ?? 'bare',
      });
      const done = await this.finish('images', image.id, {
        status: 'active',
        size: stored.size,
        checksum: stored.checksum ?? null,
        os_hash_algo: stored.multihash ? this.deps.store.hashAlgo : null,
        os_hash_value: stored.multihash ?? null,
        location: stored.location,
        virtual_size: volume.size * 2 ** 30,
      });
      // The record went away meanwhile (deleted while saving): remove the data again.
      if (!done) await this.deps.store.delete(stored.location).catch(() => undefined);
    } catch (err) {
      this.deps.logger.error(`upload volume ${volume.id} to image ${image.id}: ${errorText(err)}`);
      await this.finish('images', image.id, { status: 'killed' });
    } finally {
      await this.deps.db
        .updateTable('volumes')
        .set({ status: 'available', claim: null, updated_at: nowIso() })
        .where('id', '=', volume.id)
        .where('status', '=', 'uploading')
        .where((eb) => eb.or([eb('claim', '=', this.token), eb('claim', 'is', null)]))
        .execute();
    }
  }
}
