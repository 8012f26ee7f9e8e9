/**
 * Nova's snapshot when a direct snapshot is impossible
 * (docs/DESIGN.md#nova-direct-snapshot): the image store is on another
 * cluster or is not an RBD store, or the disk cannot be cloned (format 1, or
 * no layering feature). The disk is snapshotted, opened read-only at that
 * snapshot and read with pipelined aio reads straight into the store's
 * `add()` — no temporary file. The temporary snapshot always goes; a failed
 * or aborted `add()` leaves nothing in the store when the store removes its
 * partial image, as GlanceStore does.
 *
 * snapshotToStore() picks: directSnapshot() into the store's pool when the
 * store is an RBD store on the disk's cluster and the disk can be cloned,
 * the stream otherwise.
 */
import { randomUUID } from 'node:crypto';

import { RBD_FEATURE_LAYERING } from '../constants';
import { AbortError } from '../errors';
import { readImageChunks } from '../internal/chunk-reader';
import { withImage } from '../internal/image';
import { errorText } from '../internal/retry';
import { ClusterSession } from '../internal/session';
import { componentLogger, type Logger } from '../logger';
import type { IoCtx, Rados } from '../rados';
import { Image } from '../rbd';
import '../rbd-image-ext';
import { checkFunction, checkInteger, checkName, checkObject, checkSignal, invalidType } from '../validate';
import { checkAborted, directSnapshot, GLANCE_SNAPSHOT, removeTempSnapshot, type DirectSnapshotStep } from './nova';
import type { ImageStoreLike } from './types';

const MiB = 1024 * 1024;

export type StreamSnapshotStep = 'snapshot' | 'stream';

export interface StreamSnapshotOptions {
  /** images_rbd_pool: the pool of the instance disk. */
  pool: string;
  /** The disk image, e.g. `<instance uuid>_disk`. */
  imageName: string;
  /** The Glance image id: what the store's add() gets. */
  imageId: string;
  /** Where the image goes: a GlanceStore or any ImageStoreLike. */
  store: ImageStoreLike;
  /** The temporary snapshot on the disk; default: a random UUID without dashes (as Nova). */
  snapshotName?: string;
  /** Stops the snapshot or the stream: AbortError, the store's partial image and the temporary snapshot removed. */
  signal?: AbortSignal;
  /** Called as each step starts. */
  onStep?: (step: StreamSnapshotStep) => void;
  /** Called as the disk is read: (bytes read so far, disk size). */
  onProgress?: (bytes: number, total: number) => void;
  logger?: Partial<Logger>;
  /** Read piece in bytes, 64 KiB to 64 MiB. Default 8 MiB. */
  chunkBytes?: number;
  /** Reads in flight ahead of the store, 1 to 64. Default 4. */
  concurrency?: number;
}

export type SnapshotToStoreStep = DirectSnapshotStep | 'stream';

export interface SnapshotToStoreOptions extends Omit<StreamSnapshotOptions, 'onStep'> {
  /** Called as each step starts: 'snapshot', then 'clone', 'flatten', 'protect' (direct) or 'stream'. */
  onStep?: (step: SnapshotToStoreStep) => void;
}

export interface SnapshotToStoreResult {
  /** 'direct': cloned and flattened inside the cluster; 'stream': read through this process into `store.add()`. */
  method: 'direct' | 'stream';
  /** The image's location (`rbd://<fsid>/<pool>/<imageId>/snap` for an RBD store). */
  location: string;
  /** Image size in bytes. */
  size: number;
  /** What the store's add() reported (stream only). */
  checksum?: string;
  multihash?: string;
  metadata?: unknown;
}

interface Parsed {
  pool: string;
  imageName: string;
  imageId: string;
  store: ImageStoreLike;
  snapName: string;
  signal: AbortSignal | undefined;
  onProgress: ((bytes: number, total: number) => void) | undefined;
  chunkBytes: number;
  concurrency: number;
}

