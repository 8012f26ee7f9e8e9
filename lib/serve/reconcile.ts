/**
 * Start-up reconciliation (Cinder's init_host idea): records left in a
 * transient status by a process that died are brought in line with what the
 * pools really hold, so no record points at nothing and nothing is left in a
 * pool that no record points at.
 *
 *   volume creating   image there at full size → available; else what was
 *                     made is removed and the create runs again
 *   volume deleting   the delete runs again (a missing image is fine)
 *   volume extending  → available at the size the image really has; the
 *                     extend's reservation (owned by the volume) committed
 *                     if the image grew, else rolled back
 *   volume reverting  → error (the data may be half reverted)
 *   volume uploading  → available (its image is handled below)
 *   snapshot creating snapshot there → available; else the create runs again
 *   snapshot deleting the delete runs again
 *   image saving      → killed; partial uploads are swept from the image pool,
 *                     a name librbd left half-made (an upload killed
 *                     inside rbd_create: listed, no header) is removed, and
 *                     so is a complete image (snapshot there: the upload
 *                     ended but the record was never set active)
 *   image pending_delete the delete runs again: the store's delete of its
 *                     data (a missing image is fine), then the record
 *
 * Status fixes happen before the service listens; the driver work (deletes,
 * re-creates, sweeping) runs in the background through the manager, retried
 * while the dead process's watch on an image lingers (BUSY_GRACE_MS).
 *
 * Which records: with SQLite (one service) every transient record, whoever
 * claimed it. With PostgreSQL, other live services may be working: at start
 * the unclaimed ones and those claimed by dead services, then, every
 * heartbeat, those claimed by services that died since (lib/serve/services.ts).
 * Each record is taken over with one conditional update (its claim from the
 * dead owner's token to this service's), so two live services never both
 * take it (docs/DESIGN.md#d23-the-serve-command-records-claims-and-reconciliation).
 */
import { VolumeNotFound, SnapshotNotFound } from '../cinder/errors';
import type { RbdVolumeDriver } from '../cinder/driver';
import { NotFound as StoreNotFound } from '../glance/errors';
import type { GlanceStore } from '../glance/store';
import { sleep } from '../internal/retry';
import type { Logger } from '../logger';
import type { Db } from './db';
import type { ImageRow, SnapshotRow, VolumeRow } from './db/schema';
import { errorText, type Manager, whileBusy } from './manager';
import { type Quotas, reservationOwner } from './quota';

export interface ReconcileReport {
  volumes: Record<string, number>;
  snapshots: Record<string, number>;
  imagesKilled: number;
  /** Interrupted image deletes run again (data, then record). */
  imagesDeleted: number;
  /** Partial uploads, half-made names and complete images of killed uploads removed from the image pool. */
  swept: number;
  reservationsRolledBack: number;
}

export interface ReconcileDeps {
  db: Db;
  driver: RbdVolumeDriver;
  store: GlanceStore;
  quotas: Quotas;
  logger: Logger;
  manager: Manager;
  /**
   * 'all': every transient record, whoever claimed it (this service is alone on
   * its database; open reservations are rolled back too). Else the unclaimed
   * records (`unclaimed`) and those claimed by `owners` (dead services' tokens).
   */
  take: 'all' | { unclaimed: boolean; owners: string[] };
  /** Start-up: the store's sweep runs for every killed image, even when none was killed now. */
  atStart: boolean;
}

/** How long reconciliation retries an image a dead process still watches (osd_client_watch_timeout is 30 s). */
export const BUSY_GRACE_MS = 120_000;

const count = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1;
};

async function volumeSize(driver: RbdVolumeDriver, id: string): Promise<number | null> {
  try {
    return (await driver.getVolume(id)).size;
  } catch (err) {
    if (err instanceof VolumeNotFound) return null;
    throw err;
  }
}

/** The transient records of `table` this run takes (see ReconcileDeps.take); none when it takes nothing. */
async function pending<R extends VolumeRow | SnapshotRow | ImageRow>(d: ReconcileDeps, table: 'volumes' | 'snapshots' | 'images', statuses: string[]): Promise<R[]> {
  const take = d.take;
  if (take !== 'all' && !take.unclaimed && take.owners.length === 0) return [];
  let q = d.db.selectFrom(table as 'volumes').selectAll().where('status', 'in', statuses);
  if (take !== 'all') {
    q = q.where((eb) => eb.or([...(take.unclaimed ? [eb('claim', 'is', null)] : []), ...(take.owners.length > 0 ? [eb('claim', 'in', take.owners)] : [])]));
  }
  return (await q.execute()) as unknown as R[];
}

