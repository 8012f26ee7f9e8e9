/**
 * The chunked aio writer (docs/DESIGN.md#upload-data-path): chunks go to the
 * image through librbd's aio writes, up to `concurrency` chunks in flight,
 * each optionally hashed in order while it is being written. A chunk's slot
 * is free again once both its write and its hashing are done, so memory
 * stays at `concurrency` chunks plus the one being gathered.
 *
 * Per chunk, in Glance's order: grow the image first when the size is
 * unknown (the resize ramp, its state kept here, per writer:
 * docs/DESIGN.md#d2-resize-ramp-per-upload); count the bytes; refuse more
 * bytes than announced; write unless thin provisioning is on and the chunk
 * is all zeroes; hash. Used by GlanceStore.add, the Cinder driver's
 * image-to-volume copy and the CLI.
 */
import { constants } from 'node:os';

import { AbortError, ConnectionError, TimedOut } from '../errors';
import type { Image } from '../rbd';
import { cephError } from './ceph-error';
import type { Chunk, ChunkSource } from './chunk-source';

/** The largest step of the resize ramp. */
export const MAX_RESIZE_STEP = 8 * 1024 ** 3;

/** Digests fed every chunk in order (the Glance store's MD5 + multihash). */
export interface ChunkHasher {
  /**
   * Hashes `chunk` after every earlier chunk. The caller must not change the
   * chunk until the returned Promise settles (native); a JS hasher is done
   * when the call returns (undefined).
   */
  update(chunk: Buffer): Promise<void> | undefined;
  /** The digests once every update is in. */
  digest(): Promise<{ checksum: string; multihash: string }>;
}

const ZEROES = Buffer.alloc(64 * 1024);

/** Whether every byte of `buf` is zero (memcmp in 64 KiB steps; stops at the first difference). */
export function isAllZero(buf: Buffer): boolean {
  for (let off = 0; off < buf.length; off += ZEROES.length) {
    const n = Math.min(ZEROES.length, buf.length - off);
    if (buf.compare(ZEROES, 0, n, off, off + n) !== 0) return false;
  }
  return true;
}

export interface ChunkWriterSettings {
  /** Bytes announced by the caller; 0 = unknown (resize-before-write). */
  expectedSize: number;
  /** WRITE_CHUNKSIZE in bytes: the first step of the resize ramp. */
  chunkBytes: number;
  /** Skip (do not write) all-zero chunks: the image stays sparse. */
  thinProvisioning: boolean;
  concurrency: number;
  /** Digests of the data; none when absent. */
  hasher?: ChunkHasher;
  /** The error for data longer than expectedSize. Default: a RangeError. */
  tooLong?: (expected: number, got: number) => Error;
  signal?: AbortSignal;
  onProgress?: (bytesWritten: number, total?: number) => void;
  /** The cap of the resize ramp; MAX_RESIZE_STEP unless a test says otherwise. */
  maxResizeStep?: number;
  /**
   * The cluster's op timeout (rados_osd_op_timeout) in ms, 0 = none: a
   * write still in flight after that long fails the upload with TimedOut
   * (librbd resends a timed-out write once, so its own error comes a whole
   * timeout later).
   */
  stallMs?: number;
}

export interface ChunkWriterOutcome {
  /** Bytes read from the source (= written, counting skipped zero chunks). */
  bytes: number;
  /** The image size at the end of the write phase (before any trim). */
  imageSize: number;
  /** The hasher's digests (absent without a hasher). */
  checksum?: string;
  multihash?: string;
}

function abortError(signal: AbortSignal): AbortError {
  return new AbortError(undefined, { cause: signal.reason });
}

/** Writes one source into one image. */
export class ChunkWriter {
  readonly #image: Image;
  readonly #s: ChunkWriterSettings;
  /** Next write offset = bytes taken from the source so far. */
  #offset = 0;
  /** Bytes whose write and hashing are both done (progress). */
  #done = 0;
  /** Resize-before-write state, this writer's own. */
  #size: number;
  #resizeAmount: number;
  #inflight = 0;
  #failure: { error: unknown } | null = null;
  #wake: (() => void) | null = null;
  #wroteAny = false;
  /** Start times of the writes in flight, oldest first (by submission), for the stall check. */
  readonly #writeStarts = new Map<number, number>();
  #stallTimer: NodeJS.Timeout | undefined;

  constructor(image: Image, settings: ChunkWriterSettings) {
    this.#image = image;
    this.#s = settings;
    this.#size = settings.expectedSize;
    this.#resizeAmount = settings.chunkBytes;
  }

