/**
 * The upload's two digests (MD5 `checksum` and the `multihash`), fed every
 * chunk in order. Two ways to run them:
 *
 * - 'native' (default): native/hash.cc hashes on libuv worker threads, one
 *   serial lane per algorithm, so MD5, the multihash and the writes all run
 *   at once and the JS thread only moves buffers.
 * - 'js': node:crypto on the JS thread, as Glance does (kept to compare).
 */
import { createHash, type Hash } from 'node:crypto';

import type { ChunkHasher } from '../internal/chunk-writer';
import { addon, type NativeHasher } from '../native';

export type { ChunkHasher };

export type HashOn = 'native' | 'js';

class NativeChunkHasher implements ChunkHasher {
  readonly #h: NativeHasher;
  constructor(algo: string) {
    this.#h = addon.createHasher(['md5', algo]);
  }
  update(chunk: Buffer): Promise<void> {
    return this.#h.update(chunk);
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