async function reconcileVolumes(d: ReconcileDeps, report: ReconcileReport): Promise<void> {
  const m = d.manager;
  for (const row of await pending<VolumeRow>(d, 'volumes', ['creating', 'deleting', 'extending', 'reverting', 'uploading'])) {
    if (!(await m.takeOver('volumes', row.id, row.status, row.claim))) continue;
    count(report.volumes, row.status);
    // The image's size, read only where the outcome depends on it (deletes and reverts do not open the image here).
    const size = (): Promise<number | null> => volumeSize(d.driver, row.id);
    const empty = row.snapshot_id === null && row.source_volid === null && row.image_id === null;
    switch (row.status) {
      case 'creating': {
        // Only an empty volume is whole once its image exists at full size: one
        // with a source (image copy, clone, snapshot) may hold part of its data.
        const now = empty ? await size() : null;
        if (now !== null && now >= row.size) {
          await m.finish('volumes', row.id, { status: 'available' });
        } else {
          m.spawn(`reconcile: create volume ${row.id} again`, async () => {
            // Also when it cannot be opened: a create killed inside librbd leaves a name without a header (deleteVolume clears it).
            await whileBusy(BUSY_GRACE_MS, () => d.driver.deleteVolume(row.id));
            await m.createVolume(row);
          });
        }
        break;
      }
      case 'deleting':
        m.spawn(`reconcile: delete volume ${row.id}`, () => m.deleteVolume(row, BUSY_GRACE_MS));
        break;
      case 'extending': {
        // The resize may have run before the owner died: the image's size says whether the reservation is used.
        const now = await size();
        const grew = now !== null && now > row.size;
        await m.finish('volumes', row.id, { status: now === null ? 'error' : 'available', size: now ?? row.size }, (trx) =>
          d.quotas.settleOwned(trx, reservationOwner('volumes', row.id), grew),
        );
        break;
      }
      case 'reverting':
        await m.finish('volumes', row.id, { status: 'error', error: 'revert interrupted by a service restart' });
        break;
      default:
        await m.finish('volumes', row.id, { status: (await size()) === null ? 'error' : 'available' });
    }
  }
}

async function reconcileSnapshots(d: ReconcileDeps, report: ReconcileReport): Promise<void> {
  const m = d.manager;
  for (const row of await pending<SnapshotRow>(d, 'snapshots', ['creating', 'deleting'])) {
    if (!(await m.takeOver('snapshots', row.id, row.status, row.claim))) continue;
    count(report.snapshots, row.status);
    if (row.status === 'deleting') {
      m.spawn(`reconcile: delete snapshot ${row.id}`, () => m.deleteSnapshot(row, BUSY_GRACE_MS));
      continue;
    }
    let exists = true;
    try {
      await d.driver.getSnapshot(row.volume_id, row.id);
    } catch (err) {
      if (!(err instanceof SnapshotNotFound || err instanceof VolumeNotFound)) throw err;
      exists = false;
    }
    if (exists) await m.finish('snapshots', row.id, { status: 'available' });
    else m.spawn(`reconcile: create snapshot ${row.id} again`, () => m.createSnapshot(row));
  }
}

/**
 * Removes what killed uploads left (an image without its snapshot, marked by
 * the store) until none of `ids` is left or BUSY_GRACE_MS passed: the sweeper
 * skips images with a watcher, and a dead uploader's watch lingers a while.
 */
async function sweepUntilGone(d: ReconcileDeps, ids: Set<string>, report: ReconcileReport): Promise<void> {
  const deadline = Date.now() + BUSY_GRACE_MS;
  for (;;) {
    const swept = await d.store.sweep({ olderThanMs: 0 });
    report.swept += swept.images.filter((i) => i.removed).length;
    const left = [...swept.busy, ...swept.images.filter((i) => !i.removed).map((i) => i.image)].filter((n) => ids.has(n));
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      d.logger.warn(`reconcile: partial uploads still busy, left for the next start: ${left.join(', ')}`);
      return;
    }
    await sleep(3000);
  }
}

