/**
 * Watch/notify on RADOS objects. A watcher's listener runs on the JS thread
 * for every notify; what it returns (or resolves with) is the ack payload
 * sent back to the notifier. Closing the watch (or its IoCtx, or the
 * connection) unregisters it: a closed watch never calls back.
 *
 *   const w = await ioctx.watch('obj', (n) => `seen ${n.payload}`);
 *   const { acks } = await ioctx.notify('obj', 'hello');   // acks[0].payload: 'seen hello'
 */
import { type CephError } from './errors';
import { componentLogger } from './logger';
import { addon, type NativeRadosWatch } from './native';
import { IoCtx, Rados } from './rados';
import { bytes, extend } from './rados-extend';
import './setup';
import { checkBuffer, checkFunction, checkInteger, checkName, checkObject, invalidType } from './validate';

export interface Notification {
  notifyId: bigint;
  /** The notifier's client instance id (Rados.instanceId()). */
  notifierId: bigint;
  /** The watch cookie. */
  cookie: bigint;
  payload: Buffer;
}
export type NotifyListener = (n: Notification) => Uint8Array | string | void | Promise<Uint8Array | string | void>;

export interface WatchOptions {
  /** Seconds without confirmation after which the OSD drops the watch (0: the cluster's default). */
  timeoutSeconds?: number;
  /** Called when the watch breaks (e.g. NotConnected): re-establish it if you still need it. */
  onError?: (error: CephError) => void;
}

export interface NotifyResult {
  acks: Array<{ notifierId: bigint; cookie: bigint; payload: Buffer }>;
  /** Watchers that did not ack in time. */
  timeouts: Array<{ notifierId: bigint; cookie: bigint }>;
}

/** A registered watch (rados_watch3). */
export class Watch {
  readonly #native: NativeRadosWatch;
  readonly ioctx: IoCtx;

  /** @internal */
  constructor(native: NativeRadosWatch, ioctx: IoCtx) {
    this.#native = native;
    this.ioctx = ioctx;
  }

  get cookie(): bigint {
    return this.#native.cookie;
  }
  get oid(): string {
    return this.#native.oid;
  }
  get state(): 'open' | 'closing' | 'closed' {
    return this.#native.state;
  }

  /** Milliseconds since the OSD last confirmed the watch; throws NotConnected (…) once it broke. */
  check(): number {
    return this.#native.check();
  }

  /** Unregisters the watch (rados_unwatch2, then waits out callbacks in flight). Idempotent. */
  close(): Promise<void> {
    return this.#native.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

declare module './rados' {
  interface IoCtx {
    /** Watches `oid`; `listener` answers each notify (its return value is the ack payload). */
    watch(oid: string, listener: NotifyListener, options?: WatchOptions): Promise<Watch>;
    /** Notifies every watcher of `oid` and waits (up to timeoutMs, default 30 s) for their acks. */
    notify(oid: string, payload?: Uint8Array | string, options?: { timeoutMs?: number }): Promise<NotifyResult>;
  }
  interface Rados {
    /** Waits until every watch callback already queued has run (rados_watch_flush). */
    watchFlush(): Promise<void>;
  }
}

const log = componentLogger('Watch');

function ackPayload(value: unknown): Buffer {
  if (value === undefined || value === null) return Buffer.alloc(0);
  if (typeof value === 'string') return Buffer.from(value);
  if (value instanceof Uint8Array) return checkBuffer(value, 'ack payload');
  throw invalidType('ack payload', 'a Buffer, a string or undefined', value);
}

extend(IoCtx.prototype, {
  async watch(this: IoCtx, oid: string, listener: NotifyListener, options: WatchOptions = {}): Promise<Watch> {
    const name = checkName(oid, 'oid');
    const fn = checkFunction<NotifyListener>(listener, 'listener');
    if (!fn) throw invalidType('listener', 'a function', listener);
    const o = checkObject<WatchOptions>(options, 'options');
    const timeout = o.timeoutSeconds === undefined ? 0 : checkInteger(o.timeoutSeconds, 'options.timeoutSeconds', 0, 2 ** 32 - 1);
    const onError = checkFunction<(e: CephError) => void>(o.onError, 'options.onError');
    const native = this.native;
    const ack = async (n: Notification): Promise<void> => {
      let reply: Buffer;
      try {
        reply = ackPayload(await fn(n));
      } catch (err) {
        log.warn('watch listener failed; acking with an empty payload', { err, oid: name });
        reply = Buffer.alloc(0);
      }
      // The notifier waits for every ack: answer even when the listener failed.
      await addon.rados.notifyAck(native, name, n.notifyId, n.cookie, reply).catch(() => undefined);
    };
    const onEvent = (kind: 'notify' | 'error', ...args: unknown[]): void => {
      if (kind === 'error') {
        onError?.(args[0] as CephError);
        return;
      }
      const [notifyId, notifierId, cookie, payload] = args as [bigint, bigint, bigint, Buffer];
      void ack({ notifyId, notifierId, cookie, payload });
    };
    return new Watch(await addon.rados.watch(native, name, timeout, onEvent), this);
  },
  async notify(this: IoCtx, oid: string, payload: Uint8Array | string = Buffer.alloc(0), options: { timeoutMs?: number } = {}): Promise<NotifyResult> {
    const o = checkObject<{ timeoutMs: number }>(options, 'options');
    const timeout = o.timeoutMs === undefined ? 30_000 : checkInteger(o.timeoutMs, 'options.timeoutMs', 1, 2 ** 31 - 1);
    return addon.rados.notify(this.native, checkName(oid, 'oid'), bytes(payload, 'payload', checkBuffer), timeout);
  },
});

extend(Rados.prototype, {
  async watchFlush(this: Rados): Promise<void> {
    return addon.rados.watchFlush(this.native);
  },
});
