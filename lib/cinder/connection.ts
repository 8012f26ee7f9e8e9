/**
 * One cluster connection per driver, reused by every operation (Decision 7),
 * with Cinder's `_connect_to_rados` semantics: connect and open the pool,
 * retried (rados_connection_retries attempts, interval × 2^(n-1) apart), and
 * any failure ends as VolumeBackendAPIException("Error connecting to ceph
 * cluster."). When the connection is found lost (ConnectionError, or the
 * handle was shut down under us) it is dropped and the operation re-run on a
 * fresh one, within the same retry budget.
 */
import { ConnectionError, HandleClosedError } from '../errors';
import { IoCtx, Rados, type ConnectOptions } from '../rados';
import { VolumeBackendAPIException } from './errors';
import { errorText, retry, sleep, type Logger, type RetryPolicy } from './util';

export interface ConnectionSettings {
  pool: string;
  user?: string;
  confFile?: string;
  clusterName: string;
  timeoutMs?: number;
  policy: RetryPolicy;
  logger: Logger;
}

interface Live {
  rados: Rados;
  ioctxs: Map<string, Promise<IoCtx>>;
}

export class ClusterConnection {
  readonly #settings: ConnectionSettings;
  #live: Promise<Live> | undefined;
  #closed = false;
  /** The fsid, known after the first successful connect. */
  fsid: string | undefined;

  constructor(settings: ConnectionSettings) {
    this.#settings = settings;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The connected cluster (connecting first when needed). */
  async rados(): Promise<Rados> {
    return (await this.#get()).rados;
  }

  /**
   * An I/O context on `pool` (default: the driver's pool), cached per pool.
   * Full-try (as `rbd rm` uses): on a pool flagged full, deletes go through
   * and writes fail at once with NoSpace instead of waiting for space.
   */
  async ioctx(pool: string = this.#settings.pool): Promise<IoCtx> {
    const live = await this.#get();
    let p = live.ioctxs.get(pool);
    if (!p) {
      p = live.rados.openIoctx(pool).then((io) => {
        io.setPoolFullTry(true);
        return io;
      });
      live.ioctxs.set(pool, p);
      p.catch(() => live.ioctxs.delete(pool));
    }
    return p;
  }

  /**
   * Runs `fn` on the live connection; if the connection turns out lost, drops
   * it and runs `fn` again on a new one (up to the retry budget).
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const attempts = Math.max(1, this.#settings.policy.retries);
    for (let attempt = 1; ; attempt++) {
      const live = await this.#get();
      try {
        return await fn();
      } catch (err) {
        if (attempt >= attempts || !this.#isLost(err, live)) throw err;
        this.#settings.logger.warn?.(`connection to the ceph cluster lost (${errorText(err)}); reconnecting`);
        await this.#drop(live);
        await sleep(this.#settings.policy.intervalMs * 2 ** (attempt - 1));
      }
    }
  }

  /** Forgets the current connection (shut down in the background); the next call reconnects. */
  async reset(): Promise<void> {
    const current = this.#live;
    if (!current) return;
    const live = await current.catch(() => undefined);
    if (live) await this.#drop(live);
    else if (this.#live === current) this.#live = undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#live;
    this.#live = undefined;
    const live = await current?.catch(() => undefined);
    if (live) await live.rados.shutdown().catch(() => undefined);
  }

  #isLost(err: unknown, live: Live): boolean {
    if (err instanceof ConnectionError) return true;
    return err instanceof HandleClosedError && live.rados.state !== 'open';
  }

  async #drop(live: Live): Promise<void> {
    const current = this.#live;
    if (current) {
      const now = await current.catch(() => undefined);
      if (now === live) this.#live = undefined;
    }
    await live.rados.shutdown().catch(() => undefined);
  }

  #get(): Promise<Live> {
    if (this.#closed) return Promise.reject(new HandleClosedError('RbdVolumeDriver: the driver is closed', 'RbdVolumeDriver'));
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

  async #connect(): Promise<Live> {
    const s = this.#settings;
    return retry(s.policy, (e) => e instanceof VolumeBackendAPIException, async () => {
      s.logger.debug?.(`connecting to ${s.user ?? '(default client)'}@${s.clusterName} (conf=${s.confFile ?? ''}, timeout=${s.timeoutMs ?? -1} ms)`);
      const opts: ConnectOptions = { clusterName: s.clusterName };
      if (s.confFile) opts.confFile = s.confFile;
      // Decision 1: an unset user is librados' default client, never "client.None".
      if (s.user) opts.clientId = s.user;
      if (s.timeoutMs !== undefined && s.timeoutMs > 0) opts.timeoutMs = s.timeoutMs;
      let rados: Rados | undefined;
      try {
        rados = await Rados.connect(opts);
        const ioctx = await rados.openIoctx(s.pool);
        this.fsid = rados.clusterFsid;
        return { rados, ioctxs: new Map([[s.pool, Promise.resolve(ioctx)]]) };
      } catch (err) {
        s.logger.error?.(`Error connecting to ceph cluster: ${errorText(err)}`);
        if (rados) await rados.shutdown().catch(() => undefined);
        throw new VolumeBackendAPIException('Error connecting to ceph cluster.', { cause: err });
      }
    });
  }
}
