import { strict as assert } from 'node:assert';

import * as constants from '../../lib/constants';
import { addon } from '../../lib/native';

describe('native addon exports', () => {
  it('exports what lib/native.ts declares', () => {
    assert.equal(typeof addon.connect, 'function');
    assert.equal(typeof addon.openImage, 'function');
    assert.equal(typeof addon.setErrorFactory, 'function');
    for (const fn of ['create', 'remove', 'rename', 'list', 'version', 'clone', 'trashMove', 'trashList', 'trashGet', 'trashRestore', 'trashRemove', 'trashPurge', 'poolInit']) {
      assert.equal(typeof (addon.rbd as unknown as Record<string, unknown>)[fn], 'function', `rbd.${fn}`);
    }
    const imageMethods = ['close', 'stat', 'size', 'resize', 'read', 'write', 'aioRead', 'aioWrite', 'aioFlush', 'createSnap', 'removeSnap', 'protectSnap', 'unprotectSnap', 'listSnaps', 'rollbackToSnap', 'flatten', 'parentInfo', 'listChildren', 'copy', 'deepCopy', 'metadataGet', 'metadataSet', 'listLockers', 'listWatchers', 'diffIterate'];
    const proto = (addon.Image as unknown as { prototype: Record<string, unknown> }).prototype;
    for (const m of imageMethods) assert.equal(typeof proto[m], 'function', `Image.${m}`);
    const ioctxProto = (addon.IoCtx as unknown as { prototype: Record<string, unknown> }).prototype;
    for (const m of ['close', 'write', 'writeFull', 'append', 'read', 'remove', 'stat', 'getXattr', 'setXattr', 'rmXattr', 'listXattrs', 'omapSet', 'omapGet', 'omapRemove', 'omapClear', 'listObjects']) {
      assert.equal(typeof ioctxProto[m], 'function', `IoCtx.${m}`);
    }
  });

  it('exports the librados extension functions lib/native.ts declares (addon.rados)', () => {
    const fns = ['writeOperate', 'readOperate', 'aioWrite', 'aioWriteFull', 'aioAppend', 'aioWriteSame', 'aioRead', 'aioRemove', 'aioStat', 'aioGetXattr', 'aioSetXattr', 'aioRmXattr', 'aioCmpExt', 'aioExec', 'aioFlush', 'watch', 'notifyAck', 'notify', 'watchFlush', 'lockExclusive', 'lockShared', 'unlock', 'listLockers', 'breakLock', 'snapCreate', 'snapRemove', 'snapRollback', 'snapList', 'snapLookup', 'snapGetName', 'snapGetStamp', 'snapSetRead', 'selfmanagedSnapCreate', 'selfmanagedSnapRemove', 'selfmanagedSnapRollback', 'selfmanagedSnapSetWriteContext', 'command', 'blocklistAdd', 'pingMonitor', 'getAddrs', 'version', 'poolGetBaseTier', 'minCompatibleClient', 'inconsistentPgs', 'createPoolWithRule', 'openIoctxById', 'applicationEnable', 'applicationList', 'applicationMetadataGet', 'applicationMetadataSet', 'applicationMetadataRemove', 'applicationMetadataList', 'poolAlignment', 'setLocatorKey', 'openObjectList', 'truncate', 'cmpext', 'writeSame', 'exec', 'checksum', 'setAllocHint'];
    const rados = addon.rados as unknown as Record<string, unknown>;
    for (const fn of fns) assert.equal(typeof rados[fn], 'function', `rados.${fn}`);
    assert.deepEqual(Object.keys(rados).sort(), [...fns].sort());
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
