/** Waiting, retrying and limiting, shared by the components. */

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

/** A counting semaphore; size 0 = unlimited. */
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

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
