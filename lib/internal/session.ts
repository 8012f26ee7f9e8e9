/**
 * One cluster connection per component, made on first use and reused by
 * every operation (docs/DESIGN.md#d7-one-connection-per-component):
 *
 * - connect with the component's options (timeouts included), retried by a
 *   policy; any failure is logged and becomes the component's error
 *   ("Error connecting to ceph cluster.");
 * - one I/O context per pool, cached, in full-try mode when asked (as
 *   `rbd rm` uses it: on a pool flagged full, deletes go through and writes
 *   fail at once with NoSpace instead of waiting for space);
 * - run(): an operation that finds the connection lost (ConnectionError, or
 *   a handle closed because the connection was shut down under us) is run
 *   again on a fresh connection, within the reconnect policy;
 * - fsid(): the cluster fsid, asked of the monitors when librados reports
 *   zeroes (its monmap came from `mon host` without an fsid).
 */
import { ConnectionError, HandleClosedError } from '../errors';
import type { Logger } from '../logger';
import { type ConnectOptions, type IoCtx, Rados } from '../rados';
import { cephError } from './ceph-error';
import { errorText, retry, sleep, type RetryPolicy } from './retry';

/** Fsids read so far, by connection. */
const FSIDS = new WeakMap<Rados, string>();

export interface SessionSettings {
  /** How to connect: passed to Rados.connect. */
  connect: ConnectOptions;
  /** A pool opened as part of connecting (a missing pool fails the connect). */
  pool?: string;
  /** Open I/O contexts in full-try mode. */
  fullTry: boolean;
  /** Connect attempts and the wait between them. Default: one attempt. */
  connectPolicy?: RetryPolicy;
  /** Attempts of an operation whose connection was lost, and the wait between them. */
  reconnectPolicy: RetryPolicy;
  /** The component's error for a failed connect (its cause is the librados error). */
  connectError: (cause: unknown) => Error;
  /** The error of a call after close(). */
  closedError: () => Error;
  logger: Logger;
}

interface Live {
  rados: Rados;
  ioctxs: Map<string, Promise<IoCtx>>;
}

export class ClusterSession {
  readonly #s: SessionSettings;
  #live: Promise<Live> | undefined;
  #closed = false;
  /** The fsid last read by fsid(), for reports made while disconnected. */
  knownFsid: string | undefined;

  constructor(settings: SessionSettings) {
    this.#s = settings;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The connected cluster (connecting first when needed). */
  async rados(): Promise<Rados> {
    return (await this.#get()).rados;
  }

  /** An I/O context on `pool`, cached per pool and connection (full-try when the settings say so). */
  async ioctx(pool: string): Promise<IoCtx> {
    const live = await this.#get();
    let p = live.ioctxs.get(pool);
    if (!p) {
      p = live.rados.openIoctx(pool).then((io) => {
        if (this.#s.fullTry) io.setPoolFullTry(true);
        return io;
      });
      live.ioctxs.set(pool, p);
      p.catch(() => {
        if (live.ioctxs.get(pool) === p) live.ioctxs.delete(pool);
      });
    }
    const io = await p;
    if (io.state === 'open') return io;
    if (live.ioctxs.get(pool) === p) live.ioctxs.delete(pool);
    return this.ioctx(pool);
  }

  /**
   * Runs `fn`; if the connection turns out lost, drops it and runs `fn`
   * again on a new one (up to the reconnect policy's attempts).
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const policy = this.#s.reconnectPolicy;
    const attempts = Math.max(1, policy.retries);
    for (let attempt = 1; ; attempt++) {
      const live = await this.#get();
      try {
        return await fn();
      } catch (err) {
        if (attempt >= attempts || this.#closed || !isLost(err, live.rados)) throw err;
        this.#s.logger.warn(`connection lost (${errorText(err)}); reconnecting`);
        await this.#drop(live);
        if (policy.intervalMs > 0) await sleep(policy.intervalMs * 2 ** (attempt - 1));
      }
    }
  }

  /** run() on an I/O context of `pool`. */
  withIoctx<T>(pool: string, fn: (ioctx: IoCtx) => Promise<T>): Promise<T> {
    return this.run(async () => fn(await this.ioctx(pool)));
  }

  /**
   * The cluster fsid. librados reports all zeroes when its initial monmap
   * came from `mon host` without an fsid (a ceph.conf without `fsid`); the
   * monitors then answer instead.
   */
  async fsid(): Promise<string> {
    const cluster = await this.rados();
    try {
      this.knownFsid = await ClusterSession.fsidOf(cluster);
    } catch (err) {
      throw this.#s.connectError(err);
    }
    return this.knownFsid;
  }

  /** fsid() of any connection (cached per connection). */
  static async fsidOf(cluster: Rados): Promise<string> {
    let fsid = FSIDS.get(cluster);
    if (fsid === undefined) {
      fsid = cluster.clusterFsid;
      if (/^[0-]*$/.test(fsid)) {
        const reply = await cluster.monCommand({ prefix: 'fsid', format: 'json' });
        if (reply.status < 0) throw cephError(ConnectionError, 'Rados.fsid', -reply.status, reply.outs || 'the monitors did not answer');
        fsid = (JSON.parse(reply.outbuf.toString()) as { fsid: string }).fsid;
      }
      FSIDS.set(cluster, fsid);
    }
    return fsid;
  }

  /** Shuts the connection down; later calls fail with the closed error. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#live;
    this.#live = undefined;
    const live = await current?.catch(() => undefined);
    if (live) await live.rados.shutdown().catch(() => undefined);
  }

  async #drop(live: Live): Promise<void> {
    const current = this.#live;
    if (current) {
      const now = await current.catch(() => undefined);
      if (now === live && this.#live === current) this.#live = undefined;
    }
    await live.rados.shutdown().catch(() => undefined);
  }

  #get(): Promise<Live> {
    if (this.#closed) return Promise.reject(this.#s.closedError());
    const current = this.#live;
    if (current) {
      return current.then((live) => {
        if (live.rados.state === 'open') return live;
        if (this.#live === current) this.#live = undefined;
        return this.#get();
      });
    }
    const p = this.#connect();
    this.#live = p;
    p.catch(() => {
      if (this.#live === p) this.#live = undefined;
    });
    return p;
  }

  #connect(): Promise<Live> {
    const s = this.#s;
    return retry(s.connectPolicy ?? { retries: 1, intervalMs: 0 }, () => !this.#closed, async () => {
      const c = s.connect;
      s.logger.debug(`connecting to ${c.clientId ?? '(default client)'}@${c.clusterName ?? 'ceph'} (conf=${c.confFile ?? ''}, timeout=${c.timeoutMs ?? -1} ms)`);
      let rados: Rados | undefined;
      try {
        rados = await Rados.connect(c);
        const ioctxs = new Map<string, Promise<IoCtx>>();
        if (s.pool !== undefined) {
          const io = await rados.openIoctx(s.pool);
          if (s.fullTry) io.setPoolFullTry(true);
          ioctxs.set(s.pool, Promise.resolve(io));
        }
        return { rados, ioctxs };
      } catch (err) {
        s.logger.error(`Error connecting to ceph cluster: ${errorText(err)}`);
        if (rados) await rados.shutdown().catch(() => undefined);
        throw s.connectError(err);
      }
    });
  }
}

/** Whether `err` means the connection `rados` is gone (not a failure of the operation itself). */
function isLost(err: unknown, rados: Rados): boolean {
  if (err instanceof ConnectionError) return true;
  return err instanceof HandleClosedError && rados.state !== 'open';
}
