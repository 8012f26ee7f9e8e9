/**
 * Cluster administration and pool-level calls: mgr/osd/pg/targeted mon
 * commands, blocklisting, monitor ping, client addresses, library version,
 * pool applications, base tiers, compatibility levels, and listing objects
 * with a cursor (one namespace or all of them) as an async iterator.
 */
import { addon, type NativeMonReply } from './native';
import { IoCtx, Rados, type MonCommandResult } from './rados';
import { extend } from './rados-extend';
import './setup';
import { checkBoolean, checkBuffer, checkInteger, checkName, checkObject, checkString, invalidType } from './validate';

export interface ListedObject { namespace: string; oid: string; locator: string }

export interface ObjectsOptions {
  /** Every namespace of the pool (LIBRADOS_ALL_NSPACES) instead of the context's own. */
  allNamespaces?: boolean;
  /** Objects asked for per round trip (default 1000). */
  pageSize?: number;
}

/** The loaded librados' version (rados_version). */
export function radosVersion(): { major: number; minor: number; extra: number } {
  return addon.rados.version();
}

function commandJson(command: unknown): string {
  if (typeof command === 'string') return checkString(command, 'command');
  if (command === null || typeof command !== 'object') throw invalidType('command', 'an object or a JSON string', command);
  return JSON.stringify(command);
}

function input(value: unknown): Buffer | undefined {
  return value === undefined ? undefined : checkBuffer(value, 'input');
}

declare module './rados' {
  interface Rados {
    /** A ceph-mgr command (resolves with its own status even when negative, like monCommand). */
    mgrCommand(command: object | string, input?: Buffer, options?: { target?: string }): Promise<MonCommandResult>;
    /** A command to one OSD, e.g. { prefix: 'version' }. */
    osdCommand(osdId: number, command: object | string, input?: Buffer): Promise<MonCommandResult>;
    /** A command to one placement group, e.g. pg '1.0', { prefix: 'query' }. */
    pgCommand(pgId: string, command: object | string, input?: Buffer): Promise<MonCommandResult>;
    /** A monitor command to one named monitor. */
    monCommandTarget(monName: string, command: object | string, input?: Buffer): Promise<MonCommandResult>;
    /** Blocklists a client address (from getAddrs()); its calls then fail with ConnectionShutdown. */
    blocklistAdd(address: string, expireSeconds?: number): Promise<void>;
    /** Pings monitor `monId` (its name, e.g. 'a'); resolves with its status string. */
    pingMonitor(monId: string): Promise<string>;
    /** This client's addresses, e.g. '[v2:10.0.0.1:0/123,v1:10.0.0.1:0/123]'. */
    getAddrs(): Promise<string>;
    /** The base pool of a cache tier (the pool itself when it is no tier). */
    poolGetBaseTier(poolId: number): Promise<number>;
    /** Ceph release numbers (12 = luminous …) the cluster requires of clients and OSDs. */
    minCompatibleClient(): Promise<{ minCompatClient: number; requireMinCompatClient: number; requireOsdRelease: number }>;
    /** Placement groups of a pool that scrubbing found inconsistent. */
    inconsistentPgs(poolId: number): Promise<string[]>;
    /** Creates a pool placed by CRUSH rule `crushRule`. */
    createPoolWithRule(name: string, crushRule: number): Promise<void>;
    /** Opens an I/O context on a pool by id. */
    openIoctxById(poolId: number): Promise<IoCtx>;
  }
  interface IoCtx {
    /** Enables an application (e.g. 'rbd', 'rgw', 'myapp') on the pool; force: beyond the usual one per pool. */
    applicationEnable(app: string, options?: { force?: boolean }): Promise<void>;
    applicationList(): Promise<string[]>;
    applicationMetadataGet(app: string, key: string): Promise<string>;
    applicationMetadataSet(app: string, key: string, value: string): Promise<void>;
    applicationMetadataRemove(app: string, key: string): Promise<void>;
    applicationMetadataList(app: string): Promise<Map<string, string>>;
    /** The write alignment the pool requires (0: none). */
    poolAlignment(): Promise<number>;
    /** Places the objects of later operations by `key` instead of their name (null: by name). Local. */
    setLocatorKey(key: string | null): void;
    /** Every object, page by page through a cursor; across all namespaces with allNamespaces. */
    objects(options?: ObjectsOptions): AsyncGenerator<ListedObject, void, undefined>;
  }
}

