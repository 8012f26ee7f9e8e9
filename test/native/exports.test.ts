import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import * as constants from '../../lib/constants';
import { addon, type NativeAddon, type NativeHasher, type NativeImage, type NativeIoCtx, type NativeRadosCluster, type NativeRadosExt, type NativeRbd, type NativeRbdMirror, type NativeRbdX } from '../../lib/native';
import * as mirror from '../../lib/rbd-mirror';

/**
 * Every key of a declared native interface, marked method or property. The
 * `satisfies` clauses make the compiler refuse a list that misses a key of
 * lib/native.ts or names one it does not declare, so the lists below cannot
 * drift from the declarations; the tests then check the real addon.
 */
type Kinds<T> = Record<keyof T, 'method' | 'property'>;

const ADDON = {
  connect: 'method', openImage: 'method', setErrorFactory: 'method', createHasher: 'method', allocPooledBuffer: 'method', allocPooledBufferAsync: 'method', releaseAll: 'method',
  rbd: 'property', rbdx: 'property', rbdMirror: 'property', rados: 'property', RadosWatch: 'method', ObjectLister: 'method', constants: 'property', Hasher: 'method', RadosCluster: 'method', IoCtx: 'method', Image: 'method',
} as const satisfies Kinds<NativeAddon>;

const RBD = {
  create: 'method', remove: 'method', rename: 'method', list: 'method', version: 'method', clone: 'method',
  trashMove: 'method', trashList: 'method', trashGet: 'method', trashRestore: 'method', trashRemove: 'method',
  trashPurge: 'method', poolInit: 'method', featuresFromString: 'method', featuresToString: 'method',
} as const satisfies Kinds<NativeRbd>;

const CLUSTER = {
  state: 'property', fsid: 'method', instanceId: 'method', confGet: 'method', confSet: 'method', stat: 'method',
  listPools: 'method', createPool: 'method', deletePool: 'method', poolLookup: 'method', poolReverseLookup: 'method',
  poolStat: 'method', monCommand: 'method', waitForLatestOsdMap: 'method', openIoctx: 'method', shutdown: 'method',
} as const satisfies Kinds<NativeRadosCluster>;

const IOCTX = {
  pool: 'property', namespace: 'property', poolId: 'property', state: 'property',
  close: 'method', setPoolFullTry: 'method', write: 'method', writeFull: 'method', append: 'method', read: 'method',
  remove: 'method', stat: 'method', getXattr: 'method', setXattr: 'method', rmXattr: 'method', listXattrs: 'method',
  omapSet: 'method', omapGet: 'method', omapRemove: 'method', omapClear: 'method', listObjects: 'method',
} as const satisfies Kinds<NativeIoCtx>;

const IMAGE = {
  name: 'property', pool: 'property', snapshot: 'property', readOnly: 'property', state: 'property',
  close: 'method', stat: 'method', size: 'method', resize: 'method', features: 'method', updateFeatures: 'method',
  opFeatures: 'method', flags: 'method', id: 'method', blockNamePrefix: 'method', stripeUnit: 'method',
  stripeCount: 'method', dataPoolId: 'method', timestamps: 'method', read: 'method', write: 'method',
  aioRead: 'method', aioWrite: 'method', aioFlush: 'method', aioDiscard: 'method', aioWriteZeroes: 'method',
  discard: 'method', writeZeroes: 'method', flush: 'method', invalidateCache: 'method', diffIterate: 'method',
  createSnap: 'method', removeSnap: 'method', renameSnap: 'method', protectSnap: 'method', unprotectSnap: 'method',
  isProtectedSnap: 'method', listSnaps: 'method', rollbackToSnap: 'method', setSnap: 'method', snapExists: 'method',
  snapGetLimit: 'method', snapSetLimit: 'method', snapGetTimestamp: 'method', flatten: 'method', parentInfo: 'method',
  listChildren: 'method', overlap: 'method', copy: 'method', deepCopy: 'method', metadataGet: 'method',
  metadataSet: 'method', metadataRemove: 'method', metadataList: 'method', listLockers: 'method', breakLock: 'method',
  lockAcquire: 'method', lockRelease: 'method', lockGetOwners: 'method', lockBreak: 'method',
  isExclusiveLockOwner: 'method', listWatchers: 'method', rebuildObjectMap: 'method', sparsify: 'method',
} as const satisfies Kinds<NativeImage>;