function parseOptions(options: StreamSnapshotOptions): Parsed {
  const o = checkObject<StreamSnapshotOptions>(options, 'options');
  const store = o.store;
  if (store === null || typeof store !== 'object' || typeof store.add !== 'function') {
    throw invalidType('options.store', 'an image store with an add() method', store);
  }
  return {
    pool: checkName(o.pool, 'options.pool'),
    imageName: checkName(o.imageName, 'options.imageName'),
    imageId: checkName(o.imageId, 'options.imageId'),
    store,
    snapName: o.snapshotName === undefined ? randomUUID().replace(/-/g, '') : checkName(o.snapshotName, 'options.snapshotName'),
    signal: checkSignal(o.signal),
    onProgress: checkFunction<(bytes: number, total: number) => void>(o.onProgress, 'options.onProgress'),
    chunkBytes: o.chunkBytes === undefined ? 8 * MiB : checkInteger(o.chunkBytes, 'options.chunkBytes', 64 * 1024, 64 * MiB),
    concurrency: o.concurrency === undefined ? 4 : checkInteger(o.concurrency, 'options.concurrency', 1, 64),
  };
}

/** The reader's chunks, stopped by `signal` between chunks, with progress. */
async function* guarded(chunks: AsyncGenerator<Buffer>, total: number, p: Parsed): AsyncGenerator<Buffer> {
  let done = 0;
  for await (const buf of chunks) {
    checkAborted(p.signal);
    done += buf.length;
    p.onProgress?.(done, total);
    yield buf;
  }
}

/** Reads the disk at the snapshot into `store.add()`; the image is closed once no read is in flight. */
async function streamAtSnapshot(ioctx: IoCtx, p: Parsed, logger: Logger): Promise<SnapshotToStoreResult> {
  const image = await Image.open(ioctx, p.imageName, { readOnly: true, snapshot: p.snapName });
  let chunks: AsyncGenerator<Buffer> | undefined;
  try {
    const size = await image.size();
    chunks = readImageChunks(image, size, p.chunkBytes, p.concurrency);
    const added = await p.store.add(p.imageId, guarded(chunks, size, p), size, p.signal ? { signal: p.signal } : undefined);
    const { location, checksum, multihash, metadata } = added;
    return {
      method: 'stream',
      location,
      size: added.size,
      ...(checksum === undefined ? {} : { checksum }),
      ...(multihash === undefined ? {} : { multihash }),
      ...(metadata === undefined ? {} : { metadata }),
    };
  } catch (err) {
    if (p.signal?.aborted && !(err instanceof AbortError)) throw new AbortError(undefined, { cause: p.signal.reason });
    throw err;
  } finally {
    // A store may drop the source without waiting for it: wait for its reads.
    await chunks?.return(undefined).catch(() => undefined);
    await image.close().catch((err: unknown) => logger.warn(`cannot close ${p.pool}/${p.imageName}@${p.snapName}: ${errorText(err)}`));
  }
}

async function streamParsed(cluster: Rados, p: Parsed, onStep: ((step: StreamSnapshotStep) => void) | undefined, logger: Logger): Promise<SnapshotToStoreResult> {
  checkAborted(p.signal);
  const ioctx = await cluster.openIoctx(p.pool);
  try {
    onStep?.('snapshot');
    await withImage(ioctx, p.imageName, {}, (img) => img.createSnap(p.snapName));
    try {
      checkAborted(p.signal);
      onStep?.('stream');
      const result = await streamAtSnapshot(ioctx, p, logger);
      logger.info(`streamed ${p.pool}/${p.imageName} (${result.size} bytes) into ${result.location}`);
      return result;
    } finally {
      await removeTempSnapshot(ioctx, p.imageName, p.snapName, logger);
    }
  } finally {
    await ioctx.close().catch(() => undefined);
  }
}