extend(Rados.prototype, {
  async mgrCommand(this: Rados, command: object | string, inbuf?: Buffer, options: { target?: string } = {}) {
    const o = checkObject<{ target: string }>(options, 'options');
    if (o.target !== undefined) return addon.rados.command(this.native, 'mgrTarget', checkName(o.target, 'options.target'), commandJson(command), input(inbuf));
    return addon.rados.command(this.native, 'mgr', undefined, commandJson(command), input(inbuf));
  },
  async osdCommand(this: Rados, osdId: number, command: object | string, inbuf?: Buffer): Promise<NativeMonReply> {
    return addon.rados.command(this.native, 'osd', String(checkInteger(osdId, 'osdId', 0, 2 ** 31 - 1)), commandJson(command), input(inbuf));
  },
  async pgCommand(this: Rados, pgId: string, command: object | string, inbuf?: Buffer) {
    return addon.rados.command(this.native, 'pg', checkName(pgId, 'pgId'), commandJson(command), input(inbuf));
  },
  async monCommandTarget(this: Rados, monName: string, command: object | string, inbuf?: Buffer) {
    return addon.rados.command(this.native, 'monTarget', checkName(monName, 'monName'), commandJson(command), input(inbuf));
  },
  async blocklistAdd(this: Rados, address: string, expireSeconds = 0) {
    return addon.rados.blocklistAdd(this.native, checkName(address, 'address'), checkInteger(expireSeconds, 'expireSeconds', 0, 2 ** 32 - 1));
  },
  async pingMonitor(this: Rados, monId: string) {
    return addon.rados.pingMonitor(this.native, checkName(monId, 'monId'));
  },
  async getAddrs(this: Rados) {
    return addon.rados.getAddrs(this.native);
  },
  async poolGetBaseTier(this: Rados, poolId: number) {
    return addon.rados.poolGetBaseTier(this.native, checkInteger(poolId, 'poolId', 0, Number.MAX_SAFE_INTEGER));
  },
  async minCompatibleClient(this: Rados) {
    return addon.rados.minCompatibleClient(this.native);
  },
  async inconsistentPgs(this: Rados, poolId: number) {
    return addon.rados.inconsistentPgs(this.native, checkInteger(poolId, 'poolId', 0, Number.MAX_SAFE_INTEGER));
  },
  async createPoolWithRule(this: Rados, name: string, crushRule: number) {
    return addon.rados.createPoolWithRule(this.native, checkName(name, 'name'), checkInteger(crushRule, 'crushRule', 0, 255));
  },
  async openIoctxById(this: Rados, poolId: number) {
    return new IoCtx(await addon.rados.openIoctxById(this.native, checkInteger(poolId, 'poolId', 0, Number.MAX_SAFE_INTEGER)), this);
  },
});

extend(IoCtx.prototype, {
  async applicationEnable(this: IoCtx, app: string, options: { force?: boolean } = {}) {
    const o = checkObject<{ force: boolean }>(options, 'options');
    return addon.rados.applicationEnable(this.native, checkName(app, 'app'), o.force === undefined ? false : checkBoolean(o.force, 'options.force'));
  },
  async applicationList(this: IoCtx) {
    return addon.rados.applicationList(this.native);
  },
  async applicationMetadataGet(this: IoCtx, app: string, key: string) {
    return addon.rados.applicationMetadataGet(this.native, checkName(app, 'app'), checkName(key, 'key'));
  },
  async applicationMetadataSet(this: IoCtx, app: string, key: string, value: string) {
    return addon.rados.applicationMetadataSet(this.native, checkName(app, 'app'), checkName(key, 'key'), checkString(value, 'value'));
  },
  async applicationMetadataRemove(this: IoCtx, app: string, key: string) {
    return addon.rados.applicationMetadataRemove(this.native, checkName(app, 'app'), checkName(key, 'key'));
  },
  async applicationMetadataList(this: IoCtx, app: string) {
    return new Map(await addon.rados.applicationMetadataList(this.native, checkName(app, 'app')));
  },
  async poolAlignment(this: IoCtx) {
    return addon.rados.poolAlignment(this.native);
  },
  setLocatorKey(this: IoCtx, key: string | null) {
    addon.rados.setLocatorKey(this.native, key === null ? null : checkName(key, 'key'));
  },
  async *objects(this: IoCtx, options: ObjectsOptions = {}): AsyncGenerator<ListedObject, void, undefined> {
    const o = checkObject<ObjectsOptions>(options, 'options');
    const all = o.allNamespaces === undefined ? false : checkBoolean(o.allNamespaces, 'options.allNamespaces');
    const pageSize = o.pageSize === undefined ? 1000 : checkInteger(o.pageSize, 'options.pageSize', 1, 100_000);
    const lister = await addon.rados.openObjectList(this.native, all);
    try {
      for (;;) {
        const page = await lister.next(pageSize);
        yield* page.entries;
        if (page.done) return;
      }
    } finally {
      await lister.close();
    }
  },
});