  /** Feeds every chunk of `source` to the image; rejects with the first failure (source, write, hash or abort). */
  async run(source: ChunkSource): Promise<ChunkWriterOutcome> {
    const { signal } = this.#s;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    const chunks = source.chunks;
    let ok = false;
    try {
      for (;;) {
        this.#throwIfFailed();
        if (signal?.aborted) throw abortError(signal);
        const next = signal ? await Promise.race([chunks.next(), aborted]) : await chunks.next();
        if (next.done) break;
        await this.#submit(next.value);
      }
      await this.#drain(true);
      this.#throwIfFailed();
      if (this.#wroteAny) await this.#image.aioFlush();
      const digests = this.#s.hasher ? await this.#s.hasher.digest() : {};
      ok = true;
      return { bytes: this.#offset, imageSize: this.#size, ...digests };
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      clearTimeout(this.#stallTimer);
      if (!ok) {
        await source.close(true);
        // Let a generator clean up its buffers, but never wait on a stalled source.
        void chunks.return(undefined).catch(() => undefined);
        // A cluster that stopped answering fails the other writes in flight
        // the same way, up to an op timeout later: not worth waiting for (each
        // chunk is released when its write settles, and closing the image
        // waits for them). Anything else: settle everything first.
        if (!(this.#failure?.error instanceof TimedOut || this.#failure?.error instanceof ConnectionError)) await this.#drain();
      }
    }
  }

  /** Waits for a free slot, grows the image if needed, then starts the write and the hashing of one chunk. */
  async #submit(chunk: Chunk): Promise<void> {
    const { expectedSize, concurrency, signal } = this.#s;
    const len = chunk.buf.length;
    try {
      if (expectedSize !== 0 && this.#offset + len > expectedSize) {
        const got = this.#offset + len;
        throw this.#s.tooLong?.(expectedSize, got) ?? new RangeError(`the data exceeds the expected size: expected ${expectedSize} bytes, got ${got} bytes`);
      }
      while (this.#inflight >= concurrency && !this.#failure) await this.#slotFreed();
      this.#throwIfFailed();
      if (signal?.aborted) throw abortError(signal);
      if (expectedSize === 0 && this.#size < this.#offset + len) {
        this.#resizeAmount = Math.min(this.#resizeAmount * 2, this.#s.maxResizeStep ?? MAX_RESIZE_STEP);
        this.#size += this.#resizeAmount;
        await this.#image.resize(this.#size);
      }
    } catch (err) {
      chunk.release?.();
      throw err;
    }
    const offset = this.#offset;
    this.#offset += len;
    const skip = this.#s.thinProvisioning && isAllZero(chunk.buf);
    const work: Array<Promise<unknown> | undefined> = [];
    if (!skip) {
      this.#wroteAny = true;
      work.push(this.#watched(offset, this.#image.aioWrite(chunk.buf, offset)));
    }
    if (this.#s.hasher) {
      try {
        work.push(this.#s.hasher.update(chunk.buf));
      } catch (err) {
        work.push(Promise.reject(err));
      }
    }
    this.#inflight++;
    // Settle only when both are done: the buffer is in use until then.
    void Promise.allSettled(work).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      this.#settle(chunk, len, failed ? { error: failed.reason } : null);
    });
  }

  #settle(chunk: Chunk, len: number, failure: { error: unknown } | null): void {
    this.#inflight--;
    chunk.release?.();
    if (failure) {
      this.#failure ??= failure;
    } else if (!this.#failure) {
      this.#done += len;
      try {
        this.#s.onProgress?.(this.#done, this.#s.expectedSize === 0 ? undefined : this.#s.expectedSize);
      } catch (err) {
        this.#failure ??= { error: err };
      }
    }
    this.#wakeWaiter();
  }

  /** Tracks a write for the stall check while it is in flight. */
  #watched<T>(offset: number, write: Promise<T>): Promise<T> {
    if (!this.#s.stallMs) return write;
    this.#writeStarts.set(offset, Date.now());
    this.#armStallCheck();
    const done = (): void => void this.#writeStarts.delete(offset);
    write.then(done, done);
    return write;
  }

  /**
   * Arms one timer (if none is pending) for when the oldest write in flight
   * is due. When it fires it fails the upload if that write is overdue, or
   * re-arms for the write that is oldest now: no timer work per write.
   */
  #armStallCheck(): void {
    if (this.#stallTimer !== undefined || this.#failure) return;
    const oldest = this.#writeStarts.values().next();
    if (oldest.done) return;
    const stallMs = this.#s.stallMs ?? 0;
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      const started = this.#writeStarts.values().next();
      if (started.done || this.#failure) return;
      if (Date.now() - started.value < stallMs) return this.#armStallCheck();
      this.#failure = {
        error: cephError(TimedOut, 'Image.aioWrite', constants.errno.ETIMEDOUT, `no reply from the cluster within the op timeout (${stallMs} ms)`, {
          family: 'rbd',
          pool: this.#image.pool,
          image: this.#image.name,
        }),
      };
      this.#wakeWaiter();
    }, Math.max(0, oldest.value + stallMs - Date.now()));
    this.#stallTimer.unref();
  }

  /** Lets the loop waiting for a free slot (or the drain) look again. */
  #wakeWaiter(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Rethrows the first failure of a chunk in flight. */
  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }

  #slotFreed(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  /** Waits until nothing is in flight (or, with `untilFailure`, until something failed). */
  async #drain(untilFailure = false): Promise<void> {
    while (this.#inflight > 0 && !(untilFailure && this.#failure)) await this.#slotFreed();
  }
}