/**
 * Snapshots `pool/imageName` and streams the snapshot into
 * `store.add(imageId, …)`: a temporary snapshot, the disk read at it with
 * `concurrency` aio reads ahead, no temporary file. The snapshot is always
 * removed. Errors are the store's (e.g. Duplicate, StorageFull) or Ceph's
 * (ImageNotFound for a missing disk); AbortError when `signal` fires.
 */
export async function streamSnapshot(cluster: Rados, options: StreamSnapshotOptions): Promise<SnapshotToStoreResult> {
  const p = parseOptions(options);
  const onStep = checkFunction<(step: StreamSnapshotStep) => void>(options.onStep, 'options.onStep');
  return streamParsed(cluster, p, onStep, componentLogger('nova', options.logger));
}

/** Why the disk cannot be snapshotted straight into the store's pool (null when it can), and the disk's size. */
async function directRefusal(cluster: Rados, p: Parsed): Promise<{ refusal: string | null; size: number }> {
  const { fsid, pool } = p.store as unknown as { fsid?: unknown; pool?: unknown };
  if (typeof fsid !== 'string' || typeof pool !== 'string') return { refusal: 'the store is not an RBD store (no fsid and pool)', size: 0 };
  const ours = await ClusterSession.fsidOf(cluster);
  if (fsid !== ours) return { refusal: `the store is on another cluster (fsid ${fsid}, the disk's ${ours})`, size: 0 };
  const ioctx = await cluster.openIoctx(p.pool);
  try {
    return await withImage(ioctx, p.imageName, { readOnly: true }, async (img) => {
      const size = await img.size();
      if (await img.oldFormat()) return { refusal: 'the disk is a format 1 image', size };
      if ((BigInt(await img.features()) & BigInt(RBD_FEATURE_LAYERING)) === 0n) return { refusal: 'the disk has no layering feature', size };
      return { refusal: null, size };
    });
  } finally {
    await ioctx.close().catch(() => undefined);
  }
}

/** The size of the new image at Glance's snapshot; the disk's size if it cannot be read (logged). */
async function storedSize(cluster: Rados, pool: string, imageId: string, diskSize: number, logger: Logger): Promise<number> {
  try {
    const dest = await cluster.openIoctx(pool);
    try {
      return await withImage(dest, imageId, { readOnly: true, snapshot: GLANCE_SNAPSHOT }, (img) => img.size());
    } finally {
      await dest.close().catch(() => undefined);
    }
  } catch (err) {
    logger.warn(`cannot read the size of ${pool}/${imageId}@${GLANCE_SNAPSHOT}: ${errorText(err)}; reporting the disk's`);
    return diskSize;
  }
}

/**
 * A snapshot of `pool/imageName` stored as `imageId` in `store`: directly
 * (directSnapshot() into `store.pool`) when `store` has the disk's cluster
 * `fsid` and a `pool` and the disk can be cloned; streamed otherwise (the
 * reason is logged).
 */
export async function snapshotToStore(cluster: Rados, options: SnapshotToStoreOptions): Promise<SnapshotToStoreResult> {
  const p = parseOptions(options);
  const onStep = checkFunction<(step: SnapshotToStoreStep) => void>(options.onStep, 'options.onStep');
  const logger = componentLogger('nova', options.logger);
  checkAborted(p.signal);
  const { refusal, size } = await directRefusal(cluster, p);
  if (refusal !== null) {
    logger.info(`streaming ${p.pool}/${p.imageName} into the store: ${refusal}`);
    return streamParsed(cluster, p, onStep, logger);
  }
  const parentPool = (p.store as unknown as { pool: string }).pool;
  const location = await directSnapshot(cluster, {
    pool: p.pool,
    imageName: p.imageName,
    imageId: p.imageId,
    snapshotName: p.snapName,
    parentPool,
    ...(p.signal ? { signal: p.signal } : {}),
    ...(onStep ? { onStep } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return { method: 'direct', location, size: await storedSize(cluster, parentPool, p.imageId, size, logger) };
}
