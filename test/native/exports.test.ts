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

  // ---- rbdx (native/rbd_ext.h): librbd beyond the core ----
  it('exports the rbdx functions lib/native.ts declares, and they reject forged handles with a TypeError', () => {
    const declared = [
      'namespaceCreate', 'namespaceRemove', 'namespaceExists', 'namespaceList', 'ioctxSetNamespace',
      'groupCreate', 'groupRemove', 'groupRename', 'groupList', 'groupImageAdd', 'groupImageRemove', 'groupImageList',
      'groupSnapCreate', 'groupSnapRemove', 'groupSnapRename', 'groupSnapList', 'groupSnapRollback', 'imageGetGroup',
      'encryptionFormat', 'encryptionLoad',
      'poolMetadataGet', 'poolMetadataSet', 'poolMetadataRemove', 'poolMetadataList', 'configPoolList', 'configImageList',
      'updateWatch', 'quiesceWatch', 'unwatch', 'quiesceComplete',
      'migrationPrepare', 'migrationPrepareImport', 'migrationExecute', 'migrationCommit', 'migrationAbort', 'migrationStatus', 'imageMigrationSourceSpec',
      'snapGetName', 'snapGetId', 'snapGetNamespaceType', 'snapGetGroupNamespace', 'snapGetTrashNamespace', 'snapGetMirrorNamespace',
      'snapRemoveById', 'snapSetById', 'snapCreate2',
      'lockExclusive', 'lockShared', 'unlock', 'writeSame', 'compareAndWrite', 'aioWriteSame', 'aioCompareAndWrite',
      'aioRead2', 'aioWrite2', 'aioReadv', 'aioWritev', 'resize2', 'oldFormat', 'listDescendants', 'poolStats', 'copySparse',
      'ImageOptions',
    ];
    const rbdx = addon.rbdx as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(rbdx).sort(), [...declared].sort());
    for (const name of declared) assert.equal(typeof rbdx[name], 'function', `rbdx.${name}`);
    assert.throws(() => addon.rbdx.namespaceList({} as never), { name: 'TypeError', message: /Expected a IoCtx handle/ });
    assert.throws(() => addon.rbdx.writeSame({} as never, 0, 8, Buffer.alloc(1), 0), { name: 'TypeError', message: /Expected a Image handle/ });
    assert.throws(() => addon.rbdx.updateWatch({} as never, () => undefined), TypeError);
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
