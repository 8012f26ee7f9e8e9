/** Options of long operations (flatten, remove, copy, resize, rollback, …). */
import { AbortError, abortAware } from './errors';
import type { CancelFlag, ProgressFn } from './native';
import { checkFunction, checkObject, checkSignal } from './validate';

export interface LongOperationOptions {
  /**
   * Called on the JS thread with (done, total) as librbd reports progress
   * (coalesced to the newest); the last report comes before the operation settles.
   */
  onProgress?: (done: number, total: number) => void;
  /** Stops the operation where librbd can stop; it then rejects with AbortError. */
  signal?: AbortSignal;
}

/**
 * Runs a native long operation with progress and cancellation: librbd's
 * progress callback returns non-zero once the signal aborts, via a shared
 * Int32Array flag the worker thread reads.
 */
export async function runLong<T>(
  options: LongOperationOptions | undefined,
  start: (onProgress: ProgressFn | undefined, cancel: CancelFlag | undefined) => Promise<T>,
): Promise<T> {
  const opts = checkObject<LongOperationOptions>(options, 'options');
  const onProgress = checkFunction<ProgressFn>(opts.onProgress, 'options.onProgress');
  const signal = checkSignal(opts.signal);
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  if (!signal) return start(onProgress, undefined);
  const flag = new Int32Array(1);
  const onAbort = (): void => {
    Atomics.store(flag, 0, 1);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await abortAware(start(onProgress, flag), signal);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
