/** Small shared pieces of the Cinder layer: retry, flatten limiter, units, features, logging. */
import { Features } from '../constants';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** An injectable logger (the library prints nothing by default). */
export interface Logger {
  debug?(message: string, ...args: unknown[]): void;
  info?(message: string, ...args: unknown[]): void;
  warn?(message: string, ...args: unknown[]): void;
  error?(message: string, ...args: unknown[]): void;
}

export const silentLogger: Logger = {};

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface RetryPolicy {
  /** Total attempts (Cinder's `retries`); at least one attempt is always made. */
  retries: number;
  /** Base interval in ms; the wait after attempt n is interval × 2^(n-1). */
  intervalMs: number;
}

/**
 * Cinder's `utils.retry`: runs `fn` up to `retries` times in total while it
 * fails with an error `shouldRetry` accepts, waiting interval × 2^(n-1)
 * after the n-th failed attempt; the last error is re-thrown as it is.
 */
export async function retry<T>(policy: RetryPolicy, shouldRetry: (err: unknown) => boolean, fn: (attempt: number) => Promise<T>): Promise<T> {
  const attempts = Math.max(1, policy.retries);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= attempts || !shouldRetry(err)) throw err;
      await sleep(policy.intervalMs * 2 ** (attempt - 1));
    }
  }
}

/** A counting semaphore; size 0 = unlimited (rbd_concurrent_flatten_operations). */
export class Semaphore {
  readonly #size: number;
  #active = 0;
  readonly #waiters: Array<() => void> = [];

  constructor(size: number) {
    this.#size = size;
  }

  get active(): number {
    return this.#active;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#size > 0 && this.#active >= this.#size) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    } else {
      this.#active++;
    }
    try {
      return await fn();
    } finally {
      const next = this.#waiters.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

const FEATURE_NAMES: Record<string, number> = {
  layering: Features.LAYERING,
  striping: Features.STRIPINGV2,
  'exclusive-lock': Features.EXCLUSIVE_LOCK,
  'object-map': Features.OBJECT_MAP,
  'fast-diff': Features.FAST_DIFF,
  'deep-flatten': Features.DEEP_FLATTEN,
  journaling: Features.JOURNALING,
  'data-pool': Features.DATA_POOL,
};

/**
 * The cluster's `rbd_default_features` as a bitmask, LAYERING when unset or
 * 0 (Cinder's RADOSClient.features). Ceph stores the option as a decimal
 * string; a comma-separated list of names is accepted too.
 */
export function parseDefaultFeatures(value: string | null | undefined): number {
  if (value === null || value === undefined || value.trim() === '') return Features.LAYERING;
  const v = value.trim();
  let bits = 0;
  if (/^\d+$/.test(v)) {
    bits = Number(v);
  } else {
    for (const name of v.split(',')) bits |= FEATURE_NAMES[name.trim()] ?? 0;
  }
  return bits === 0 ? Features.LAYERING : bits;
}

/** int(log2(bytes)), the object order for a chunk/stripe size in bytes. */
export function orderFor(bytes: number): number {
  return Math.floor(Math.log2(bytes));
}

/** Bytes → GiB rounded up (Cinder's int(math.ceil(float(size) / units.Gi))). */
export function ceilGiB(bytes: number): number {
  return Math.ceil(bytes / GiB);
}

/** Python's round(x, 2) on a float GiB value, for capacity reports. */
export function gib2(bytes: number): number {
  return Math.round((bytes / GiB) * 100) / 100;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
