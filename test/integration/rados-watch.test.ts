import { strict as assert } from 'node:assert';

import { ConnectionError, ConnectionShutdown, HandleClosedError, IoCtx, NotConnected, ObjectNotFound, Rados, type CephError, type Notification } from '../../lib';
import { connect, uniqueName, cephError } from '../helpers/cluster';
import { exposeGc } from '../helpers/gc';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('watch/notify (real cluster)', () => {
  let watcher: Rados;
  let notifier: Rados;
  let wio: IoCtx;
  let nio: IoCtx;
  const ns = uniqueName('watch');

  before(async () => {
    [watcher, notifier] = await Promise.all([connect(), connect()]);
    [wio, nio] = await Promise.all([watcher.openIoctx('rbd', ns), notifier.openIoctx('rbd', ns)]);
  });
  after(async () => {
    if (nio?.state === 'open') for (const o of await nio.listObjects()) await nio.remove(o.oid);
    await Promise.all([watcher?.shutdown(), notifier?.shutdown()]);
  });

  it('a watcher receives a notify and its payload; the notifier gets the ack replies', async () => {
    const oid = uniqueName('obj');
    await nio.writeFull(oid, Buffer.from('x'));
    const seen: Notification[] = [];
    const w1 = await wio.watch(oid, (n) => {
      seen.push(n);
      return Buffer.from(`w1 got ${n.payload.toString()}`);
    });
    const w2 = await wio.watch(oid, async (n) => {
      await sleep(10);
      return `w2 got ${n.payload.toString()}`;
    });
    const silent = await wio.watch(oid, () => undefined);
    try {
      assert.equal(w1.oid, oid);
      assert.equal(typeof w1.cookie, 'bigint');
      assert.notEqual(w1.cookie, w2.cookie);
      assert.ok(w1.check() >= 0);
      const result = await nio.notify(oid, 'hello');
      assert.deepEqual(result.timeouts, []);
      const byCookie = new Map(result.acks.map((a) => [a.cookie, a]));
      assert.equal(byCookie.size, 3);
      assert.deepEqual(byCookie.get(w1.cookie)?.payload, Buffer.from('w1 got hello'));
      assert.deepEqual(byCookie.get(w2.cookie)?.payload, Buffer.from('w2 got hello'));
      assert.deepEqual(byCookie.get(silent.cookie)?.payload, Buffer.alloc(0));
      for (const a of result.acks) assert.equal(a.notifierId, watcher.instanceId());
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0].payload, Buffer.from('hello'));
      assert.equal(seen[0].notifierId, notifier.instanceId());
      assert.equal(seen[0].cookie, w1.cookie);
      assert.equal(typeof seen[0].notifyId, 'bigint');
      // A binary payload arrives intact.
      const binary = Buffer.from([0, 1, 2, 255, 0]);
      await nio.notify(oid, binary);
      assert.deepEqual(seen[1].payload, binary);
    } finally {
      await Promise.all([w1.close(), w2.close(), silent.close()]);
    }
    assert.equal(w1.state, 'closed');
    // A closed watch never calls back, and is not asked for acks any more.
    const after = await nio.notify(oid, 'again');
    assert.deepEqual(after.acks, []);
    await watcher.watchFlush();
    assert.equal(seen.length, 2);
    assert.throws(() => w1.check(), HandleClosedError);
    await w1.close(); // idempotent
  });

  it('an open watch without a JS reference to it keeps answering until its IoCtx closes', async () => {
    const gc = exposeGc();
    const oid = uniqueName('unref');
    await nio.writeFull(oid, Buffer.from('x'));
    const io = await watcher.openIoctx('rbd', ns);
    let calls = 0;
    // The Watch object itself is dropped at once: only its cookie is kept.
    const cookie = (await io.watch(oid, () => {
      calls++;
      return 'still here';
    })).cookie;
    gc();
    await sleep(50);
    gc();
    const result = await nio.notify(oid, 'x');
    assert.deepEqual(result.acks.map((a) => [a.cookie, a.payload.toString()]), [[cookie, 'still here']]);
    assert.equal(calls, 1);
    await io.close();
    assert.deepEqual((await nio.notify(oid, 'x')).acks, []);
    assert.equal(calls, 1);
  });

  it('lists a watcher that does not ack in time under timeouts', async function () {
    this.timeout(30_000);
    const oid = uniqueName('slow');
    await nio.writeFull(oid, Buffer.from('x'));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = await wio.watch(oid, async () => {
      await gate;
      return 'late';
    });
    try {
      const result = await nio.notify(oid, 'ping', { timeoutMs: 1000 });
      assert.deepEqual(result.acks, []);
      assert.equal(result.timeouts.length, 1);
      assert.equal(result.timeouts[0].cookie, slow.cookie);
      assert.equal(result.timeouts[0].notifierId, watcher.instanceId());
    } finally {
      release();
      await slow.close();
    }
  });

  it('closing the I/O context closes its watches; a watch on a missing object is ObjectNotFound', async () => {
    const oid = uniqueName('ctx');
    await nio.writeFull(oid, Buffer.from('x'));
    const io = await watcher.openIoctx('rbd', ns);
    let calls = 0;
    const w = await io.watch(oid, () => {
      calls++;
    });
    await io.close();
    assert.equal(w.state, 'closed');
    assert.deepEqual((await nio.notify(oid, 'x')).acks, []);
    assert.equal(calls, 0);
    await assert.rejects(io.watch(oid, () => undefined), HandleClosedError);
    const missing = uniqueName('missing');
    await assert.rejects(wio.watch(missing, () => undefined), (e: unknown) => {
      cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.watch')(e);
      assert.equal((e as ObjectNotFound).object, missing);
      return true;
    });
    await assert.rejects(wio.watch(oid, 'nope' as never), { code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('a blocklisted watcher: onError gets NotConnected, check() throws it, its calls fail with ConnectionShutdown', async function () {
    this.timeout(60_000);
    const oid = uniqueName('bl');
    await nio.writeFull(oid, Buffer.from('x'));
    const victim = await connect();
    try {
      const io = await victim.openIoctx('rbd', ns);
      const errors: CephError[] = [];
      const w = await io.watch(oid, () => 'ok', { onError: (e) => errors.push(e) });
      assert.ok(w.check() >= 0);
      const address = await victim.getAddrs();
      assert.match(address, /^[\d.:[\]a-f]+:\d+\/\d+$/);
      await notifier.blocklistAdd(address, 600);
      for (let i = 0; i < 300 && errors.length === 0; i++) await sleep(100);
      assert.equal(errors.length >= 1, true, 'onError was called');
      cephError(NotConnected, 'ENOTCONN', -107, 'Watch')(errors[0]);
      assert.equal(errors[0].object, oid);
      assert.throws(() => w.check(), (e: unknown) => {
        cephError(NotConnected, 'ENOTCONN', -107, 'Watch.check')(e);
        assert.ok(e instanceof ConnectionError);
        return true;
      });
      await assert.rejects(io.read(oid), (e: unknown) => {
        cephError(ConnectionShutdown, 'ESHUTDOWN', -108, 'IoCtx.read')(e);
        assert.ok(e instanceof ConnectionError && !(e instanceof NotConnected));
        return true;
      });
      await w.close();
    } finally {
      await victim.shutdown();
    }
  });
});
