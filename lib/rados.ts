/** Typed wrappers over the native cluster connection and I/O context. */
import { addon, type NativeIoCtx, type NativeMonReply, type NativeRadosCluster, type NativeObjectStat } from './native';
import './setup';
import { checkBoolean, checkBuffer, checkInteger, checkLength, checkName, checkObject, checkSecret, checkString, checkU64, invalidType, isSecretOption } from './validate';

export interface ConnectOptions {
  /** ceph.conf to read. Default: librados' search (honours CEPH_CONF, then /etc/ceph/$cluster.conf, ~/.ceph/…). */
  confFile?: string;
  /** cephx id without the "client." prefix, e.g. "glance". Default: librados' default (client.admin). */
  clientId?: string;
  /** Cluster name. Default "ceph". */
  clusterName?: string;
  /** Path of a keyring file. */
  keyring?: string;
  /** A base64 cephx secret (never logged nor shown by inspect()). */
  key?: string;
  /** Extra configuration options, set before connecting. */
  conf?: Record<string, string>;
  /**
   * Bounds connect (client_mount_timeout) and every later mon/OSD operation
   * (rados_mon_op_timeout, rados_osd_op_timeout), in milliseconds, rounded
   * up to whole seconds. A dead or full cluster then fails with TimedOut
   * instead of hanging. Default: librados' defaults (no operation timeout).
   */
  timeoutMs?: number;
  /** Overrides timeoutMs for OSD operations only. */
  osdOpTimeoutMs?: number;
  /** Overrides timeoutMs for monitor operations only. */
  monOpTimeoutMs?: number;
}

export interface ClusterStat { kb: number; kbUsed: number; kbAvail: number; numObjects: number }
/** rados_pool_stat_t: a pool's usage and I/O counters. */
export interface PoolStat {
  numBytes: number;
  numKb: number;
  numObjects: number;
  numObjectClones: number;
  numObjectCopies: number;
  numObjectsMissingOnPrimary: number;
  numObjectsUnfound: number;
  numObjectsDegraded: number;
  numRd: number;
  numRdKb: number;
  numWr: number;
  numWrKb: number;
  numUserBytes: number;
}
export interface MonCommandResult { status: number; outbuf: Buffer; outs: string }

function seconds(ms: unknown, name: string): string {
  const n = checkInteger(ms, name, 1, 2 ** 31 - 1);
  return String(Math.ceil(n / 1000));
}

/** Turns public connect options into the addon's (entity name, conf map). */
export function toNativeConnectOptions(options: ConnectOptions): { name?: string; clusterName?: string; confFile?: string; conf: Record<string, string> } {
  const conf: Record<string, string> = {};
  if (options.conf !== undefined) {
    const extra = checkObject<Record<string, string>>(options.conf, 'options.conf');
    for (const [k, v] of Object.entries(extra)) {
      conf[checkName(k, 'options.conf key')] = isSecretOption(k) ? checkSecret(v, `options.conf.${k}`, true) : checkString(v, `options.conf.${k}`);
    }
  }
  if (options.timeoutMs !== undefined) {
    const s = seconds(options.timeoutMs, 'options.timeoutMs');
    conf.client_mount_timeout = s;
    conf.rados_mon_op_timeout = s;
    conf.rados_osd_op_timeout = s;
  }
  if (options.osdOpTimeoutMs !== undefined) conf.rados_osd_op_timeout = seconds(options.osdOpTimeoutMs, 'options.osdOpTimeoutMs');
  if (options.monOpTimeoutMs !== undefined) conf.rados_mon_op_timeout = seconds(options.monOpTimeoutMs, 'options.monOpTimeoutMs');
  if (options.keyring !== undefined) conf.keyring = checkName(options.keyring, 'options.keyring');
  if (options.key !== undefined) conf.key = checkSecret(options.key, 'options.key');
  const out: { name?: string; clusterName?: string; confFile?: string; conf: Record<string, string> } = { conf };
  if (options.clientId !== undefined && options.clientId !== null) {
    const id = checkName(options.clientId, 'options.clientId');
    out.name = id.startsWith('client.') ? id : `client.${id}`;
  }
  if (options.clusterName !== undefined) out.clusterName = checkName(options.clusterName, 'options.clusterName');
  if (options.confFile !== undefined && options.confFile !== '') out.confFile = checkName(options.confFile, 'options.confFile');
  return out;
}

/** A connection to a Ceph cluster (rados_t). */
export class Rados {
  readonly #native: NativeRadosCluster;
  /** The cluster's fsid, read once at connect. */
  readonly clusterFsid: string;

