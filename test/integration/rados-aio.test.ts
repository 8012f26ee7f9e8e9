import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';

import { CompareMismatch, HandleClosedError, InvalidArgument, IoCtx, NoData, ObjectNotFound, Rados, RadosError } from '../../lib';
import { cephError, uniqueName, withNamespace } from '../helpers/cluster';

/** Distinct content per object: a checked read proves each result is its own. */
function content(i: number): Buffer {
  const head = Buffer.from(`object ${i}:`);
  return Buffer.concat([head, createHash('sha256').update(String(i)).digest(), Buffer.alloc(i % 97, i & 0xff)]);
}

describe('librados aio (real cluster)', () => {
  let cluster: Rados;
  let ioctx: IoCtx;
  const ns = uniqueName('aio');

  withNamespace('rbd', ns, (c, io) => {
    cluster = c;
    ioctx = io;
  });

  it('writes, stats, reads and removes 1,000 objects at once, every result checked', async function () {
    this.timeout(120_000);
    const n = 1000;
    const oids = Array.from({ length: n }, (_, i) => `bulk-${i}`);
    const versions = await Promise.all(oids.map((oid, i) => ioctx.aioWriteFull(oid, content(i))));
    assert.equal(versions.length, n);
    for (const v of versions) assert.ok(Number.isInteger(v) && v > 0, `version ${v}`);
    await ioctx.aioFlush();
    // Appends in flight together with the writes above being read back.
    const appended = await Promise.all(oids.map((oid, i) => ioctx.aioAppend(oid, Buffer.from(`#${i}`))));
    appended.forEach((v, i) => assert.ok(v > versions[i], `append of ${i} bumps the version`));
    const stats = await Promise.all(oids.map((oid) => ioctx.aioStat(oid)));
    stats.forEach((s, i) => assert.equal(s.size, content(i).length + `#${i}`.length, `size of ${oids[i]}`));
    const reads = await Promise.all(oids.map((oid) => ioctx.aioRead(oid, 4096)));
    reads.forEach((buf, i) => assert.deepEqual(buf, Buffer.concat([content(i), Buffer.from(`#${i}`)]), `content of ${oids[i]}`));
    assert.equal((await ioctx.listObjects()).filter((o) => o.oid.startsWith('bulk-')).length, n);
    await Promise.all(oids.map((oid) => ioctx.aioRemove(oid)));
    const gone = await Promise.allSettled(oids.map((oid) => ioctx.aioStat(oid)));
    for (const g of gone) {
      assert.equal(g.status, 'rejected');
      cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.aioStat')((g as PromiseRejectedResult).reason);
    }
  });

  it('writes at offsets, writesame, xattrs, cmpext and exec through aio', async () => {
    const oid = uniqueName('one');
    await ioctx.aioWrite(oid, 'hello', 0);
    await ioctx.aioWrite(oid, Buffer.from('world'), 10n);
    assert.deepEqual(await ioctx.aioRead(oid, 100), Buffer.from('hello\0\0\0\0\0world'));
    assert.deepEqual(await ioctx.aioRead(oid, 3, 11), Buffer.from('orl'));
    await ioctx.aioWriteSame(oid, 'ab', 6, 2);
    assert.deepEqual(await ioctx.aioRead(oid, 8), Buffer.from('heababab'));
    await ioctx.aioCmpExt(oid, 'heab', 0);
    await assert.rejects(ioctx.aioCmpExt(oid, 'heXb', 0), (e: unknown) => {
      cephError(CompareMismatch, 'EILSEQ', -84, 'IoCtx.aioCmpExt')(e);
      assert.equal((e as CompareMismatch).mismatchOffset, 2);
      return true;
    });
    await ioctx.aioSetXattr(oid, 'color', 'blue');
    assert.deepEqual(await ioctx.aioGetXattr(oid, 'color'), Buffer.from('blue'));
    await assert.rejects(ioctx.aioGetXattr(oid, 'color', 2), cephError(RadosError, 'ERANGE', -34, 'IoCtx.aioGetXattr'));
    await ioctx.aioRmXattr(oid, 'color');
    await assert.rejects(ioctx.aioGetXattr(oid, 'color'), cephError(NoData, 'ENODATA', -61, 'IoCtx.aioGetXattr'));
    assert.deepEqual(await ioctx.aioExec(oid, 'hello', 'say_hello', 'aio'), Buffer.from('Hello, aio!'));
    // cls_hello refuses a name longer than 100 bytes.
    await assert.rejects(ioctx.aioExec(oid, 'hello', 'say_hello', 'x'.repeat(200)), cephError(InvalidArgument, 'EINVAL', -22, 'IoCtx.aioExec'));
  });

  it('rejects typed errors for missing objects, with the object named', async () => {
    const oid = uniqueName('missing');
    for (const [op, p] of [
      ['IoCtx.aioRead', ioctx.aioRead(oid)],
      ['IoCtx.aioStat', ioctx.aioStat(oid)],
      ['IoCtx.aioRemove', ioctx.aioRemove(oid)],
      ['IoCtx.aioGetXattr', ioctx.aioGetXattr(oid, 'x')],
    ] as const) {
      await assert.rejects(p, (e: unknown) => {
        cephError(ObjectNotFound, 'ENOENT', -2, op)(e);
        assert.equal((e as ObjectNotFound).object, oid);
        assert.equal((e as ObjectNotFound).namespace, ns);
        return true;
      });
    }
  });

  it('a closed I/O context refuses aio with HandleClosedError; close waits for aio in flight', async () => {
    const io = await cluster.openIoctx('rbd', ns);
    const oid = uniqueName('closing');
    const inflight = Array.from({ length: 50 }, (_, i) => io.aioWrite(oid, Buffer.alloc(4096, i), i * 4096));
    const closed = io.close();
    await Promise.all(inflight);
    await closed;
    await assert.rejects(io.aioWrite(oid, 'x'), HandleClosedError);
    await assert.rejects(io.aioFlush(), HandleClosedError);
    assert.equal((await ioctx.stat(oid)).size, 50 * 4096);
  });
});

