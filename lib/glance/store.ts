/**
 * A Glance-style image store on RBD (docs/DESIGN.md#glance-store): images
 * written the way glance_store's RBD driver writes them (chunked, MD5 +
 * multihash, a protected snapshot `snap` for copy-on-write clones, the same
 * location URIs and errors), but faster: chunks are written through
 * librbd's aio with several in flight, and hashed on worker threads
 * alongside the writes. The store is policy over lib/internal (session,
 * chunk writer and reader); where it differs from upstream on purpose, see
 * docs/DESIGN.md#decisions (D1, D2, D3, D7).
 */
import { Readable } from 'node:stream';

import {
  AbortError,
  ConnectionError,
  DiskQuotaExceeded,
  HandleClosedError,
  ImageBusy,
  ImageExists,
  ImageHasSnapshots,
  ImageNotFound,
  IncompleteWriteError,
  InvalidArgument,
  NoSpace,
  TimedOut,
} from '../errors';
import { openSource, type UploadSource } from '../internal/chunk-source';
import { ImageReadStream } from '../internal/chunk-reader';
import { removeHalfMadeImage } from '../internal/half-made-image';
import { defaultFeatures } from '../internal/features';
import { ByteBudget } from '../internal/byte-budget';
import { ClusterSession } from '../internal/session';
import { componentLogger, type Logger } from '../logger';
import type { IoCtx, Rados } from '../rados';
import { Image, Rbd } from '../rbd';
import {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkName,
  checkObject,
  checkRbdName,
  checkSecret,
  checkSignal,
  checkString,
  checkU64,
  invalidType,
  invalidValue,
  isSecretOption,
  outOfRange,
} from '../validate';
import { BackendException, BadStoreConfiguration, Duplicate, InUseByStore, Invalid, NotFound, StorageFull } from './errors';
import { createChunkHasher, type HashOn, isKnownHashAlgo, isNativeHashAlgo } from './hashing';
import { formatLocation, parseLocation, type RbdLocation, type RbdLocationParts } from './location';
import { Upload } from './upload';
import { markUpload, type SweepOptions, type SweepResult, sweepUploads, unmarkUpload } from './sweep';

const MiB = 1024 * 1024;
/** Glance's snapshot name. */
export const DEFAULT_SNAPNAME = 'snap';

export interface GlanceStoreOptions {
  /** rbd_store_pool: where add() creates images. Default 'images'. */
  pool?: string;
  /** rbd_store_chunk_size in MiB (an integer from 1 to 64): write and read piece; object size = 2^floor(log2(bytes)). Default 8. */
  chunkSizeMiB?: number;
  /** rbd_store_user: cephx id, with or without "client.". Unset: librados' default client (not "client.None"). */
  user?: string;
  /** rbd_store_ceph_conf. Unset or '': librados' search (CEPH_CONF, /etc/ceph/ceph.conf, …). */
  confFile?: string;
  /**
   * rados_connect_timeout, in milliseconds (whole seconds, rounded up): sets
   * client_mount_timeout, rados_mon_op_timeout and rados_osd_op_timeout on
   * the store's connection, so a dead or full cluster fails with TimedOut
   * instead of hanging. Unset or 0: librados' defaults (no op timeout).
   */
  connectTimeoutMs?: number;
  /** rbd_thin_provisioning: do not write all-zero chunks. Default false. */
  thinProvisioning?: boolean;
  /** The multihash algorithm (a node:crypto / OpenSSL name). Default 'sha512'. */
  hashAlgo?: string;
  /** Chunks in flight per upload (written and hashed at once). 1 to 64, default 4. */
  concurrency?: number;
  /**
   * Bytes of chunk buffers all uploads of this store may hold at once (a
   * chunk's buffer counts from its allocation until its upload ends); an
   * upload that needs another buffer beyond it waits for one to be given
   * back. At least one write unit (the chunk size rounded down to the
   * object size). Unset or 0: no store-wide limit (each upload holds up to
   * `concurrency` + 1 chunks).
   */
  maxBufferedBytes?: number;
  /** Where MD5 and the multihash run: worker threads ('native', default) or the JS thread ('js', as Glance does). */
  hashOn?: HashOn;
  /** Extra Ceph options for the store's connection. Defaults: rbd_cache 'false', rbd_disable_zero_copy_writes 'false'. */
  conf?: Record<string, string>;
  /** Multistore backend id: add() then returns metadata { store: backend }. */
  backend?: string;
  /** Where the store reports what it does; default: the library's logger (setLogger), silent unless one is set. */
  logger?: Partial<Logger>;
}

