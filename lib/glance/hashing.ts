/**
 * The upload's two digests (MD5 `checksum` and the `multihash`), fed every
 * chunk in order. Two ways to run them:
 *
 * - 'native' (default): native/hash.cc hashes on libuv worker threads, one
 *   serial lane per algorithm, so MD5, the multihash and the writes all run
 *   at once and the JS thread only moves buffers; the uploads of a process
 *   share a bounded number of hash lanes (hashLanes).
 * - 'js': node:crypto on the JS thread, as Glance does (kept to compare).
 */
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';

import type { ChunkHasher } from '../internal/chunk-writer';
import { Semaphore } from '../internal/retry';
import { addon, type NativeHasher } from '../native';

export type { ChunkHasher };

export type HashOn = 'native' | 'js';

/**
 * Hash lanes shared by every upload of the process: at most this many
 * chunks are being hashed at once (each by both of its algorithms, in
 * parallel), first come first served. Eight uploads otherwise queue sixteen
 * hash jobs on libuv's four worker threads, and file reads and other work of
 * the process wait behind them; one upload alone is not slowed (its chunks
 * are hashed one after another anyway).
 */
/** Half the CPUs (at least one): each lane keeps two worker threads busy (MD5 and the multihash). */
export const hashLanes = new Semaphore(Math.max(1, Math.floor(availableParallelism() / 2)));

class NativeChunkHasher implements ChunkHasher {
  readonly #h: NativeHasher;
  constructor(algo: string) {
    this.#h = addon.createHasher(['md5', algo]);
  }
  update(chunk: Buffer): Promise<void> {
    return hashLanes.run(() => this.#h.update(chunk));
  }
  async digest(): Promise<{ checksum: string; multihash: string }> {
    const [checksum, multihash] = await this.#h.digest();
    return { checksum, multihash };
  }
}

class JsChunkHasher implements ChunkHasher {
  readonly #md5: Hash;
  readonly #multi: Hash;
  constructor(algo: string) {
    this.#md5 = createHash('md5');
    this.#multi = createHash(algo);
  }
  update(chunk: Buffer): undefined {
    this.#md5.update(chunk);
    this.#multi.update(chunk);
    return undefined;
  }
  async digest(): Promise<{ checksum: string; multihash: string }> {
    return { checksum: this.#md5.digest('hex'), multihash: this.#multi.digest('hex') };
  }
}

/** Whether node:crypto knows the algorithm (what Glance's hashlib.new would accept, roughly). */
export function isKnownHashAlgo(algo: string): boolean {
  try {
    createHash(algo);
    return true;
  } catch {
    return false;
  }
}

/** Whether the native hasher (OpenSSL's EVP_get_digestbyname) knows the algorithm. */
export function isNativeHashAlgo(algo: string): boolean {
  try {
    addon.createHasher([algo]);
    return true;
  } catch {
    return false;
  }
}

/** A hasher for one upload. */
export function createChunkHasher(algo: string, on: HashOn): ChunkHasher {
  return on === 'native' ? new NativeChunkHasher(algo) : new JsChunkHasher(algo);
}
