import { strict as assert } from 'node:assert';

import { InvalidArgument, IoCtx, ObjectExists, ObjectNotFound, Rados } from '../../lib';
import { connect, uniqueName, cephError } from '../helpers/cluster';

describe('pool and self-managed snapshots (real cluster)', () => {
  let cluster: Rados;
  let poolSnaps: IoCtx;
  let selfManaged: IoCtx;
  const poolA = uniqueName('psnap');
  const poolB = uniqueName('smsnap');

  before(async function () {
    this.timeout(120_000);
    cluster = await connect();
    // A pool uses one snapshot kind or the other: one pool each.
    await cluster.createPoolWithRule(poolA, 0);
    await cluster.createPool(poolB);
    poolSnaps = await cluster.openIoctx(poolA);
    selfManaged = await cluster.openIoctx(poolB);
  });
  after(async function () {
    this.timeout(120_000);
    await poolSnaps?.close();
    await selfManaged?.close();
    await cluster?.deletePool(poolA).catch(() => undefined);
    await cluster?.deletePool(poolB).catch(() => undefined);
    await cluster?.shutdown();
  });

  it('pool snapshots: create, list, look up, read at, roll back, remove', async function () {
    this.timeout(60_000);
    const io = poolSnaps;
    await io.writeFull('obj', Buffer.from('version 1'));
    const before = Date.now();
    await io.poolSnapCreate('s1');
    await cluster.waitForLatestOsdMap();
    await io.writeFull('obj', Buffer.from('version 2, longer'));
    await assert.rejects(io.poolSnapCreate('s1'), cephError(ObjectExists, 'EEXIST', -17, 'IoCtx.poolSnapCreate'));

    const id = await io.poolSnapLookup('s1');
    assert.equal(typeof id, 'bigint');
    assert.equal(await io.poolSnapGetName(id), 's1');
    const stamp = await io.poolSnapGetTimestamp(id);
    assert.ok(Math.abs(stamp - before) < 60_000, `stamp ${stamp} near ${before}`);
    const list = await io.poolSnapList();
    assert.deepEqual(list.map((s) => [s.id, s.name]), [[id, 's1']]);
    assert.equal(list[0].timestampMs, stamp);

    // Reads through the snapshot see the old content; null goes back to the head.
    io.snapSetRead(id);
    assert.deepEqual(await io.read('obj'), Buffer.from('version 1'));
    io.snapSetRead(null);
    assert.deepEqual(await io.read('obj'), Buffer.from('version 2, longer'));

    await io.poolSnapRollback('obj', 's1');
    assert.deepEqual(await io.read('obj'), Buffer.from('version 1'));

    await assert.rejects(io.poolSnapLookup('nope'), (e: unknown) => {
      cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.poolSnapLookup')(e);
      assert.equal((e as ObjectNotFound).snapshot, 'nope');
      return true;
    });
    await assert.rejects(io.poolSnapGetName(123456n), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.poolSnapGetName'));
    await assert.rejects(io.poolSnapGetTimestamp(123456), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.poolSnapGetTimestamp'));
    await assert.rejects(io.poolSnapRollback('obj', 'nope'), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.poolSnapRollback'));
    // Self-managed snapshots on a pool with pool snapshots: refused.
    await assert.rejects(io.selfmanagedSnapCreate(), cephError(InvalidArgument, 'EINVAL', -22, 'IoCtx.selfmanagedSnapCreate'));

    await io.poolSnapRemove('s1');
    assert.deepEqual(await io.poolSnapList(), []);
    await assert.rejects(io.poolSnapRemove('s1'), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.poolSnapRemove'));
  });

  it('self-managed snapshots: allocate, write under a snap context, read at, roll back, remove', async function () {
    this.timeout(60_000);
    const io = selfManaged;
    await io.writeFull('obj', Buffer.from('first'));
    const s1 = await io.selfmanagedSnapCreate();
    assert.equal(typeof s1, 'bigint');
    io.selfmanagedSnapSetWriteContext(s1, [s1]);
    await io.writeFull('obj', Buffer.from('second'));
    const s2 = await io.selfmanagedSnapCreate();
    assert.ok(s2 > s1);
    io.selfmanagedSnapSetWriteContext(s2, [s2, s1]);
    await io.writeFull('obj', Buffer.from('third'));

    io.snapSetRead(s1);
    assert.deepEqual(await io.read('obj'), Buffer.from('first'));
    io.snapSetRead(s2);
    assert.deepEqual(await io.read('obj'), Buffer.from('second'));
    io.snapSetRead(null);
    assert.deepEqual(await io.read('obj'), Buffer.from('third'));

    await io.selfmanagedSnapRollback('obj', s1);
    assert.deepEqual(await io.read('obj'), Buffer.from('first'));

    // Pool snapshots on a pool with self-managed ones: refused.
    await assert.rejects(io.poolSnapCreate('x'), cephError(InvalidArgument, 'EINVAL', -22, 'IoCtx.poolSnapCreate'));
    await io.selfmanagedSnapRemove(s2);
    await io.selfmanagedSnapRemove(s1);
    io.selfmanagedSnapSetWriteContext(0, []);
    assert.throws(() => io.selfmanagedSnapSetWriteContext(1, 'x' as never), { code: 'ERR_INVALID_ARG_TYPE' });
    // A snap context whose seq is older than its snaps is invalid.
    assert.throws(() => io.selfmanagedSnapSetWriteContext(1, [5, 3]), (e: unknown) => cephError(InvalidArgument, 'EINVAL', -22, 'IoCtx.selfmanagedSnapSetWriteContext')(e));
  });
});
