import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';

import { HandleClosedError, IoCtx, NoData, ObjectNotFound, Rados } from '../../lib';
import { uniqueName, withNamespace } from '../helpers/cluster';

/** Asserts a librados failure: class, code, errno, op, and the object it was about. */
function rejectsWith(
  Class: typeof ObjectNotFound | typeof NoData,
  code: string,
  errno: number,
  op: string,
  ioctx: IoCtx,
  oid: string,
  description: string,
): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.errno, errno);
    assert.equal(e.op, op);
    assert.equal(e.family, 'rados');
    assert.equal(e.pool, ioctx.pool);
    assert.equal(e.namespace, ioctx.namespace);
    assert.equal(e.object, oid);
    assert.equal(e.message, `${op}: ${description} (pool=${ioctx.pool}, namespace=${ioctx.namespace}, object=${oid})`);
    return true;
  };
}

const notFound = (op: string, ioctx: IoCtx, oid: string) =>
  rejectsWith(ObjectNotFound, 'ENOENT', -2, op, ioctx, oid, 'No such file or directory');

describe('IoCtx objects, xattrs and omap (real cluster)', () => {
  let cluster: Rados;
  let ioctx: IoCtx;
  // Every object of this file lives in its own namespace: listings are
  // deterministic and cleanup is "remove everything in the namespace".
  const ns = uniqueName('objs');

  withNamespace('rbd', ns, (c, io) => {
    cluster = c;
    ioctx = io;
  });

  describe('data', () => {
    it('writes and reads back at offsets (number and bigint)', async () => {
      const oid = uniqueName('obj');
      await ioctx.write(oid, Buffer.from('hello'));
      await ioctx.write(oid, Buffer.from('world'), 10);
      assert.deepEqual(await ioctx.read(oid), Buffer.from('hello\0\0\0\0\0world'));
      assert.deepEqual(await ioctx.read(oid, 5, 10), Buffer.from('world'));
      assert.deepEqual(await ioctx.read(oid, 3, 11n), Buffer.from('orl'));
      // A read past the end is cut at the end; a read from beyond it is empty.
      assert.deepEqual(await ioctx.read(oid, 100, 12), Buffer.from('rld'));
      assert.equal((await ioctx.read(oid, 100, 1000)).length, 0);
      // Overwrite in the middle.
      await ioctx.write(oid, Buffer.from('XY'), 1n);
      assert.deepEqual(await ioctx.read(oid, 5), Buffer.from('hXYlo'));
    });

    it('round-trips a large binary payload, and reads into a Uint8Array view', async () => {
      const oid = uniqueName('obj');
      const data = randomBytes(1024 * 1024 + 7);
      await ioctx.write(oid, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      assert.deepEqual(await ioctx.read(oid, data.length + 100), data);
      assert.deepEqual(await ioctx.read(oid, 1000, 512 * 1024), data.subarray(512 * 1024, 512 * 1024 + 1000));
      // The native read fills the caller's Buffer in place and answers the count.
      const into = Buffer.alloc(64, 0xee);
      assert.equal(await ioctx.native.read(oid, into.subarray(8, 40), 100), 32);
      assert.deepEqual(into.subarray(8, 40), data.subarray(100, 132));
      assert.equal(into[7], 0xee);
      assert.equal(into[40], 0xee);
    });

    it('writeFull replaces the whole object', async () => {
      const oid = uniqueName('obj');
      await ioctx.write(oid, randomBytes(100));
      await ioctx.writeFull(oid, Buffer.from('short'));
      assert.equal((await ioctx.stat(oid)).size, 5);
      assert.deepEqual(await ioctx.read(oid), Buffer.from('short'));
      await ioctx.writeFull(oid, Buffer.alloc(0));
      assert.equal((await ioctx.stat(oid)).size, 0);
      assert.equal((await ioctx.read(oid)).length, 0);
    });

    it('appends', async () => {
      const oid = uniqueName('obj');
      await ioctx.append(oid, Buffer.from('abc'));
      await ioctx.append(oid, Buffer.from('def'));
      await ioctx.append(oid, new Uint8Array([0x67]));
      assert.deepEqual(await ioctx.read(oid), Buffer.from('abcdefg'));
      assert.equal((await ioctx.stat(oid)).size, 7);
    });

    it('stats size and mtime (whole seconds)', async () => {
      const oid = uniqueName('obj');
      const before = Date.now();
      await ioctx.write(oid, Buffer.alloc(4096, 1), 1000);
      const st = await ioctx.stat(oid);
      assert.equal(st.size, 5096);
      assert.equal(st.mtimeMs % 1000, 0);
      assert.ok(Math.abs(st.mtimeMs - before) < 60_000, `mtimeMs ${st.mtimeMs} vs now ${before}`);
    });

    it('removes; then stat, read and remove are ObjectNotFound (ENOENT) naming the object', async () => {
      const oid = uniqueName('obj');
      await ioctx.writeFull(oid, Buffer.from('x'));
      await ioctx.remove(oid);
      await assert.rejects(ioctx.stat(oid), notFound('IoCtx.stat', ioctx, oid));
      await assert.rejects(ioctx.read(oid), notFound('IoCtx.read', ioctx, oid));
      await assert.rejects(ioctx.remove(oid), notFound('IoCtx.remove', ioctx, oid));
    });
  });

  describe('xattrs', () => {
    it('sets, gets, lists and removes extended attributes', async () => {
      const oid = uniqueName('obj');
      await ioctx.writeFull(oid, Buffer.from('data'));
      const binary = Buffer.from([0, 1, 2, 0, 255]);
      // Larger than the first buffer getXattr tries: exercises grow-and-retry.
      const large = randomBytes(20_000);
      await ioctx.setXattr(oid, 'user.text', 'héllo');
      await ioctx.setXattr(oid, 'user.bin', binary);
      await ioctx.setXattr(oid, 'user.large', large);
      await ioctx.setXattr(oid, 'user.empty', Buffer.alloc(0));
      assert.deepEqual(await ioctx.getXattr(oid, 'user.text'), Buffer.from('héllo'));
      assert.deepEqual(await ioctx.getXattr(oid, 'user.bin'), binary);
      assert.deepEqual(await ioctx.getXattr(oid, 'user.large'), large);
      assert.deepEqual(await ioctx.getXattr(oid, 'user.empty'), Buffer.alloc(0));

      const all = await ioctx.listXattrs(oid);
      assert.deepEqual(
        [...all.keys()].sort(),
        ['user.bin', 'user.empty', 'user.large', 'user.text'],
      );
      assert.deepEqual(all.get('user.large'), large);
      assert.deepEqual(all.get('user.bin'), binary);

      // Setting again replaces the value.
      await ioctx.setXattr(oid, 'user.text', 'bye');
      assert.deepEqual(await ioctx.getXattr(oid, 'user.text'), Buffer.from('bye'));

      await ioctx.rmXattr(oid, 'user.text');
      assert.ok(!(await ioctx.listXattrs(oid)).has('user.text'));
      // The data is untouched by xattr operations.
      assert.deepEqual(await ioctx.read(oid), Buffer.from('data'));
    });

    it('a missing xattr is NoData (ENODATA, errno -61); removing one succeeds', async () => {
      const oid = uniqueName('obj');
      await ioctx.writeFull(oid, Buffer.from('data'));
      await assert.rejects(
        ioctx.getXattr(oid, 'user.none'),
        rejectsWith(NoData, 'ENODATA', -61, 'IoCtx.getXattr', ioctx, oid, 'No data available'),
      );
      // The OSD does not check that the attribute exists before removing it.
      await ioctx.rmXattr(oid, 'user.none');
      assert.equal((await ioctx.listXattrs(oid)).size, 0);
    });

    it('xattr calls on a missing object are ObjectNotFound', async () => {
      const oid = uniqueName('missing');
      await assert.rejects(ioctx.getXattr(oid, 'user.a'), notFound('IoCtx.getXattr', ioctx, oid));
      await assert.rejects(ioctx.listXattrs(oid), notFound('IoCtx.listXattrs', ioctx, oid));
    });
  });

  describe('omap', () => {
    it('sets and gets entries, with prefix, startAfter and max', async () => {
      const oid = uniqueName('obj');
      await ioctx.omapSet(oid, { a1: 'one', a2: Buffer.from([0, 2]), b1: 'bee', c: '' });
      const all = await ioctx.omapGet(oid);
      assert.deepEqual([...all.keys()], ['a1', 'a2', 'b1', 'c']);
      assert.deepEqual(all.get('a1'), Buffer.from('one'));
      assert.deepEqual(all.get('a2'), Buffer.from([0, 2]));
      assert.deepEqual(all.get('c'), Buffer.alloc(0));

      assert.deepEqual([...(await ioctx.omapGet(oid, { prefix: 'a' })).keys()], ['a1', 'a2']);
      assert.deepEqual([...(await ioctx.omapGet(oid, { startAfter: 'a2' })).keys()], ['b1', 'c']);
      assert.deepEqual([...(await ioctx.omapGet(oid, { max: 2 })).keys()], ['a1', 'a2']);
      assert.deepEqual([...(await ioctx.omapGet(oid, { startAfter: 'a1', max: 2 })).keys()], ['a2', 'b1']);
      assert.deepEqual([...(await ioctx.omapGet(oid, { startAfter: 'a1', prefix: 'a' })).keys()], ['a2']);
      assert.equal((await ioctx.omapGet(oid, { prefix: 'zzz' })).size, 0);

      // A Map works as well, and setting again replaces.
      await ioctx.omapSet(oid, new Map([['b1', 'BEE']]));
      assert.deepEqual((await ioctx.omapGet(oid, { prefix: 'b' })).get('b1'), Buffer.from('BEE'));
    });

    it('returns up to max entries even past the OSD per-request cap (1024)', async function () {
      this.timeout(60_000);
      const oid = uniqueName('obj');
      const entries = new Map<string, string>();
      for (let i = 0; i < 1500; i++) entries.set(`k${String(i).padStart(5, '0')}`, `v${i}`);
      await ioctx.omapSet(oid, entries);
      const got = await ioctx.omapGet(oid, { max: 2000 });
      assert.equal(got.size, 1500);
      assert.deepEqual([...got.keys()], [...entries.keys()]);
      assert.deepEqual(got.get('k01499'), Buffer.from('v1499'));
      assert.equal((await ioctx.omapGet(oid, { max: 1100 })).size, 1100);
      assert.equal((await ioctx.omapGet(oid)).size, 1024); // the default max
      assert.equal((await ioctx.omapGet(oid, { startAfter: 'k01000', max: 2000 })).size, 499);
    });

    it('removes keys and clears', async () => {
      const oid = uniqueName('obj');
      await ioctx.writeFull(oid, Buffer.from('payload'));
      await ioctx.omapSet(oid, { x: '1', y: '2', z: '3' });
      await ioctx.omapRemove(oid, ['x', 'z', 'not-there']);
      assert.deepEqual([...(await ioctx.omapGet(oid)).keys()], ['y']);
      await ioctx.omapClear(oid);
      assert.equal((await ioctx.omapGet(oid)).size, 0);
      // Omap operations leave the data alone.
      assert.deepEqual(await ioctx.read(oid), Buffer.from('payload'));
    });

    it('omap calls on a missing object are ObjectNotFound', async () => {
      const oid = uniqueName('missing');
      await assert.rejects(ioctx.omapGet(oid), notFound('IoCtx.omapGet', ioctx, oid));
      await assert.rejects(ioctx.omapRemove(oid, ['a']), notFound('IoCtx.omapRemove', ioctx, oid));
      await assert.rejects(ioctx.omapClear(oid), notFound('IoCtx.omapClear', ioctx, oid));
    });
  });

  describe('listObjects', () => {
    it('lists exactly the objects of its namespace', async () => {
      const listNs = uniqueName('list');
      const io = await cluster.openIoctx('rbd', listNs);
      const names = [uniqueName('a'), uniqueName('b'), uniqueName('c')];
      try {
        assert.deepEqual(await io.listObjects(), []);
        for (const n of names) await io.writeFull(n, Buffer.from(n));
        const listed = await io.listObjects();
        assert.deepEqual(
          listed.map((o) => o.oid).sort(),
          [...names].sort(),
        );
        for (const o of listed) {
          assert.equal(o.namespace, listNs);
          assert.equal(o.locator, '');
        }
        // Objects of the other namespace are not listed here, nor these there.
        assert.ok(!(await ioctx.listObjects()).some((o) => names.includes(o.oid)));
        await io.remove(names[1]);
        assert.deepEqual((await io.listObjects()).map((o) => o.oid).sort(), [names[0], names[2]].sort());
      } finally {
        for (const o of await io.listObjects()) await io.remove(o.oid);
        await io.close();
      }
    });
  });

  describe('arguments and lifecycle', () => {
    it('rejects a bad oid with TypeError before reaching the addon', async () => {
      await assert.rejects(ioctx.write(42 as unknown as string, Buffer.from('x')), (e: unknown) => {
        assert.ok(e instanceof TypeError);
        assert.equal((e as TypeError & { code: string }).code, 'ERR_INVALID_ARG_TYPE');
        assert.equal(e.message, 'Expected a string for oid but received 42');
        return true;
      });
      await assert.rejects(ioctx.stat(''), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(ioctx.read('a\0b'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(ioctx.write('x', 'text' as unknown as Buffer), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      await assert.rejects(ioctx.write('x', Buffer.from('x'), -1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(ioctx.omapRemove('x', 'k' as unknown as string[]), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });

    it('the addon itself refuses wrong types (no crash)', () => {
      const n = ioctx.native as unknown as Record<string, (...args: unknown[]) => unknown>;
      const call = (name: string, ...args: unknown[]) => () => n[name].apply(ioctx.native, args);
      assert.throws(call('write', 42, Buffer.alloc(1), 0), { name: 'TypeError', message: 'Expected a string for oid' });
      assert.throws(call('read', 'o', 'not a buffer', 0), { name: 'TypeError', message: 'Expected a Buffer for buffer' });
      assert.throws(call('read', 'o', Buffer.alloc(1), -1), { name: 'RangeError' });
      assert.throws(call('stat', 'a\0b'), { name: 'TypeError', message: 'oid must not contain NUL characters' });
      assert.throws(call('getXattr', 'o'), { name: 'TypeError', message: 'Expected a string for name' });
      assert.throws(call('omapSet', 'o', ['a', 'b'], [Buffer.alloc(1)]), {
        name: 'TypeError',
        message: 'Expected as many values as keys for omapSet (2 keys, 1 values)',
      });
      assert.throws(call('omapSet', 'o', ['a'], ['not a buffer']), { name: 'TypeError', message: 'Expected an array of Buffers for values' });
      assert.throws(call('omapSet', 'o', 'a', []), { name: 'TypeError', message: 'Expected an array of strings for keys' });
      assert.throws(call('omapRemove', 'o', [1]), { name: 'TypeError', message: 'Expected an array of strings for keys' });
      assert.throws(call('omapGet', 'o', '', '', -1), { name: 'RangeError' });
    });

    it('rejects calls on a closed I/O context with HandleClosedError', async () => {
      const io = await cluster.openIoctx('rbd', ns);
      await io.close();
      await assert.rejects(io.stat('x'), (e: unknown) => e instanceof HandleClosedError && e.op === 'IoCtx.stat');
      await assert.rejects(io.read('x'), HandleClosedError);
      await assert.rejects(io.omapGet('x'), HandleClosedError);
      await assert.rejects(io.listObjects(), (e: unknown) => e instanceof HandleClosedError && e.code === 'ERR_CEPH_CLOSED');
    });

    it('close waits for in-flight object operations', async () => {
      const io = await cluster.openIoctx('rbd', ns);
      const oid = uniqueName('obj');
      const data = randomBytes(256 * 1024);
      const write = io.writeFull(oid, data);
      const closed = io.close();
      await write;
      await closed;
      assert.equal(io.state, 'closed');
      assert.deepEqual(await ioctx.read(oid, data.length), data);
    });
  });
});
