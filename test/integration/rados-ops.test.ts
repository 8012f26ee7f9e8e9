import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';

import { CompareMismatch, InvalidArgument, IoCtx, OP_FLAGS, ObjectExists, ObjectNotFound, OperationCanceled, OutOfRange, RadosError } from '../../lib';
import { cephError, uniqueName, withNamespace } from '../helpers/cluster';

/** crc32c with a caller's seed and no final inversion (Ceph's ceph_crc32c). */
function cephCrc32c(seed: number, data: Buffer): number {
  let crc = seed >>> 0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return crc >>> 0;
}

describe('compound object operations and single-call extras (real cluster)', () => {
  let ioctx: IoCtx;
  const ns = uniqueName('ops');

  withNamespace('rbd', ns, (_cluster, io) => {
    ioctx = io;
  });

  describe('write ops', () => {
    it('applies every step at once and resolves with the new version', async () => {
      const oid = uniqueName('wop');
      const v1 = await ioctx
        .writeOp(oid)
        .create(true)
        .writeFull('0123456789')
        .write('AB', 2)
        .append('xyz')
        .setXattr('owner', 'me')
        .omapSet({ a: '1', b: Buffer.from([0, 1]), c: '3', d: '4' })
        .setAllocHint(4 << 20, 4096)
        .operate();
      assert.ok(v1 > 0);
      assert.deepEqual(await ioctx.read(oid), Buffer.from('01AB456789xyz'));
      assert.deepEqual(await ioctx.getXattr(oid, 'owner'), Buffer.from('me'));
      assert.deepEqual([...(await ioctx.omapGet(oid)).keys()], ['a', 'b', 'c', 'd']);

      const v2 = await ioctx
        .writeOp(oid)
        .assertExists()
        .assertVersion(v1)
        .cmpext('01AB', 0)
        .cmpxattr('owner', 'eq', 'me')
        .omapCmp('a', 'eq', '1')
        .zero(0, 2)
        .truncate(8)
        .writeSame('ab', 4, 8)
        .rmXattr('owner')
        .omapRemove(['a'])
        .omapRemoveRange('c', 'd')
        .operate({ mtime: new Date('2020-01-02T03:04:05Z') });
      assert.ok(v2 > v1);
      assert.deepEqual(await ioctx.read(oid), Buffer.from('\0\0AB4567abab'));
      assert.deepEqual([...(await ioctx.omapGet(oid)).keys()], ['b', 'd']);
      await assert.rejects(ioctx.getXattr(oid, 'owner'));
      assert.equal((await ioctx.stat(oid)).mtimeMs, Date.parse('2020-01-02T03:04:05Z'));

      await ioctx.writeOp(oid).omapClear().operate();
      assert.equal((await ioctx.omapGet(oid)).size, 0);
      await ioctx.writeOp(oid).assertExists().remove().operate();
      await assert.rejects(ioctx.stat(oid), ObjectNotFound);
    });

    it('fails atomically on a failed assert: nothing of the op is applied', async () => {
      const oid = uniqueName('atomic');
      const first = await ioctx.writeOp(oid).writeFull('first').operate();
      const version = await ioctx.writeOp(oid).writeFull('original').omapSet({ k: 'v' }).operate();
      // Versions grow with every write (per placement group), so version - 1 >= first >= 1 is stale.
      assert.ok(version > first && first >= 1);
      const untouched = async (): Promise<void> => {
        assert.deepEqual(await ioctx.read(oid), Buffer.from('original'));
        assert.deepEqual(await ioctx.omapGet(oid), new Map([['k', Buffer.from('v')]]));
        assert.equal((await ioctx.listXattrs(oid)).size, 0);
      };
      const changes = (op: ReturnType<IoCtx['writeOp']>) => op.write('CHANGED', 0).omapSet({ k: 'new', k2: 'x' }).setXattr('x', 'y');

      // cmpext mismatch: CompareMismatch (EILSEQ) with the offset of the first difference.
      await assert.rejects(changes(ioctx.writeOp(oid).cmpext('origXnal', 0)).operate(), (e: unknown) => {
        cephError(CompareMismatch, 'EILSEQ', -84, 'IoCtx.writeOp')(e);
        assert.equal((e as CompareMismatch).mismatchOffset, 4);
        assert.equal((e as CompareMismatch).object, oid);
        assert.equal((e as { step?: number }).step, 0);
        return true;
      });
      await untouched();
      // A stale version: OutOfRange (ERANGE: the object is newer).
      await assert.rejects(changes(ioctx.writeOp(oid).assertVersion(version - 1)).operate(), cephError(OutOfRange, 'ERANGE', -34, 'IoCtx.writeOp'));
      await untouched();
      // A version from the future: EOVERFLOW.
      await assert.rejects(changes(ioctx.writeOp(oid).assertVersion(version + 100)).operate(), cephError(RadosError, 'EOVERFLOW', -75, 'IoCtx.writeOp'));
      await untouched();
      // An omap compare that does not hold: OperationCanceled, step index 1.
      await assert.rejects(changes(ioctx.writeOp(oid).assertExists().omapCmp('k', 'eq', 'other')).operate(), (e: unknown) => {
        cephError(OperationCanceled, 'ECANCELED', -125, 'IoCtx.writeOp')(e);
        assert.equal((e as { step?: number }).step, 1);
        return true;
      });
      await untouched();
      // An xattr compare on a missing xattr fails too.
      await assert.rejects(changes(ioctx.writeOp(oid).cmpxattr('nope', 'eq', 'x')).operate(), RadosError);
      await untouched();
      // Exclusive create of an existing object.
      await assert.rejects(changes(ioctx.writeOp(oid).create(true)).operate(), cephError(ObjectExists, 'EEXIST', -17, 'IoCtx.writeOp'));
      await untouched();
      // assertExists on a missing object creates nothing.
      const missing = uniqueName('missing');
      await assert.rejects(changes(ioctx.writeOp(missing).assertExists()).operate(), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.writeOp'));
      await assert.rejects(ioctx.stat(missing), ObjectNotFound);
    });

    it('a step flagged FAILOK may fail without failing the operation', async () => {
      const oid = uniqueName('failok');
      await ioctx.writeFull(oid, Buffer.from('abc'));
      await ioctx.omapSet(oid, { k: 'v' });
      // An omap compare that does not hold fails (ECANCELED) but is allowed to: the write still happens.
      await ioctx.writeOp(oid).omapCmp('k', 'eq', 'other').setFlags(OP_FLAGS.FAILOK).write('X', 0).operate();
      assert.deepEqual(await ioctx.read(oid), Buffer.from('Xbc'));
      await assert.rejects(ioctx.writeOp(oid).omapCmp('k', 'eq', 'other').write('Y', 0).operate(), cephError(OperationCanceled, 'ECANCELED', -125, 'IoCtx.writeOp'));
      assert.deepEqual(await ioctx.read(oid), Buffer.from('Xbc'));
      const [, st] = await ioctx.readOp(oid).cmpext('zzz', 0).setFlags(OP_FLAGS.FAILOK).stat().operate();
      assert.equal((st as { size: number }).size, 3);
    });

    it('runs object-class methods (cls_hello) inside a write op', async () => {
      const oid = uniqueName('hello');
      await ioctx.writeOp(oid).exec('hello', 'record_hello', 'ops').operate();
      assert.deepEqual(await ioctx.read(oid), Buffer.from('Hello, ops!'));
      // record_hello refuses an object that exists: the op fails, the step is named.
      await assert.rejects(ioctx.writeOp(oid).exec('hello', 'record_hello', 'again').operate(), (e: unknown) => {
        cephError(ObjectExists, 'EEXIST', -17, 'IoCtx.writeOp')(e);
        assert.equal((e as { step?: number }).step, 0);
        return true;
      });
      await assert.rejects(ioctx.writeOp(oid).exec('nosuchclass', 'm').operate(), RadosError);
    });

    it('refuses bad steps with TypeError/RangeError before anything is sent', () => {
      const op = ioctx.writeOp('x');
      assert.throws(() => op.write(42 as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      assert.throws(() => op.cmpxattr('a', 'like' as never, 'x'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => op.truncate(-1), { name: 'RangeError' });
      assert.throws(() => ioctx.writeOp('y').setFlags(1), { code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => ioctx.writeOp(''), { code: 'ERR_INVALID_ARG_VALUE' });
    });
  });

  describe('read ops', () => {
    it('reads stat, data, xattrs, omap (keys, values, by keys) and a class method in one op', async () => {
      const oid = uniqueName('rop');
      const data = randomBytes(10000);
      const version = await ioctx
        .writeOp(oid)
        .writeFull(data)
        .setXattr('a', '1')
        .setXattr('b', '2')
        .omapSet({ k1: 'v1', k2: 'v2', k3: 'v3', other: 'o' })
        .operate();
      const op = ioctx
        .readOp(oid)
        .assertExists()
        .assertVersion(version)
        .cmpext(data.subarray(100, 200), 100)
        .cmpxattr('a', 'eq', '1')
        .omapCmp('k1', 'eq', 'v1')
        .stat()
        .read(9990, 100)
        .getXattrs()
        .omapGetKeys({ max: 2 })
        .omapGetVals({ prefix: 'k', startAfter: 'k1' })
        .omapGetValsByKeys(['k3', 'missing', 'other'])
        .exec('hello', 'say_hello', 'reader')
        .checksum('crc32c', 0, 10000, { chunkSize: 2500 });
      const results = await op.operate();
      assert.equal(op.version, version);
      assert.deepEqual(results.slice(0, 5), [null, null, null, null, null]);
      assert.equal((results[5] as { size: number }).size, 10000);
      assert.deepEqual(results[6], data.subarray(9990));
      assert.deepEqual(results[7], new Map([['a', Buffer.from('1')], ['b', Buffer.from('2')]]));
      assert.deepEqual(results[8], { entries: ['k1', 'k2'], more: true });
      assert.deepEqual(results[9], { entries: new Map([['k2', Buffer.from('v2')], ['k3', Buffer.from('v3')]]), more: false });
      assert.deepEqual(results[10], new Map([['k3', Buffer.from('v3')], ['other', Buffer.from('o')]]));
      assert.deepEqual(results[11], Buffer.from('Hello, reader!'));
      const sums = results[12] as number[];
      assert.deepEqual(sums, [0, 2500, 5000, 7500].map((off) => cephCrc32c(0xffffffff, data.subarray(off, off + 2500))));
      // The length must be a multiple of the chunk size.
      await assert.rejects(ioctx.readOp(oid).checksum('crc32c', 0, 10000, { chunkSize: 3000 }).operate(), cephError(InvalidArgument, 'EINVAL', -22, 'IoCtx.readOp'));
    });

    it('fails as a whole on a failed guard, with the typed error of that step', async () => {
      const oid = uniqueName('rguard');
      await ioctx.writeFull(oid, Buffer.from('abcdef'));
      await assert.rejects(ioctx.readOp(oid).stat().cmpext('abXdef', 0).operate(), (e: unknown) => {
        cephError(CompareMismatch, 'EILSEQ', -84, 'IoCtx.readOp')(e);
        assert.equal((e as CompareMismatch).mismatchOffset, 2);
        assert.equal((e as { step?: number }).step, 1);
        return true;
      });
      await assert.rejects(ioctx.readOp(uniqueName('none')).assertExists().stat().operate(), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.readOp'));
      assert.throws(() => ioctx.readOp(oid).checksum('xxhash64', 0, 6, { init: Buffer.alloc(4) }), { code: 'ERR_INVALID_ARG_VALUE' });
    });
  });

  describe('single calls', () => {
    it('truncate, writeSame, cmpext, exec, checksum, setAllocHint', async () => {
      const oid = uniqueName('single');
      await ioctx.writeSame(oid, 'xy', 8, 2);
      assert.deepEqual(await ioctx.read(oid), Buffer.from('\0\0xyxyxyxy'));
      await ioctx.truncate(oid, 4);
      assert.deepEqual(await ioctx.read(oid), Buffer.from('\0\0xy'));
      await ioctx.cmpext(oid, 'xy', 2);
      await assert.rejects(ioctx.cmpext(oid, 'xz', 2), (e: unknown) => {
        cephError(CompareMismatch, 'EILSEQ', -84, 'IoCtx.cmpext')(e);
        assert.equal((e as CompareMismatch).mismatchOffset, 1);
        return true;
      });
      await assert.rejects(ioctx.cmpext(uniqueName('none'), 'a', 0), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.cmpext'));
      assert.deepEqual(await ioctx.exec(oid, 'hello', 'say_hello', ''), Buffer.from('Hello, world!'));
      await assert.rejects(ioctx.exec(oid, 'hello', 'no_such_method'), RadosError);
      const payload = randomBytes(5000);
      await ioctx.writeFull(oid, payload);
      assert.deepEqual(await ioctx.checksum(oid, 'crc32c', 0, 5000), [cephCrc32c(0xffffffff, payload)]);
      assert.deepEqual(await ioctx.checksum(oid, 'crc32c', 1000, 2000, { init: Buffer.alloc(4) }), [cephCrc32c(0, payload.subarray(1000, 3000))]);
      const xx = await ioctx.checksum(oid, 'xxhash64', 0, 5000, { chunkSize: 2500 });
      assert.equal(xx.length, 2);
      assert.equal(typeof xx[0], 'bigint');
      assert.notEqual(xx[0], xx[1]);
      await assert.rejects(ioctx.checksum(uniqueName('none'), 'xxhash32', 0, 10), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.checksum'));
      await ioctx.setAllocHint(oid, 4 << 20, 4096);
      await assert.rejects(ioctx.truncate(oid, 2n ** 63n), cephError(RadosError, 'EFBIG', -27, 'IoCtx.truncate'));
    });
  });
});