const RBDX = {
  namespaceCreate: 'method', namespaceRemove: 'method', namespaceExists: 'method', namespaceList: 'method',
  ioctxSetNamespace: 'method', groupCreate: 'method', groupRemove: 'method', groupRename: 'method',
  groupList: 'method', groupImageAdd: 'method', groupImageRemove: 'method', groupImageList: 'method',
  groupSnapCreate: 'method', groupSnapRemove: 'method', groupSnapRename: 'method', groupSnapList: 'method',
  groupSnapRollback: 'method', imageGetGroup: 'method', encryptionFormat: 'method', encryptionLoad: 'method',
  poolMetadataGet: 'method', poolMetadataSet: 'method', poolMetadataRemove: 'method', poolMetadataList: 'method',
  configPoolList: 'method', configImageList: 'method', updateWatch: 'method', quiesceWatch: 'method',
  unwatch: 'method', quiesceComplete: 'method', migrationPrepare: 'method', migrationPrepareImport: 'method',
  migrationExecute: 'method', migrationCommit: 'method', migrationAbort: 'method', migrationStatus: 'method',
  imageMigrationSourceSpec: 'method', snapGetName: 'method', snapGetId: 'method', snapGetNamespaceType: 'method',
  snapGetGroupNamespace: 'method', snapGetTrashNamespace: 'method', snapGetMirrorNamespace: 'method',
  snapRemoveById: 'method', snapSetById: 'method', snapCreate2: 'method', lockExclusive: 'method',
  lockShared: 'method', unlock: 'method', writeSame: 'method', compareAndWrite: 'method', aioWriteSame: 'method',
  aioCompareAndWrite: 'method', aioRead2: 'method', aioWrite2: 'method', aioReadv: 'method', aioWritev: 'method',
  resize2: 'method', oldFormat: 'method', listDescendants: 'method', poolStats: 'method', copySparse: 'method',
  ImageOptions: 'method',
} as const satisfies Kinds<NativeRbdX>;

const RADOSX = {
  writeOperate: 'method', readOperate: 'method', aioWrite: 'method', aioWriteFull: 'method', aioAppend: 'method',
  aioWriteSame: 'method', aioRead: 'method', aioRemove: 'method', aioStat: 'method', aioGetXattr: 'method',
  aioSetXattr: 'method', aioRmXattr: 'method', aioCmpExt: 'method', aioExec: 'method', aioFlush: 'method',
  watch: 'method', notifyAck: 'method', notify: 'method', watchFlush: 'method', lockExclusive: 'method',
  lockShared: 'method', unlock: 'method', listLockers: 'method', breakLock: 'method', snapCreate: 'method',
  snapRemove: 'method', snapRollback: 'method', snapList: 'method', snapLookup: 'method', snapGetName: 'method',
  snapGetStamp: 'method', snapSetRead: 'method', selfmanagedSnapCreate: 'method', selfmanagedSnapRemove: 'method',
  selfmanagedSnapRollback: 'method', selfmanagedSnapSetWriteContext: 'method', command: 'method',
  blocklistAdd: 'method', pingMonitor: 'method', getAddrs: 'method', version: 'method', poolGetBaseTier: 'method',
  minCompatibleClient: 'method', inconsistentPgs: 'method', createPoolWithRule: 'method', openIoctxById: 'method',
  applicationEnable: 'method', applicationList: 'method', applicationMetadataGet: 'method',
  applicationMetadataSet: 'method', applicationMetadataRemove: 'method', applicationMetadataList: 'method',
  poolAlignment: 'method', setLocatorKey: 'method', openObjectList: 'method', truncate: 'method', cmpext: 'method',
  writeSame: 'method', exec: 'method', checksum: 'method', setAllocHint: 'method',
} as const satisfies Kinds<NativeRadosExt>;

