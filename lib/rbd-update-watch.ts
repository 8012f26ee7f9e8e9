/**
 * Image update watches and quiesce watches. Callbacks run on the JS thread.
 * A watch ends with `unwatch()` or when the image closes (a closed image
 * never calls back). A watch does not keep the process alive.
 */
import { type NativeWatchEvent, addon } from './native';
import { Image } from './rbd';
import './setup';
import { checkFunction, checkObject, invalidType } from './validate';

/** A registered watch. */
export interface ImageWatch {
  /** Unregisters; resolves once librbd will not call back any more. Idempotent. */
  unwatch(): Promise<void>;
}

export interface QuiesceHandlers {
  /**
   * librbd asks this client to quiesce before a snapshot: finish or pause
   * writes, then resolve (the snapshot waits). A rejection fails the
   * snapshot unless it is created with ignoreQuiesceError.
   */
  onQuiesce(): void | Promise<void>;
  /** The snapshot is taken: writes may resume. */
  onUnquiesce?(): void;
}

/** A throwing user callback surfaces like a throwing event listener, without breaking the watch. */
function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

function makeWatch(image: Image, key: number): ImageWatch {
  let done: Promise<void> | undefined;
  return {
    unwatch(): Promise<void> {
      done ??= addon.rbdx.unwatch(image.native, key);
      return done;
    },
  };
}

declare module './rbd' {
  interface Image {
    /**
     * Calls `callback` when the image header changes (resize, snapshots,
     * features, metadata, by this or another client). Bursts may be
     * coalesced into one call.
     */
    watchUpdates(callback: () => void): Promise<ImageWatch>;
    /** Takes part in quiesce before snapshots (rbd_quiesce_watch). */
    watchQuiesce(handlers: QuiesceHandlers): Promise<ImageWatch>;
  }
}

Image.prototype.watchUpdates = async function watchUpdates(this: Image, callback: () => void): Promise<ImageWatch> {
  const cb = checkFunction<() => void>(callback, 'callback');
  if (!cb) throw invalidType('callback', 'a function', callback);
  const key = await addon.rbdx.updateWatch(this.native, () => {
    try {
      cb();
    } catch (err) {
      rethrowLater(err);
    }
  });
  return makeWatch(this, key);
};

Image.prototype.watchQuiesce = async function watchQuiesce(this: Image, handlers: QuiesceHandlers): Promise<ImageWatch> {
  const h = checkObject<QuiesceHandlers>(handlers, 'handlers');
  const onQuiesce = checkFunction<() => void | Promise<void>>(h.onQuiesce, 'handlers.onQuiesce');
  if (!onQuiesce) throw invalidType('handlers.onQuiesce', 'a function', h.onQuiesce);
  const onUnquiesce = checkFunction<() => void>(h.onUnquiesce, 'handlers.onUnquiesce');
  const native = this.native;
  const key = await addon.rbdx.quiesceWatch(native, (event: NativeWatchEvent, handle: number) => {
    if (event === 'quiesce') {
      Promise.resolve()
        .then(() => onQuiesce())
        .then(
          () => 0,
          (err: unknown) => {
            const errno = (err as { errno?: unknown }).errno;
            return typeof errno === 'number' && errno < 0 ? errno : -5;
          },
        )
        .then((rc) => {
          if (native.state === 'open') addon.rbdx.quiesceComplete(native, handle, rc);
        })
        .catch(rethrowLater);
    } else if (event === 'unquiesce' && onUnquiesce) {
      try {
        onUnquiesce();
      } catch (err) {
        rethrowLater(err);
      }
    }
  });
  return makeWatch(this, key);
};