  private constructor(native: NativeRadosCluster) {
    this.#native = native;
    this.clusterFsid = native.fsid();
  }

  /** Connects off the JS thread. Honours CEPH_CONF and CEPH_ARGS like the ceph tools. */
  static async connect(options: ConnectOptions = {}): Promise<Rados> {
    const opts = checkObject<ConnectOptions>(options, 'options');
    return new Rados(await addon.connect(toNativeConnectOptions(opts)));
  }

  /** @internal */
  get native(): NativeRadosCluster {
    return this.#native;
  }

  get state(): 'open' | 'closing' | 'closed' {
    return this.#native.state;
  }

  async fsid(): Promise<string> {
    return this.#native.fsid();
  }

  instanceId(): bigint {
    return this.#native.instanceId();
  }

  /** A configuration value, or null when the option is unknown. */
  confGet(option: string): string | null {
    return this.#native.confGet(checkName(option, 'option'));
  }

  confSet(option: string, value: string): void {
    const key = checkName(option, 'option');
    // The redacting check for secret options: a bad key must not end up in an error message.
    this.#native.confSet(key, isSecretOption(key) ? checkSecret(value, 'value', true) : checkString(value, 'value'));
  }

  stat(): Promise<ClusterStat> {
    return this.#native.stat();
  }

  listPools(): Promise<string[]> {
    return this.#native.listPools();
  }

  async createPool(name: string): Promise<void> {
    return this.#native.createPool(checkName(name, 'name'));
  }

  async deletePool(name: string): Promise<void> {
    return this.#native.deletePool(checkName(name, 'name'));
  }

  /** The id of a pool (ObjectNotFound when it does not exist). */
  async poolLookup(name: string): Promise<number> {
    return this.#native.poolLookup(checkName(name, 'name'));
  }

  async poolReverseLookup(id: number): Promise<string> {
    return this.#native.poolReverseLookup(checkInteger(id, 'id', 0, Number.MAX_SAFE_INTEGER));
  }

  async poolStat(name: string): Promise<PoolStat> {
    return this.#native.poolStat(checkName(name, 'name'));
  }

  /**
   * Sends a monitor command (an object is JSON-encoded). Resolves with the
   * command's own status even when negative; rejects only when the cluster
   * cannot be reached.
   */
  async monCommand(command: object | string, input?: Buffer): Promise<MonCommandResult> {
    const json = typeof command === 'string' ? command : JSON.stringify(command);
    if (typeof command !== 'string' && (command === null || typeof command !== 'object')) {
      throw invalidType('command', 'an object or a JSON string', command);
    }
    return this.#native.monCommand(checkString(json, 'command'), input === undefined ? undefined : checkBuffer(input, 'input')) as Promise<NativeMonReply>;
  }

  waitForLatestOsdMap(): Promise<void> {
    return this.#native.waitForLatestOsdMap();
  }

  /** Opens an I/O context on a pool (and optional RADOS namespace). */
  async openIoctx(pool: string, namespace?: string): Promise<IoCtx> {
    const ns = namespace === undefined ? undefined : checkString(namespace, 'namespace');
    return new IoCtx(await this.#native.openIoctx(checkName(pool, 'pool'), ns), this);
  }

  /** Closes every I/O context and image opened through this connection, then disconnects. Idempotent. */
  shutdown(): Promise<void> {
    return this.#native.shutdown();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Rados { fsid: '${this.clusterFsid}', state: '${this.state}' }`;
  }
}

export interface ObjectStat { size: number; mtimeMs: number }

/** An I/O context on one pool and namespace (rados_ioctx_t). */
export class IoCtx {
  readonly #native: NativeIoCtx;
  readonly cluster: Rados;

  /** @internal Use Rados.openIoctx(). */
  constructor(native: NativeIoCtx, cluster: Rados) {
    this.#native = native;
    this.cluster = cluster;
  }

  /** @internal */
  get native(): NativeIoCtx {
    return this.#native;
  }

  get pool(): string {
    return this.#native.pool;
  }

  get namespace(): string {
    return this.#native.namespace;
  }

  get poolId(): number {
    return this.#native.poolId;
  }

  get state(): 'open' | 'closing' | 'closed' {
    return this.#native.state;
  }

  /**
   * Full-pool behaviour of this context (rados_set_pool_full_try). Off (the
   * default): an operation on a pool the cluster flags full waits until
   * there is space again (bounded only by timeoutMs). On: it is sent anyway,
   * so writes that need space fail at once with NoSpace (DiskQuotaExceeded
   * for a pool quota) and deletes go through, as `rbd rm` does; images opened
   * through the context afterwards inherit it. Set it before using the context.
   */
  setPoolFullTry(enabled: boolean): void {
    this.#native.setPoolFullTry(checkBoolean(enabled, 'enabled'));
  }

