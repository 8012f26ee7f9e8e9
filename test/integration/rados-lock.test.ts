import { strict as assert } from 'node:assert';

import { IoCtx, ObjectBusy, ObjectExists, ObjectNotFound, Rados } from '../../lib';
import { connect, uniqueName, cephError } from '../helpers/cluster';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('rados object locks (real cluster)', () => {
  let a: Rados;
  let b: Rados;
  let ioA: IoCtx;
  let ioB: IoCtx;
  const ns = uniqueName('lock');

  before(async () => {
    [a, b] = await Promise.all([connect(), connect()]);
    [ioA, ioB] = await Promise.all([a.openIoctx('rbd', ns), b.openIoctx('rbd', ns)]);
  });
  after(async () => {
    if (ioA?.state === 'open') for (const o of await ioA.listObjects()) await ioA.remove(o.oid);
    await Promise.all([a?.shutdown(), b?.shutdown()]);
  });

  it('two clients contend for an exclusive lock: one holds it, the other gets ObjectBusy until it is released', async () => {
    const oid = uniqueName('obj');
    const results = await Promise.allSettled([
      ioA.lockExclusive(oid, 'owner', 'cookie-a', { description: 'client a' }),
      ioB.lockExclusive(oid, 'owner', 'cookie-b', { description: 'client b' }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.equal(won.length, 1, 'exactly one client holds the lock');
    assert.equal(lost.length, 1);
    cephError(ObjectBusy, 'EBUSY', -16, 'IoCtx.lockExclusive')(lost[0].reason);
    assert.equal(lost[0].reason.object, oid);
    const [holder, holderIo, holderCookie, other, otherIo, otherCookie] =
      results[0].status === 'fulfilled' ? [a, ioA, 'cookie-a', b, ioB, 'cookie-b'] : [b, ioB, 'cookie-b', a, ioA, 'cookie-a'];

    const info = await otherIo.listLockers(oid, 'owner');
    assert.equal(info.exclusive, true);
    assert.equal(info.lockers.length, 1);
    assert.equal(info.lockers[0].client, `client.${holder.instanceId()}`);
    assert.equal(info.lockers[0].cookie, holderCookie);
    assert.ok(info.lockers[0].address.endsWith(await holder.getAddrs()), info.lockers[0].address);
    // The holder asking again: ObjectExists, unless it renews.
    await assert.rejects(holderIo.lockExclusive(oid, 'owner', holderCookie), cephError(ObjectExists, 'EEXIST', -17, 'IoCtx.lockExclusive'));
    await holderIo.lockExclusive(oid, 'owner', holderCookie, { renew: true });
    // Shared is refused while exclusive is held.
    await assert.rejects(otherIo.lockShared(oid, 'owner', otherCookie, 'tag'), cephError(ObjectBusy, 'EBUSY', -16, 'IoCtx.lockShared'));
    // Unlocking a lock one does not hold: ObjectNotFound.
    await assert.rejects(otherIo.unlock(oid, 'owner', otherCookie), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.unlock'));
    await holderIo.unlock(oid, 'owner', holderCookie);
    await otherIo.lockExclusive(oid, 'owner', otherCookie);
    assert.equal((await holderIo.listLockers(oid, 'owner')).lockers[0].client, `client.${other.instanceId()}`);
    // Breaking another client's lock.
    await holderIo.breakLock(oid, 'owner', `client.${other.instanceId()}`, otherCookie);
    assert.deepEqual((await holderIo.listLockers(oid, 'owner')).lockers, []);
    await assert.rejects(holderIo.breakLock(oid, 'owner', `client.${other.instanceId()}`, otherCookie), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.breakLock'));
  });

  it('shared locks: both clients hold one with the same tag; a different tag is refused', async () => {
    const oid = uniqueName('shared');
    await ioA.lockShared(oid, 'readers', 'a', 'tag1');
    await ioB.lockShared(oid, 'readers', 'b', 'tag1');
    const info = await ioA.listLockers(oid, 'readers');
    assert.equal(info.exclusive, false);
    assert.equal(info.tag, 'tag1');
    assert.deepEqual(info.lockers.map((l) => l.cookie).sort(), ['a', 'b']);
    await assert.rejects(ioB.lockShared(oid, 'readers', 'c', 'tag2'), cephError(ObjectBusy, 'EBUSY', -16, 'IoCtx.lockShared'));
    await assert.rejects(ioB.lockExclusive(oid, 'readers', 'c'), cephError(ObjectBusy, 'EBUSY', -16, 'IoCtx.lockExclusive'));
    await Promise.all([ioA.unlock(oid, 'readers', 'a'), ioB.unlock(oid, 'readers', 'b')]);
    assert.deepEqual((await ioA.listLockers(oid, 'readers')).lockers, []);
  });

  it('a lock with a duration expires; mustRenew fails when the lock is not held', async function () {
    this.timeout(30_000);
    const oid = uniqueName('ttl');
    await ioA.lockExclusive(oid, 'lease', 'a', { durationMs: 1500 });
    await assert.rejects(ioB.lockExclusive(oid, 'lease', 'b'), ObjectBusy);
    await sleep(2500);
    await ioB.lockExclusive(oid, 'lease', 'b');
    // cls_lock answers a renewal of a lock this cookie does not hold with ENOENT.
    await assert.rejects(ioA.lockExclusive(oid, 'lease', 'a', { mustRenew: true }), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.lockExclusive'));
    await ioB.unlock(oid, 'lease', 'b');
    await assert.rejects(ioA.lockExclusive(oid, 'lease', 'a', { durationMs: -1 }), { name: 'RangeError' });
    await assert.rejects(ioA.listLockers(oid, ''), { code: 'ERR_INVALID_ARG_VALUE' });
  });
});