export interface AddOptions {
  /** Aborts the upload: what was created is removed and add() rejects with AbortError. */
  signal?: AbortSignal;
  /** Called as chunks are written and hashed: (bytes so far, announced size or undefined). */
  onProgress?: (bytesWritten: number, total?: number) => void;
  /** The size the data must have (bytes): otherwise Invalid, and the image is removed. */
  expectedSize?: number;
  /** The MD5 checksum or the store's multihash (hex) the data must have: otherwise Invalid, and the image is removed. */
  expectedChecksum?: string;
}

/** What stat() reports about a stored image. */
export interface StatResult {
  /** The image's four-part location (at its snapshot). */
  location: string;
  pool: string;
  image: string;
  /** The snapshot the location points at (Glance's `snap`, or the location's own). */
  snapshot: string | null;
  /** Image size in bytes. */
  size: number;
}

export interface AddResult {
  /** rbd://<fsid>/<pool>/<image>/snap, each part percent-encoded. */
  location: string;
  /** Bytes written (the image size). */
  size: number;
  /** MD5 of the data, hex (Glance's legacy checksum). */
  checksum: string;
  /** The store's hashAlgo over the data, hex. */
  multihash: string;
  /** {} or, with `backend`, { store: backend }. */
  metadata: Record<string, string>;
}

/** Smallest read piece of get(): one librbd call per piece (1-byte pieces took minutes for a few MiB). */
export const MIN_GET_CHUNK = 64 * 1024;

export interface GetOptions {
  /** First byte to read. Default 0. */
  offset?: number;
  /** Bytes to read. Default: to the end of the image (cut at the end). */
  length?: number;
  /** Read piece size in bytes, from 64 KiB (MIN_GET_CHUNK) to 1 GiB. Default: the store's chunk size. */
  chunkSize?: number;
  /** Pieces read ahead of the consumer (librbd aio reads in flight), 1 to 16. Default 1 (docs/PERFORMANCE.md). */
  readAhead?: number;
}

export interface GetResult {
  /** The data, with backpressure; closes the image when it ends or is destroyed. */
  stream: Readable;
  /** The image size (as Glance's get() reports it). */
  size: number;
  /** Bytes the stream will deliver. */
  length: number;
}

/** Bytes per aio write for a chunk size: the largest multiple of the object size (2^floor(log2)) not above it. */
function writeUnitOf(chunkBytes: number): number {
  const objectSize = 2 ** Math.floor(Math.log2(chunkBytes));
  return Math.floor(chunkBytes / objectSize) * objectSize;
}

function wrapConfig<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new BadStoreConfiguration((err as Error).message, { cause: err });
  }
}

/**
 * How long add() waits for the monitors to say whether a timed-out write hit
 * a full pool before taking it as "not full" (a live monitor answers in a
 * few ms; a stopped one would hold the rejection for another op timeout).
 */
const POOL_FULL_CHECK_MS = 250;