  /** Writes `data` into object `oid` at `offset`. */
  async write(oid: string, data: Uint8Array, offset: number | bigint = 0): Promise<void> {
    return this.#native.write(checkName(oid, 'oid'), checkBuffer(data, 'data'), checkU64(offset, 'offset'));
  }

  /** Replaces the whole object with `data`. */
  async writeFull(oid: string, data: Uint8Array): Promise<void> {
    return this.#native.writeFull(checkName(oid, 'oid'), checkBuffer(data, 'data'));
  }

  async append(oid: string, data: Uint8Array): Promise<void> {
    return this.#native.append(checkName(oid, 'oid'), checkBuffer(data, 'data'));
  }

  /** Reads up to `length` bytes (default 8192, as python-rados) from `offset`. */
  async read(oid: string, length = 8192, offset: number | bigint = 0): Promise<Buffer> {
    const name = checkName(oid, 'oid');
    const buf = Buffer.allocUnsafe(checkLength(length, 'length'));
    const n = await this.#native.read(name, buf, checkU64(offset, 'offset'));
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  async remove(oid: string): Promise<void> {
    return this.#native.remove(checkName(oid, 'oid'));
  }

  async stat(oid: string): Promise<ObjectStat> {
    return this.#native.stat(checkName(oid, 'oid')) as Promise<NativeObjectStat>;
  }

  async getXattr(oid: string, name: string): Promise<Buffer> {
    return this.#native.getXattr(checkName(oid, 'oid'), checkName(name, 'name'));
  }

  async setXattr(oid: string, name: string, value: Uint8Array | string): Promise<void> {
    const buf = typeof value === 'string' ? Buffer.from(value) : checkBuffer(value, 'value');
    return this.#native.setXattr(checkName(oid, 'oid'), checkName(name, 'name'), buf);
  }

  async rmXattr(oid: string, name: string): Promise<void> {
    return this.#native.rmXattr(checkName(oid, 'oid'), checkName(name, 'name'));
  }

  /** All extended attributes of an object. */
  async listXattrs(oid: string): Promise<Map<string, Buffer>> {
    return new Map(await this.#native.listXattrs(checkName(oid, 'oid')));
  }

  /** Sets omap keys on an object (creating it if needed). */
  async omapSet(oid: string, entries: Record<string, Uint8Array | string> | Map<string, Uint8Array | string>): Promise<void> {
    const pairs = entries instanceof Map ? [...entries] : Object.entries(checkObject(entries, 'entries'));
    const keys = pairs.map(([k]) => checkString(k, 'omap key'));
    const values = pairs.map(([, v]) => (typeof v === 'string' ? Buffer.from(v) : checkBuffer(v, 'omap value')));
    return this.#native.omapSet(checkName(oid, 'oid'), keys, values);
  }

  /** Omap entries after `startAfter`, optionally only those starting with `prefix`. */
  async omapGet(oid: string, options: { startAfter?: string; prefix?: string; max?: number } = {}): Promise<Map<string, Buffer>> {
    const o = checkObject<{ startAfter: string; prefix: string; max: number }>(options, 'options');
    const max = o.max === undefined ? 1024 : checkInteger(o.max, 'options.max', 1, 2 ** 31 - 1);
    return new Map(
      await this.#native.omapGet(checkName(oid, 'oid'), checkString(o.startAfter ?? '', 'options.startAfter'), checkString(o.prefix ?? '', 'options.prefix'), max),
    );
  }

  async omapRemove(oid: string, keys: string[]): Promise<void> {
    if (!Array.isArray(keys)) throw invalidType('keys', 'an array of strings', keys);
    return this.#native.omapRemove(checkName(oid, 'oid'), keys.map((k) => checkString(k, 'omap key')));
  }

  async omapClear(oid: string): Promise<void> {
    return this.#native.omapClear(checkName(oid, 'oid'));
  }

  /** Every object in this pool and namespace. */
  listObjects(): Promise<Array<{ namespace: string; oid: string; locator: string }>> {
    return this.#native.listObjects();
  }

  /** Waits for in-flight work and open images on this context, then closes it. Idempotent. */
  close(): Promise<void> {
    return this.#native.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `IoCtx { pool: '${this.pool}', namespace: '${this.namespace}', state: '${this.state}' }`;
  }
}