const RBD_MIRROR = {
  constants: 'property', siteNameGet: 'method', siteNameSet: 'method', modeGet: 'method', modeSet: 'method',
  uuidGet: 'method', peerBootstrapCreate: 'method', peerBootstrapImport: 'method', peerSiteAdd: 'method',
  peerSiteRemove: 'method', peerSiteSet: 'method', peerSiteList: 'method', peerSiteGetAttributes: 'method',
  peerSiteSetAttributes: 'method', imageStatusSummary: 'method', imageGlobalStatusList: 'method',
  imageInfoList: 'method', imageInstanceIdList: 'method', imageEnable: 'method', imageDisable: 'method',
  imagePromote: 'method', imageDemote: 'method', imageResync: 'method', imageCreateSnapshot: 'method',
  imageGetInfo: 'method', imageGetMode: 'method', imageGetGlobalStatus: 'method', imageGetInstanceId: 'method',
} as const satisfies Kinds<NativeRbdMirror>;

const HASHER = { algorithms: 'property', pending: 'property', update: 'method', digest: 'method' } as const satisfies Kinds<NativeHasher>;

function methodsOf(kinds: Record<string, 'method' | 'property'>): string[] {
  return Object.keys(kinds).filter((k) => kinds[k] === 'method');
}

function prototypeOf(ctor: unknown): Record<string, unknown> {
  return (ctor as { prototype: Record<string, unknown> }).prototype;
}

