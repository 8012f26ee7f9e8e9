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
