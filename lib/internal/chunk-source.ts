/**
 * Upload sources, cut into write-sized chunks with as few copies as the
 * source allows:
 *
 * - a Buffer: subarrays of it, no copy;
 * - a file path: read straight into reusable chunk buffers (one copy, the
 *   kernel's);
 * - a Readable or (async) iterable of pieces of any size (e.g. 16 KiB behind
 *   a proxy): a piece that starts on a chunk boundary and holds a whole chunk
 *   is passed on as a subarray; smaller pieces are gathered into a reusable
 *   chunk buffer.
 *
 * Every chunk but the last is exactly `unit` bytes, so writes stay aligned.
 * A chunk's buffer goes back to the pool (release) once the upload is done
 * with it; the pool only ever holds the buffers the upload has in flight.
 * Pieces a stream yields are taken as the caller's to give away (Node's
 * stream contract): they are not copied and must not be changed afterwards.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

import { addon } from '../native';
import { invalidType } from '../validate';
import type { ByteBudget } from './byte-budget';

/** What add() accepts as image data. */
export type UploadSource = Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array | string;

export interface Chunk {
  buf: Buffer;
  /** Gives the buffer back for reuse; absent for views of the caller's memory. */
  release?: () => void;
}

export interface ChunkSource {
  chunks: AsyncGenerator<Chunk, void, undefined>;
  /**
   * Releases the source: closes a file; after a failure or an abort
   * (`failed`) also stops reading a stream or iterator (its return(), as
   * `for await … break` does; a Readable is not destroyed). Idempotent.
   */
  close(failed: boolean): Promise<void>;
}

/**
 * Reusable buffers of one size, for the chunks in flight. With a budget,
 * each buffer is counted in it from its allocation until the pool is closed
 * (a free buffer is reused before a new one is counted); take() waits while
 * the budget is spent and none of the pool's own buffers is free.
 */
