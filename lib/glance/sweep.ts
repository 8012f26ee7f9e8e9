/**
 * The sweeper for what a killed upload leaves behind (SIGKILL, OOM, power
 * loss mid-add()): an image without its `snap` snapshot that Glance never
 * learns about. add() marks the image in its metadata (UPLOAD_MARK = the
 * ISO time the upload started) right after creating it and removes the mark
 * once the snapshot is protected; sweepUploads() removes images that
 *   - carry the mark (started by a GlanceStore: never someone else's image),
 *   - have no `snap` snapshot (and no other snapshot),
 *   - were marked at least `olderThanMs` ago,
 *   - have no watcher besides the sweeper's own probe: a live upload (this
 *     process or another) holds the image open, so it is never touched;
 *     librbd's remove refuses (ImageBusy) a watcher that appears in between.
 */
import { ImageBusy, ImageHasSnapshots, ImageNotFound } from '../errors';
import type { IoCtx } from '../rados';
import { Image, Rbd } from '../rbd';
import { checkBoolean, checkInteger, checkObject } from '../validate';

/** Image metadata key of an upload in progress; its value is the ISO time add() started. */
export const UPLOAD_MARK = 'ceph-rbd.upload-started';

/** Default minimum age of a marked image before sweep() removes it: one hour. */
export const DEFAULT_SWEEP_AGE_MS = 3_600_000;

export interface SweepOptions {
  /** Only images whose upload started at least this long ago (ms). Default 1 hour. */
  olderThanMs?: number;
  /** Report what would be removed, remove nothing. Default false. */
  dryRun?: boolean;
}

export interface SweptImage {
  /** RBD image name (the Glance image id). */
  image: string;
  /** When its upload started (the mark). */
  startedAt: string;
  /** Removed by this sweep (always false with dryRun). */
  removed: boolean;
  /** Why it was left in place although it qualified (e.g. a client opened it meanwhile). */
  error?: string;
}

export interface SweepResult {
  pool: string;
  dryRun: boolean;
  /** Abandoned uploads found (removed unless dryRun). */
  images: SweptImage[];
  /** Marked images left alone because a client has them open (an upload in progress). */
  busy: string[];
}

interface Log {
  info(msg: string): void;
  warn(msg: string): void;
}

/** Marks `image` as an upload in progress (add() calls this right after creating it). */
export function markUpload(image: Image, now = new Date()): Promise<void> {
  return image.metadataSet(UPLOAD_MARK, now.toISOString());
}

/** The upload completed (snapshot protected): the image is no longer the sweeper's business. */
export function unmarkUpload(image: Image): Promise<void> {
  return image.metadataRemove(UPLOAD_MARK);
}

type Verdict = { kind: 'stale'; startedAt: string } | { kind: 'busy' } | { kind: 'skip' };

/** Reads what decides about `name` through a read-only probe (which does not count as a writer). */
async function inspect(ioctx: IoCtx, name: string, olderThanMs: number, now: number): Promise<Verdict> {
  let image: Image;
  try {
    image = await Image.open(ioctx, name, { readOnly: true });
  } catch (err) {
    if (err instanceof ImageNotFound) return { kind: 'skip' }; // removed meanwhile
    throw err;
  }
  try {
    let mark: string;
    try {
      mark = await image.metadataGet(UPLOAD_MARK);
    } catch (err) {
      if (err instanceof ImageNotFound) return { kind: 'skip' }; // ENOENT: not ours, or completed
      throw err;
    }
    const started = Date.parse(mark);
    if (!Number.isFinite(started) || now - started < olderThanMs) return { kind: 'skip' };
    if ((await image.listSnaps()).length > 0) return { kind: 'skip' }; // `snap` exists: completed (or not ours to judge)
    // A read-only open registers no watch: any watcher is another client.
    if ((await image.listWatchers()).length > 0) return { kind: 'busy' };
    return { kind: 'stale', startedAt: new Date(started).toISOString() };
  } finally {
    await image.close().catch(() => undefined);
  }
}

/** Finds (and unless dryRun removes) abandoned uploads in `ioctx`'s pool. */
export async function sweepUploads(ioctx: IoCtx, options: SweepOptions, log: Log): Promise<SweepResult> {
  const o = checkObject<SweepOptions>(options, 'options');
  const olderThanMs = o.olderThanMs === undefined ? DEFAULT_SWEEP_AGE_MS : checkInteger(o.olderThanMs, 'options.olderThanMs', 0, Number.MAX_SAFE_INTEGER);
  const dryRun = o.dryRun === undefined ? false : checkBoolean(o.dryRun, 'options.dryRun');
  const now = Date.now();
  const result: SweepResult = { pool: ioctx.pool, dryRun, images: [], busy: [] };
  for (const name of (await Rbd.list(ioctx)).sort()) {
    const verdict = await inspect(ioctx, name, olderThanMs, now);
    if (verdict.kind === 'busy') result.busy.push(name);
    if (verdict.kind !== 'stale') continue;
    const entry: SweptImage = { image: name, startedAt: verdict.startedAt, removed: false };
    result.images.push(entry);
    if (dryRun) {
      log.info(`Abandoned upload ${ioctx.pool}/${name} (started ${entry.startedAt}): dry run, kept`);
      continue;
    }
    try {
      await Rbd.remove(ioctx, name); // ImageBusy if a client opened it since the probe
      entry.removed = true;
      log.info(`Removed abandoned upload ${ioctx.pool}/${name} (started ${entry.startedAt})`);
    } catch (err) {
      if (err instanceof ImageNotFound) continue; // removed meanwhile
      if (!(err instanceof ImageBusy || err instanceof ImageHasSnapshots)) throw err;
      entry.error = (err as Error).message;
      log.warn(`Kept ${ioctx.pool}/${name}: ${entry.error}`);
    }
  }
  return result;
}