/** rados_osd_op_timeout in ms (0: none), from the options or the conf file. */
function opTimeoutMs(cluster: Rados): number {
  const seconds = Number(cluster.confGet('rados_osd_op_timeout') ?? 0);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

function isConnectionLoss(err: unknown): boolean {
  return err instanceof ConnectionError || (err instanceof HandleClosedError && err.op !== 'GlanceStore');
}

/** A Glance RBD store over one cluster connection. */
export class GlanceStore {
  readonly pool: string;
  /** WRITE_CHUNKSIZE = READ_CHUNKSIZE, in bytes. */
  readonly chunkSize: number;
  /** Object size of new images as a power of two: floor(log2(chunkSize)). */
  readonly order: number;
  /** Bytes per aio write: the largest multiple of the object size not above the chunk size. */
  readonly writeUnit: number;
  readonly thinProvisioning: boolean;
  readonly hashAlgo: string;
  readonly concurrency: number;
  readonly hashOn: HashOn;
  readonly backend: string | undefined;
  /** The store-wide limit on upload buffers (maxBufferedBytes), or undefined. */
  readonly maxBufferedBytes: number | undefined;

  readonly #budget: ByteBudget | undefined;
  readonly #session: ClusterSession;
  readonly #log: Logger;
  #fsid = '';
  readonly #streams = new Set<Readable>();
  #closed = false;
  #closing: Promise<void> | null = null;
  /**
   * Removals of failed uploads still running after add() rejected (the
   * cluster was not answering), by `pool/image`: delete() of that image and
   * close() wait for them.
   */
  readonly #cleanups = new Map<string, Promise<void>>();
  /** add() calls in flight, by the controller close() aborts them with. */
  readonly #uploads = new Map<AbortController, Promise<AddResult>>();

  private constructor(o: Required<Pick<GlanceStoreOptions, 'pool' | 'chunkSizeMiB' | 'thinProvisioning' | 'hashAlgo' | 'concurrency' | 'hashOn'>> & GlanceStoreOptions) {
    this.pool = o.pool;
    this.chunkSize = o.chunkSizeMiB * MiB;
    this.order = Math.floor(Math.log2(this.chunkSize));
    this.writeUnit = writeUnitOf(this.chunkSize);
    this.thinProvisioning = o.thinProvisioning;
    this.hashAlgo = o.hashAlgo;
    this.concurrency = o.concurrency;
    this.hashOn = o.hashOn;
    this.backend = o.backend;
    this.maxBufferedBytes = o.maxBufferedBytes === undefined || o.maxBufferedBytes === 0 ? undefined : o.maxBufferedBytes;
    this.#budget = this.maxBufferedBytes === undefined ? undefined : new ByteBudget(this.maxBufferedBytes);
    this.#log = componentLogger('glance', o.logger);
    // Images are written once, in whole chunks that stay pinned until librbd
    // is done with them: no cache, and librbd takes the chunk buffers as they
    // are instead of copying each one (memory: `concurrency` chunks, not twice that).
    const conf = { rbd_cache: 'false', rbd_disable_zero_copy_writes: 'false', ...(o.conf ?? {}) };
    const timeout = o.connectTimeoutMs !== undefined && o.connectTimeoutMs > 0 ? o.connectTimeoutMs : undefined;
    this.#session = new ClusterSession({
      connect: {
        ...(o.confFile !== undefined && o.confFile !== '' ? { confFile: o.confFile } : {}),
        // docs/DESIGN.md#d1-no-literal-none-user: unset is librados' default client.
        ...(o.user !== undefined && o.user !== '' ? { clientId: o.user } : {}),
        ...(timeout !== undefined ? { timeoutMs: timeout } : {}),
        conf,
      },
      fullTry: true,
      // A lost connection: one more attempt on a fresh one, at once.
      reconnectPolicy: { retries: 2, intervalMs: 0 },
      connectError: (cause) => new BackendException('Error connecting to ceph cluster.', { cause }),
      closedError: () => new HandleClosedError('GlanceStore.connect: the store is closed', 'GlanceStore'),
      logger: this.#log,
    });
  }

  /**
   * Validates the options (BadStoreConfiguration) and connects
   * (BackendException when the cluster cannot be reached).
   */
  static async open(options: GlanceStoreOptions = {}): Promise<GlanceStore> {
    const o = wrapConfig(() => checkObject<GlanceStoreOptions>(options, 'options'));
    const settings = wrapConfig(() => {
      const hashAlgo = o.hashAlgo === undefined ? 'sha512' : checkName(o.hashAlgo, 'options.hashAlgo');
      if (!isKnownHashAlgo(hashAlgo)) throw invalidValue('options.hashAlgo', 'a hash algorithm node:crypto supports', hashAlgo);
      let hashOn: HashOn = 'native';
      if (o.hashOn !== undefined) {
        if (o.hashOn !== 'native' && o.hashOn !== 'js') throw invalidValue('options.hashOn', "'native' or 'js'", o.hashOn);
        hashOn = o.hashOn;
      }
      // An algorithm node:crypto has but OpenSSL's name lookup does not: hash it on the JS thread.
      if (hashOn === 'native' && !isNativeHashAlgo(hashAlgo)) hashOn = 'js';
      if (o.connectTimeoutMs !== undefined && o.connectTimeoutMs !== 0) checkInteger(o.connectTimeoutMs, 'options.connectTimeoutMs', 1, 2 ** 31 - 1);
      if (o.user !== undefined && o.user !== '') checkName(o.user, 'options.user');
      if (o.confFile !== undefined) checkString(o.confFile, 'options.confFile');
      if (o.backend !== undefined) checkName(o.backend, 'options.backend');
      if (o.conf !== undefined) {
        for (const [k, v] of Object.entries(checkObject<Record<string, string>>(o.conf, 'options.conf'))) {
          if (isSecretOption(k)) checkSecret(v, `options.conf.${k}`, true);
          else checkString(v, `options.conf.${k}`);
        }
      }
      const chunkSizeMiB = o.chunkSizeMiB === undefined ? 8 : checkInteger(o.chunkSizeMiB, 'options.chunkSizeMiB', 1, 64);
      if (o.maxBufferedBytes !== undefined && o.maxBufferedBytes !== 0) {
        const unit = writeUnitOf(chunkSizeMiB * MiB);
        checkInteger(o.maxBufferedBytes, 'options.maxBufferedBytes', unit, Number.MAX_SAFE_INTEGER);
      }
      return {
        ...o,
        pool: o.pool === undefined ? 'images' : checkName(o.pool, 'options.pool'),
        chunkSizeMiB,
        thinProvisioning: o.thinProvisioning === undefined ? false : checkBoolean(o.thinProvisioning, 'options.thinProvisioning'),
        concurrency: o.concurrency === undefined ? 4 : checkInteger(o.concurrency, 'options.concurrency', 1, 64),
        hashAlgo,
        hashOn,
      };
    });
    const store = new GlanceStore(settings);
    await store.#session.rados();
    store.#fsid = await store.#session.fsid();
    return store;
  }

  /** The cluster's fsid (the first part of every location this store writes). */
  get fsid(): string {
    return this.#fsid;
  }

  /** Upload buffers held now and at most so far, against maxBufferedBytes (both 0 without a limit). */
  get bufferedBytes(): { used: number; peak: number } {
    return { used: this.#budget?.used ?? 0, peak: this.#budget?.peak ?? 0 };
  }

  /** The location add(imageId) gives (or gave) an image: rbd://<fsid>/<pool>/<imageId>/snap. Validates the id like add(). */
  locationFor(imageId: string): string {
    const image = checkRbdName(imageId, 'imageId');
    return formatLocation({ fsid: this.#fsid, pool: this.pool, image, snapshot: DEFAULT_SNAPNAME });
  }

  /**
   * Size and location of an image, given by its id (in the store's pool, at
   * `snap`) or by a location. NotFound when it (or its snapshot) does not exist.
   */
  async stat(imageIdOrLocation: string): Promise<StatResult> {
    this.#checkOpen('stat');
    const location = typeof imageIdOrLocation === 'string' && imageIdOrLocation.startsWith('rbd://') ? imageIdOrLocation : this.locationFor(imageIdOrLocation);
    const { loc, pool } = this.#target(location);
    const image = await this.#openAt(pool, loc, `RBD image ${loc.image} does not exist`);
    try {
      const size = (await image.stat()).size;
      const snapshot = loc.snapshot;
      return { location: formatLocation({ fsid: loc.fsid ?? this.#fsid, pool, image: loc.image, snapshot: snapshot ?? DEFAULT_SNAPNAME }), pool, image: loc.image, snapshot, size };
    } finally {
      await image.close().catch(() => undefined);
    }
  }

  /** Glance's location parser (BadStoreUri). */
  static parseLocation(uri: string): RbdLocation {
    return parseLocation(uri);
  }

  /** Glance's location writer. */
  static formatLocation(parts: RbdLocationParts): string {
    return formatLocation(parts);
  }

  // ---- connection ---------------------------------------------------------

  #checkOpen(op: string): void {
    if (this.#closed) throw new HandleClosedError(`GlanceStore.${op}: the store is closed`, 'GlanceStore');
  }

  /**
   * The features new images get: rbd_default_features (names or a number,
   * read by librbd's parser), or layering when unset or 0.
   */
  #features(cluster: Rados): number {
    return defaultFeatures(cluster.confGet('rbd_default_features'));
  }

  // ---- add ------------------------------------------------------------------

  /**
   * Stores an image (docs/DESIGN.md#upload-data-path). `sizeBytes` 0 means unknown: the image grows
   * ahead of the data and is trimmed at the end. Duplicate when the name is
   * taken; Invalid when the data is longer or shorter than announced;
   * StorageFull when the cluster or pool is full; AbortError on abort. On
   * any failure what was created is removed and the cause is rethrown;
   * when the cluster stopped answering (TimedOut, ConnectionError) add()
   * rejects first and the removal goes on in the background (logged;
   * close() waits for it; delete(location) later makes sure).
   */
  async add(imageId: string, source: UploadSource, sizeBytes: number | bigint = 0, options: AddOptions = {}): Promise<AddResult> {
    this.#checkOpen('add');
    const name = checkRbdName(imageId, 'imageId');
    const size = Number(checkU64(sizeBytes, 'sizeBytes'));
    if (!Number.isSafeInteger(size)) throw outOfRange('sizeBytes', 'a size below 2^53', sizeBytes);
    const o = checkObject<AddOptions>(options, 'options');
    const expect = {
      size: o.expectedSize === undefined ? undefined : checkInteger(o.expectedSize, 'options.expectedSize', 0, Number.MAX_SAFE_INTEGER),
      checksum: o.expectedChecksum === undefined ? undefined : checkName(o.expectedChecksum, 'options.expectedChecksum').toLowerCase(),
    };
    const signal = checkSignal(o.signal);
    const onProgress = checkFunction<(done: number, total?: number) => void>(o.onProgress, 'options.onProgress');
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });

    // close() aborts this upload through `closer` and waits until it has
    // removed what it created: a store never leaves a half-written image.
    const closer = new AbortController();
    const run = this.#add(name, source, size, signal ? AbortSignal.any([signal, closer.signal]) : closer.signal, onProgress, expect);
    this.#uploads.set(closer, run);
    try {
      return await run;
    } catch (err) {
      if (err instanceof AbortError && closer.signal.aborted && err.cause === closer.signal.reason) throw closer.signal.reason;
      throw err;
    } finally {
      this.#uploads.delete(closer);
    }
  }

  async #add(
    name: string,
    source: UploadSource,
    size: number,
    signal: AbortSignal,
    onProgress: AddOptions['onProgress'],
    expect: { size?: number; checksum?: string },
  ): Promise<AddResult> {
    const src = await openSource(source, this.writeUnit, this.#budget);
    let failed = true;
    try {
      const ioctx = await this.#session.withIoctx(this.pool, async (io) => io);
      const cluster = ioctx.cluster;
      const fsid = await this.#session.fsid();
      if (size === 0) this.#log.warn(`Since image size is zero we will be doing resize-before-write for each chunk of image ${name}`);
      try {
        await Rbd.create(ioctx, name, size, { order: this.order, features: this.#features(cluster) });
      } catch (err) {
        if (err instanceof ImageExists) throw new Duplicate(`RBD image ${name} already exists`, { cause: err });
        if (err instanceof TimedOut && (await this.#poolIsFull(this.pool))) throw new StorageFull(undefined, { cause: err });
        throw storageError(err);
      }
      const result = await this.#fill(ioctx, name, src, size, signal, onProgress, expect);
      failed = false;
      return {
        location: formatLocation({ fsid, pool: this.pool, image: name, snapshot: DEFAULT_SNAPNAME }),
        size: result.size,
        checksum: result.checksum,
        multihash: result.multihash,
        metadata: this.backend === undefined ? {} : { store: this.backend },
      };
    } finally {
      await src.close(failed);
    }
  }

  /** Writes the data into the new image, trims or checks the size, snapshots; removes the image on any failure. */
  async #fill(
    ioctx: IoCtx,
    name: string,
    src: Awaited<ReturnType<typeof openSource>>,
    size: number,
    signal: AbortSignal | undefined,
    onProgress: AddOptions['onProgress'],
    expect: { size?: number; checksum?: string } = {},
  ): Promise<{ size: number; checksum: string; multihash: string }> {
    let image: Image | undefined;
    try {
      image = await Image.open(ioctx, name);
      await markUpload(image); // a crash from here on leaves an image sweep() finds
      const upload = new Upload(image, {
        expectedSize: size,
        chunkBytes: this.chunkSize,
        thinProvisioning: this.thinProvisioning,
        concurrency: this.concurrency,
        hasher: createChunkHasher(this.hashAlgo, this.hashOn),
        signal,
        onProgress,
        stallMs: opTimeoutMs(ioctx.cluster),
      });
      const started = Date.now();
      const out = await upload.run(src);
      const wrote = Date.now();
      if (size === 0) {
        if (out.imageSize !== out.bytes) await image.resize(out.bytes);
      } else if (out.bytes !== size) {
        throw new Invalid(`Size mismatch: expected ${size} bytes, got ${out.bytes} bytes`);
      }
      if (expect.size !== undefined && out.bytes !== expect.size) throw new Invalid(`Size mismatch: expected ${expect.size} bytes, got ${out.bytes} bytes`);
      if (expect.checksum !== undefined && expect.checksum !== out.checksum && expect.checksum !== out.multihash) {
        throw new Invalid(`Checksum mismatch: expected ${expect.checksum}, got md5 ${out.checksum ?? ''} / ${this.hashAlgo} ${out.multihash ?? ''}`);
      }
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      await image.createSnap(DEFAULT_SNAPNAME);
      await image.protectSnap(DEFAULT_SNAPNAME);
      await unmarkUpload(image);
      await image.close();
      this.#log.info(`Stored ${name}: ${out.bytes} bytes, data in ${wrote - started} ms, snapshot in ${Date.now() - wrote} ms`);
      return { size: out.bytes, checksum: out.checksum ?? '', multihash: out.multihash ?? '' };
    } catch (err) {
      const full = err instanceof TimedOut && (await this.#poolIsFull(this.pool));
      const reason = full ? `pool ${this.pool} is full` : (err as Error).message;
      const removal = this.#removeFailed(ioctx, image, name);
      if (!full && (err instanceof TimedOut || isConnectionLoss(err))) {
        // The cluster stopped answering: closing and removing would each wait
        // out op timeouts again. Reject now; the removal goes on (logged) and
        // close() waits for it.
        this.#log.error(`Failed to store image ${name}: ${reason}; removing it in the background`);
        const key = `${ioctx.pool}/${name}`;
        this.#cleanups.set(key, removal);
        void removal.finally(() => {
          if (this.#cleanups.get(key) === removal) this.#cleanups.delete(key);
        });
      } else {
        this.#log.error(`Failed to store image ${name}: ${reason}; removing it`);
        await removal;
      }
      throw full ? new StorageFull(undefined, { cause: err }) : storageError(err);
    }
  }

  /** Closes and removes the image of a failed upload; never rejects (a failure is logged). */
  async #removeFailed(ioctx: IoCtx, image: Image | undefined, name: string): Promise<void> {
    await image?.close().catch(() => undefined);
    try {
      // The store's contexts are full-try: this removal goes through on a full pool.
      await this.#deleteImage(ioctx, name, DEFAULT_SNAPNAME);
    } catch (err) {
      if (!(err instanceof NotFound)) this.#log.error(`Could not remove ${name} after a failed upload: ${(err as Error).message}`);
    }
  }

  /**
   * Whether the OSD map flags the pool (or the whole cluster) full. The
   * store's contexts are full-try, so a write to a pool flagged full fails
   * with NoSpace/DiskQuotaExceeded; one the OSD dropped before the flag
   * reached this client can still end as TimedOut (with an op timeout),
   * which this tells apart from a slow cluster.
   */
  async #poolIsFull(pool: string): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    // A monitor that does not answer in time: taken as "not full".
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), POOL_FULL_CHECK_MS);
    });
    try {
      const cluster = await this.#session.rados();
      const reply = await Promise.race([cluster.monCommand({ prefix: 'osd dump', format: 'json' }), late]);
      if (reply === null) return false;
      if (reply.status < 0) return false;
      const dump = JSON.parse(reply.outbuf.toString()) as { flags?: string; pools?: Array<{ pool_name: string; flags_names?: string }> };
      const flags = (list: string | undefined) => (list ?? '').split(',');
      if (flags(dump.flags).includes('full')) return true;
      const entry = dump.pools?.find((p) => p.pool_name === pool);
      return entry !== undefined && flags(entry.flags_names).some((f) => f === 'full' || f === 'full_quota');
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- get / getSize ----------------------------------------------------------

  #target(location: string): { loc: RbdLocation; pool: string } {
    const loc = parseLocation(location);
    return { loc, pool: loc.pool ?? this.pool };
  }

  /** Opens the image of a location read-only at its snapshot; NotFound when it (or the snapshot) does not exist. */
  async #openAt(pool: string, loc: RbdLocation, notFound: string): Promise<Image> {
    try {
      return await this.#session.withIoctx(pool, (ioctx) => Image.open(ioctx, loc.image, { readOnly: true, snapshot: loc.snapshot ?? undefined }));
    } catch (err) {
      if (err instanceof ImageNotFound) throw new NotFound(notFound, { cause: err });
      throw err;
    }
  }

  /**
   * Streams an image (docs/DESIGN.md#download-data-path), honouring `offset`
   * and `length` (docs/DESIGN.md#d3-get-honours-offset-and-length).
   * NotFound when the image or its snapshot does not exist.
   */
  async get(location: string, options: GetOptions = {}): Promise<GetResult> {
    this.#checkOpen('get');
    const { loc, pool } = this.#target(location);
    const o = checkObject<GetOptions>(options, 'options');
    const offset = o.offset === undefined ? 0 : checkInteger(o.offset, 'options.offset', 0, Number.MAX_SAFE_INTEGER);
    const wanted = o.length === undefined ? undefined : checkInteger(o.length, 'options.length', 0, Number.MAX_SAFE_INTEGER);
    const chunk = o.chunkSize === undefined ? this.chunkSize : checkInteger(o.chunkSize, 'options.chunkSize', MIN_GET_CHUNK, 2 ** 30);
    const readAhead = o.readAhead === undefined ? 1 : checkInteger(o.readAhead, 'options.readAhead', 1, 16);
    const image = await this.#openAt(pool, loc, `RBD image ${loc.image} does not exist`);
    let size: number;
    try {
      size = await image.size();
      if (offset > size) throw outOfRange('options.offset', `an offset from 0 to the image size ${size}`, offset);
    } catch (err) {
      await image.close().catch(() => undefined);
      throw err;
    }
    const length = Math.min(wanted ?? size - offset, size - offset);
    const stream = new ImageReadStream(image, offset, length, chunk, readAhead);
    this.#streams.add(stream);
    stream.once('close', () => this.#streams.delete(stream));
    return { stream, size, length };
  }

  /** The image size; NotFound when the image or its snapshot does not exist. */
  async getSize(location: string): Promise<number> {
    this.#checkOpen('getSize');
    const { loc, pool } = this.#target(location);
    const image = await this.#openAt(pool, loc, `RBD image ${location} does not exist`);
    try {
      return (await image.stat()).size;
    } finally {
      await image.close().catch(() => undefined);
    }
  }

  // ---- delete -------------------------------------------------------------------

  /** Finds and (unless dryRun) removes uploads a killed process left in the pool (lib/glance/sweep.ts). */
  async sweep(options: SweepOptions = {}): Promise<SweepResult> {
    this.#checkOpen('sweep');
    return this.#session.withIoctx(this.pool, (ioctx) => sweepUploads(ioctx, options, this.#log));
  }

  /**
   * Removes the names among `imageIds` that librbd left half-made (an add()
   * killed inside `rbd_create`: listed, no image header, a new add() of that
   * id Duplicate), never to the trash; an image that opens is left alone
   * (a partial upload is the sweep's, a complete one delete()'s). Lists the
   * pool once and probes only the ids it holds. Resolves the names removed.
   * Only for ids no add() is creating now: a create in progress looks
   * half-made for an instant.
   */
  async removeHalfMade(imageIds: readonly string[]): Promise<string[]> {
    this.#checkOpen('removeHalfMade');
    if (!Array.isArray(imageIds)) throw invalidType('imageIds', 'an array of image ids', imageIds);
    const wanted = new Set(imageIds.map((id, i) => checkRbdName(id, `imageIds[${i}]`)));
    if (wanted.size === 0) return [];
    return this.#session.withIoctx(this.pool, async (ioctx) => {
      const removed: string[] = [];
      for (const name of (await Rbd.list(ioctx)).filter((n) => wanted.has(n)).sort()) {
        try {
          const image = await Image.open(ioctx, name, { readOnly: true });
          await image.close().catch(() => undefined);
          continue;
        } catch (err) {
          if (!(err instanceof ImageNotFound)) throw err;
        }
        if (!(await removeHalfMadeImage(ioctx, name))) continue; // gone meanwhile
        removed.push(name);
        this.#log.debug(`Removed the half-made name ${ioctx.pool}/${name} (no image header)`);
      }
      return removed;
    });
  }

  /**
   * Deletes an image: unprotects and removes its snapshot, then
   * the image; to the trash when other snapshots remain. InUseByStore when
   * the snapshot has clones or the image is open elsewhere; NotFound when
   * it does not exist. A name an add() killed inside librbd's create left
   * half-made (listed, no image header) is removed
   * (lib/internal/half-made-image.ts).
   */
  async delete(location: string): Promise<void> {
    this.#checkOpen('delete');
    const { loc, pool } = this.#target(location);
    // A failed upload of this image may still be removing it (its handle
    // open, so librbd would say busy): let that finish first.
    await this.#cleanups.get(`${pool}/${loc.image}`);
    await this.#session.withIoctx(pool, (ioctx) => this.#deleteImage(ioctx, loc.image, loc.snapshot));
  }

  async #deleteImage(ioctx: IoCtx, name: string, snapshot: string | null): Promise<void> {
    const notFound = (cause: unknown) => new NotFound(`RBD image ${name} does not exist`, { cause });
    if (snapshot !== null) {
      let image: Image;
      try {
        image = await Image.open(ioctx, name);
      } catch (err) {
        if (!(err instanceof ImageNotFound)) throw err;
        // A half-made name would block a new add() of this image id.
        if (!(await removeHalfMadeImage(ioctx, name))) throw notFound(err);
        this.#log.info(`Removed the half-made name ${name} (no image header)`);
        return;
      }
      try {
        try {
          await image.unprotectSnap(snapshot);
        } catch (err) {
          if (!(err instanceof InvalidArgument)) throw err; // already unprotected
        }
        await image.removeSnap(snapshot);
      } catch (err) {
        if (err instanceof ImageNotFound) {
          this.#log.debug(`Snapshot ${snapshot} of ${name} does not exist: ${(err as Error).message}`);
        } else if (err instanceof ImageBusy) {
          this.#log.error(`Snapshot ${snapshot} of ${name} is in use: ${(err as Error).message}`);
          throw new InUseByStore(undefined, { cause: err });
        } else {
          throw err;
        }
      } finally {
        await image.close().catch(() => undefined);
      }
    }
    try {
      await Rbd.remove(ioctx, name);
    } catch (err) {
      if (err instanceof ImageHasSnapshots) {
        this.#log.warn(`Image ${name} has snapshots left; moving it to the trash`);
        try {
          await Rbd.trashMove(ioctx, name, 0);
        } catch (trashErr) {
          if (trashErr instanceof ImageBusy) throw new InUseByStore(undefined, { cause: trashErr });
          if (trashErr instanceof ImageNotFound) throw notFound(trashErr);
          throw trashErr;
        }
        return;
      }
      if (err instanceof ImageBusy) {
        this.#log.error(`Remove image ${name} failed: it is in use`);
        throw new InUseByStore(undefined, { cause: err });
      }
      if (err instanceof ImageNotFound) throw notFound(err);
      throw err;
    }
  }

  // ---- lifetime -------------------------------------------------------------------

  /**
   * Ends open get() streams, aborts uploads in flight (they reject with
   * HandleClosedError once they have removed their partial image), waits
   * for the removals of failed uploads still running, and disconnects.
   * Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    for (const s of this.#streams) s.destroy(new HandleClosedError('GlanceStore.close: the store was closed', 'GlanceStore'));
    for (const c of this.#uploads.keys()) c.abort(new HandleClosedError('GlanceStore.add: the store was closed during the upload', 'GlanceStore'));
    const uploads = [...this.#uploads.values()];
    this.#closing = (async () => {
      await Promise.allSettled(uploads);
      await Promise.all(this.#cleanups.values());
      await this.#session.close();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** NoSpace (and a full pool quota) → StorageFull; a short write → Invalid; anything else as it is. */
function storageError(err: unknown): unknown {
  if (err instanceof NoSpace || err instanceof DiskQuotaExceeded) return new StorageFull(undefined, { cause: err });
  if (err instanceof IncompleteWriteError) return new Invalid('The image data exceeded the expected size', { cause: err });
  return err;
}