class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #budget: ByteBudget | undefined;
  /** Bytes this pool counts in the budget. */
  #held = 0;
  #closed = false;
  #returned: (() => void) | null = null;

  constructor(
    readonly size: number,
    budget?: ByteBudget,
  ) {
    this.#budget = budget;
  }

  async take(): Promise<{ buf: Buffer; release: () => void }> {
    for (;;) {
      if (this.#closed) throw new Error('the upload source was closed');
      const buf = this.#free.pop() ?? (await this.#allocate());
      if (buf) return this.#slot(buf);
      const own = new Promise<void>((resolve) => (this.#returned = resolve));
      // Holding nothing: wait for anyone's release (and let the others know).
      await Promise.race([this.#held === 0 ? this.#budget?.starve() : this.#budget?.released(), own]);
    }
  }

  /**
   * A new buffer, or undefined while the budget is spent. Pooled memory
   * (native/common/buffer_pool.h): a new block is mapped and first written
   * on a worker thread, not on the event loop.
   */
  async #allocate(): Promise<Buffer | undefined> {
    if (this.#budget) {
      // Someone holds nothing: do not grow past our first buffer.
      if (this.#held > 0 && this.#budget.contended) return undefined;
      if (!this.#budget.tryAcquire(this.size)) return undefined;
      this.#held += this.size;
    }
    try {
      return await addon.allocPooledBufferAsync(this.size);
    } catch (err) {
      if (this.#budget) {
        this.#held -= this.size;
        this.#budget.release(this.size);
      }
      throw err;
    }
  }

  #slot(buf: Buffer): { buf: Buffer; release: () => void } {
    let given = false;
    return {
      buf,
      release: () => {
        if (given) return;
        given = true;
        if (this.#closed) return;
        if (this.#budget?.contended && this.#held > this.size) {
          // Another upload waits for its first buffer: give this one back.
          this.#held -= this.size;
          this.#budget.release(this.size);
          return;
        }
        this.#free.push(buf);
        const wake = this.#returned;
        this.#returned = null;
        wake?.();
      },
    };
  }

  /** Gives everything the pool counted back to the budget (buffers still in a write are freed by the GC once it settles). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#free.length = 0;
    if (this.#held > 0) this.#budget?.release(this.#held);
    this.#held = 0;
    const wake = this.#returned;
    this.#returned = null;
    wake?.();
  }
}

function toBuffer(piece: unknown): Buffer {
  if (Buffer.isBuffer(piece)) return piece;
  if (piece instanceof Uint8Array) return Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  throw invalidType('a chunk of source', 'a Buffer or Uint8Array', piece);
}

async function* fromBuffer(data: Buffer, unit: number): AsyncGenerator<Chunk, void, undefined> {
  for (let off = 0; off < data.length; off += unit) yield { buf: data.subarray(off, off + unit) };
}

async function* fromFile(file: FileHandle, pool: BufferPool): AsyncGenerator<Chunk, void, undefined> {
  const unit = pool.size;
  for (;;) {
    const slot = await pool.take();
    let fill = 0;
    try {
      while (fill < unit) {
        const { bytesRead } = await file.read(slot.buf, fill, unit - fill, null);
        if (bytesRead === 0) break;
        fill += bytesRead;
      }
    } catch (err) {
      slot.release();
      throw err;
    }
    if (fill === 0) {
      slot.release();
      return;
    }
    yield { buf: fill === unit ? slot.buf : slot.buf.subarray(0, fill), release: slot.release };
    if (fill < unit) return;
  }
}

async function* rechunk(pieces: AsyncIterator<unknown>, pool: BufferPool): AsyncGenerator<Chunk, void, undefined> {
  const unit = pool.size;
  let staging: { buf: Buffer; release: () => void } | null = null;
  let fill = 0;
  try {
    for (;;) {
      const next = await pieces.next();
      if (next.done) break;
      let piece = toBuffer(next.value);
      while (piece.length > 0) {
        if (fill === 0 && piece.length >= unit) {
          // A whole chunk on a chunk boundary: pass it on without a copy.
          yield { buf: piece.subarray(0, unit) };
          piece = piece.subarray(unit);
          continue;
        }
        staging ??= await pool.take();
        const n = piece.copy(staging.buf, fill);
        fill += n;
        piece = piece.subarray(n);
        if (fill === unit) {
          const full = staging;
          staging = null;
          fill = 0;
          yield full;
        }
      }
    }
    if (staging !== null && fill > 0) {
      const last = staging;
      staging = null;
      yield { buf: last.buf.subarray(0, fill), release: last.release };
    }
  } finally {
    staging?.release();
  }
}

function syncToAsync(it: Iterator<unknown>): AsyncIterator<unknown> {
  return {
    next: async () => it.next(),
    return: async (value?: unknown) => it.return?.(value) ?? { done: true, value: undefined },
  };
}

/**
 * Opens a source for reading in `unit`-byte chunks; with a budget, the
 * chunk buffers it allocates are counted in it until close(). A path is
 * opened here, so a missing file fails before anything is created in the
 * cluster.
 */
export async function openSource(source: UploadSource, unit: number, budget?: ByteBudget): Promise<ChunkSource> {
  if (typeof source === 'string') {
    const file = await open(source, 'r');
    const pool = new BufferPool(unit, budget);
    let closed = false;
    return {
      chunks: fromFile(file, pool),
      async close() {
        if (closed) return;
        closed = true;
        pool.close();
        await file.close().catch(() => undefined);
      },
    };
  }
  if (source instanceof Uint8Array) {
    const data = toBuffer(source);
    return { chunks: fromBuffer(data, unit), close: async () => undefined };
  }
  if (source !== null && typeof source === 'object' && (Symbol.asyncIterator in source || Symbol.iterator in source)) {
    // A Readable is left to its owner after a failure (not destroyed): an
    // HTTP server still has to answer on the request's socket.
    const it: AsyncIterator<unknown> =
      source instanceof Readable
        ? source.iterator({ destroyOnReturn: false })
        : Symbol.asyncIterator in source
          ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]()
          : syncToAsync((source as Iterable<unknown>)[Symbol.iterator]());
    const pool = new BufferPool(unit, budget);
    let stopped = false;
    return {
      chunks: rechunk(it, pool),
      async close(failed: boolean) {
        pool.close();
        if (stopped || !failed) return;
        stopped = true;
        // Stop reading, as `for await … break` would; the source may be
        // waiting for data that never comes, so do not wait for it.
        void Promise.resolve(it.return?.()).catch(() => undefined);
      },
    };
  }
  throw invalidType('source', 'a Readable, an (async) iterable of Buffers, a Buffer or a file path', source);
}