describe('native addon exports', () => {
  it('resolves every symbol at load time (RTLD_NOW: nothing declared but left undefined)', function () {
    this.timeout(30_000);
    // node-gyp-build picks the same binary lib/native.ts loads; dlopen with
    // RTLD_NOW fails on a symbol that lazy binding would only miss when called.
    const root = path.resolve(__dirname, '..', '..', '..');
    const script = `const p = require('node-gyp-build').resolve(${JSON.stringify(root)});
      process.dlopen({ exports: {} }, p, require('os').constants.dlopen.RTLD_NOW); console.log('ok')`;
    assert.equal(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }).trim(), 'ok');
  });

  it('exports what lib/native.ts declares', () => {
    const exported = addon as unknown as Record<string, unknown>;
    for (const m of methodsOf(ADDON)) assert.equal(typeof exported[m], 'function', m);
    for (const p of Object.keys(ADDON).filter((k) => !methodsOf(ADDON).includes(k))) assert.equal(typeof exported[p], 'object', p);
    for (const fn of methodsOf(RBD)) assert.equal(typeof (addon.rbd as unknown as Record<string, unknown>)[fn], 'function', `rbd.${fn}`);
    for (const [name, kinds] of [['RadosCluster', CLUSTER], ['IoCtx', IOCTX], ['Image', IMAGE], ['Hasher', HASHER]] as const) {
      const proto = prototypeOf(exported[name]);
      for (const m of methodsOf(kinds)) assert.equal(typeof proto[m], 'function', `${name}.${m}`);
    }
  });

  it('exports nothing lib/native.ts does not declare', () => {
    assert.deepEqual(Object.keys(addon).sort(), Object.keys(ADDON).sort());
    assert.deepEqual(Object.keys(addon.rbd).sort(), Object.keys(RBD).sort());
    assert.deepEqual(Object.keys(addon.rbdx).sort(), Object.keys(RBDX).sort());
    assert.deepEqual(Object.keys(addon.rados).sort(), Object.keys(RADOSX).sort());
    assert.deepEqual(Object.keys(addon.rbdMirror).sort(), Object.keys(RBD_MIRROR).sort());
  });

  it('rbdx functions reject forged handles with a TypeError', () => {
    const rbdx = addon.rbdx as unknown as Record<string, unknown>;
    for (const name of methodsOf(RBDX)) assert.equal(typeof rbdx[name], 'function', `rbdx.${name}`);
    assert.throws(() => addon.rbdx.namespaceList({} as never), { name: 'TypeError', message: /Expected a IoCtx handle/ });
    assert.throws(() => addon.rbdx.writeSame({} as never, 0, 8, Buffer.alloc(1), 0), { name: 'TypeError', message: /Expected a Image handle/ });
    assert.throws(() => addon.rbdx.updateWatch({} as never, () => undefined), TypeError);
  });

  it('rbdMirror functions exist and reject forged handles with a TypeError', () => {
    const m = addon.rbdMirror as unknown as Record<string, unknown>;
    for (const fn of methodsOf(RBD_MIRROR)) assert.equal(typeof m[fn], 'function', `rbdMirror.${fn}`);
    assert.throws(() => addon.rbdMirror.modeGet({} as never), { name: 'TypeError', message: /Expected a IoCtx handle/ });
    assert.throws(() => addon.rbdMirror.siteNameGet({} as never), { name: 'TypeError', message: /Expected a RadosCluster handle/ });
    assert.throws(() => addon.rbdMirror.imageDemote({} as never), { name: 'TypeError', message: /Expected a Image handle/ });
  });

  it('has the same RBD_MIRROR_* constants as librbd.h', () => {
    const names = Object.keys(addon.rbdMirror.constants);
    assert.equal(names.length, 8);
    for (const name of names) assert.equal((mirror as unknown as Record<string, unknown>)[name], addon.rbdMirror.constants[name], name);
  });

  it('exports the librados extension functions lib/native.ts declares (addon.rados)', () => {
    const rados = addon.rados as unknown as Record<string, unknown>;
    for (const fn of methodsOf(RADOSX)) assert.equal(typeof rados[fn], 'function', `rados.${fn}`);
    const watchProto = (addon.RadosWatch as unknown as { prototype: Record<string, unknown> }).prototype;
    for (const m of ['close', 'check']) assert.equal(typeof watchProto[m], 'function', `RadosWatch.${m}`);
    const listerProto = (addon.ObjectLister as unknown as { prototype: Record<string, unknown> }).prototype;
    for (const m of ['next', 'close']) assert.equal(typeof listerProto[m], 'function', `ObjectLister.${m}`);
    assert.throws(() => new (addon.RadosWatch as unknown as new () => unknown)(), TypeError);
    assert.throws(() => new (addon.ObjectLister as unknown as new () => unknown)(), TypeError);
    assert.throws(() => addon.rados.aioWrite({} as never, 'x', Buffer.alloc(1), 0), { name: 'TypeError', message: /Expected a IoCtx handle/ });
    assert.throws(() => addon.rados.command({} as never, 'mgr', undefined, '{}'), { name: 'TypeError', message: /Expected a RadosCluster handle/ });
  });

  it('has the same constants as librbd.h', () => {
    for (const [name, value] of Object.entries(addon.constants)) {
      if (name in constants) assert.equal((constants as Record<string, unknown>)[name], value, name);
    }
    assert.equal(constants.RBD_FEATURE_LAYERING, addon.constants.RBD_FEATURE_LAYERING);
    assert.equal(constants.RBD_FEATURE_DEEP_FLATTEN, addon.constants.RBD_FEATURE_DEEP_FLATTEN);
  });

  it('refuses to construct handles from JS', () => {
    assert.throws(() => new (addon.Image as unknown as new () => unknown)(), TypeError);
    assert.throws(() => new (addon.RadosCluster as unknown as new () => unknown)(), TypeError);
    assert.throws(() => new (addon.IoCtx as unknown as new () => unknown)(), TypeError);
  });

  it('rejects forged handles with a TypeError, not a crash', () => {
    assert.throws(() => addon.openImage({} as never, 'x'), { name: 'TypeError', message: /Expected a IoCtx handle/ });
    assert.throws(() => addon.rbd.create({ pool: 'rbd' } as never, 'x', 1), TypeError);
  });
});