/**
 * Removes the names of killed uploads that librbd left half-made: the sweep
 * cannot open them to read their upload mark, so it skips them, and a new
 * upload of that id would be Duplicate. An image that opens is the sweep's.
 * A failure is logged; the next start tries again (the ids are all killed images).
 */
async function removeHalfMade(d: ReconcileDeps, ids: Set<string>, report: ReconcileReport): Promise<void> {
  try {
    const removed = await d.store.removeHalfMade([...ids]);
    report.swept += removed.length;
    for (const id of removed) d.logger.info(`reconcile: removed the half-made name ${d.store.pool}/${id} of killed image ${id}`);
  } catch (err) {
    d.logger.warn(`reconcile: half-made names of killed uploads not checked, left for the next start: ${errorText(err)}`);
  }
}

/**
 * Deletes, through the store, the complete images of killed records: an
 * upload that ended (snapshot protected, upload mark removed) in a process
 * that died before setting the record `active`. Neither the record nor the
 * image holds the size and checksums the upload computed, so the record
 * cannot be completed honestly; the sweep does not take an image with its
 * snapshot. A failure is logged; the next start tries again.
 */
async function removeComplete(d: ReconcileDeps, ids: Set<string>, report: ReconcileReport): Promise<void> {
  for (const id of ids) {
    try {
      const { location } = await d.store.stat(id);
      // The dead uploader's watch may linger (osd_client_watch_timeout): the removal says busy until it is gone.
      await whileBusy(BUSY_GRACE_MS, () => d.store.delete(location));
      report.swept++;
      d.logger.info(`reconcile: removed the complete image ${d.store.pool}/${id} of killed image ${id}`);
    } catch (err) {
      if (err instanceof StoreNotFound) continue; // nothing complete under that name
      d.logger.warn(`reconcile: complete image ${d.store.pool}/${id} of killed image ${id} not removed, left for the next start: ${errorText(err)}`);
    }
  }
}

async function reconcileImages(d: ReconcileDeps, report: ReconcileReport): Promise<void> {
  let killedNow = 0;
  for (const row of await pending<ImageRow>(d, 'images', ['saving', 'pending_delete'])) {
    if (!(await d.manager.takeOver('images', row.id, row.status, row.claim))) continue;
    if (row.status === 'pending_delete') {
      report.imagesDeleted++;
      d.manager.spawn(`reconcile: delete image ${row.id}`, () => d.manager.deleteImage(row, BUSY_GRACE_MS));
      continue;
    }
    if (await d.manager.finish('images', row.id, { status: 'killed', location: null })) killedNow++;
  }
  report.imagesKilled += killedNow;
  if (killedNow === 0 && !d.atStart) return;
  // Killed images (now and from earlier starts) must have no data left in the pool.
  // Their RBD name is the image id (add(imageId), also for volume uploads).
  const killed = await d.db.selectFrom('images').select('id').where('status', '=', 'killed').execute();
  const ids = new Set(killed.map((r) => r.id));
  d.manager.spawn('reconcile: sweep partial uploads', async () => {
    await removeHalfMade(d, ids, report);
    await removeComplete(d, ids, report);
    await sweepUntilGone(d, ids, report);
  });
}

export async function reconcile(d: ReconcileDeps): Promise<ReconcileReport> {
  const report: ReconcileReport = { volumes: {}, snapshots: {}, imagesKilled: 0, imagesDeleted: 0, swept: 0, reservationsRolledBack: 0 };
  await reconcileImages(d, report);
  await reconcileSnapshots(d, report);
  await reconcileVolumes(d, report);
  if (d.take === 'all') {
    // Alone on the database: no request is between reserve and commit. Extends settled theirs above.
    const ids = await d.db.selectFrom('reservations').select('id').distinct().execute();
    for (const { id } of ids) await d.db.transaction().execute((trx) => d.quotas.rollback(trx, id));
    report.reservationsRolledBack = ids.length;
  }
  const did = report.imagesKilled + report.imagesDeleted + report.swept + Object.values(report.volumes).length + Object.values(report.snapshots).length;
  if (did > 0) d.logger.info(`reconciled: ${JSON.stringify(report)}`);
  return report;
}
