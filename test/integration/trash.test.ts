import { strict as assert } from 'node:assert';

import { Image, ImageNotFound, IoCtx, PermissionDenied, Rados, Rbd, RBD_TRASH_IMAGE_SOURCE_USER, type TrashEntry } from '../../lib';
import { uniqueName, withPool } from '../helpers/cluster';

const MiB = 1024 * 1024;

describe('trash and pool init (real cluster)', function () {
  this.timeout(120_000);
  let cluster: Rados;
  let ioctx: IoCtx;
  withPool('rbd', (c, io) => {
    cluster = c;
    ioctx = io;
  });

  /** The trash entry of the image called `name` (this test's names are unique). */
  async function trashed(io: IoCtx, name: string): Promise<TrashEntry | undefined> {
    return (await Rbd.trashList(io)).find((e) => e.name === name);
  }

  /** Runs `fn` on a new pool initialised for RBD, then deletes the pool. */
  async function withFreshPool(fn: (io: IoCtx, pool: string) => Promise<void>, init = true): Promise<void> {
    const pool = uniqueName('pool');
    await cluster.createPool(pool);
    try {
      const io = await cluster.openIoctx(pool);
      try {
        if (init) await Rbd.poolInit(io);
        await fn(io, pool);
      } finally {
        await io.close();
      }
    } finally {
      await cluster.deletePool(pool);
    }
  }

  it('trashMove → trashList → trashRestore → deferred trashMove → trashRemove (PermissionDenied, then force)', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, MiB);
    const image = await Image.open(ioctx, name);
    const id = await image.id();
    await image.close();
    let inTrash = false;
    try {
      const before = Math.floor(Date.now() / 1000) * 1000;
      await Rbd.trashMove(ioctx, name, 0);
      inTrash = true;
      assert.ok(!(await Rbd.list(ioctx)).includes(name));
      const entry = await trashed(ioctx, name);
      assert.ok(entry, 'the image is in the trash');
      assert.equal(entry.id, id);
      assert.equal(entry.source, RBD_TRASH_IMAGE_SOURCE_USER);
      assert.ok(entry.deletionTimeMs >= before - 1000 && entry.deletionTimeMs <= Date.now() + 1000, `deletionTimeMs ${entry.deletionTimeMs}`);
      assert.equal(entry.defermentEndTimeMs, entry.deletionTimeMs);
      assert.deepEqual(await Rbd.trashGet(ioctx, id), entry);

      await Rbd.trashRestore(ioctx, id, name);
      inTrash = false;
      assert.ok((await Rbd.list(ioctx)).includes(name));
      assert.equal(await trashed(ioctx, name), undefined);
      const restored = await Image.open(ioctx, name);
      assert.equal(await restored.id(), id);
      await restored.close();

      await Rbd.trashMove(ioctx, name, 3600);
      inTrash = true;
      const deferred = await Rbd.trashGet(ioctx, id);
      assert.equal(deferred.defermentEndTimeMs - deferred.deletionTimeMs, 3600 * 1000);
      await assert.rejects(Rbd.trashRemove(ioctx, id), (e: unknown) => {
        assert.ok(e instanceof PermissionDenied);
        assert.equal(e.code, 'EPERM');
        assert.equal(e.errno, -1);
        assert.equal(e.op, 'Rbd.trashRemove');
        assert.equal(e.family, 'rbd');
        assert.equal(e.pool, 'rbd');
        assert.match(e.message, /^Rbd\.trashRemove: Operation not permitted \(pool=rbd, /);
        return true;
      });
      assert.ok(await trashed(ioctx, name), 'still in the trash');
      let calls = 0;
      await Rbd.trashRemove(ioctx, id, { force: true, onProgress: () => calls++ });
      inTrash = false;
      assert.ok(calls >= 1, 'onProgress was called');
      assert.equal(await trashed(ioctx, name), undefined);
      assert.ok(!(await Rbd.list(ioctx)).includes(name));
    } finally {
      if (inTrash) await Rbd.trashRemove(ioctx, id, { force: true });
      else if ((await Rbd.list(ioctx)).includes(name)) await Rbd.remove(ioctx, name);
    }
  });

  it('trashGet of a missing id is ImageNotFound (ENOENT); restoring or removing it too', async () => {
    const id = `deadbeef${process.pid.toString(16)}`;
    const check = (op: string) => (e: unknown): true => {
      assert.ok(e instanceof ImageNotFound, String(e));
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.errno, -2);
      assert.equal(e.op, op);
      return true;
    };
    await assert.rejects(Rbd.trashGet(ioctx, id), check('Rbd.trashGet'));
    await assert.rejects(Rbd.trashRestore(ioctx, id, uniqueName()), check('Rbd.trashRestore'));
    await assert.rejects(Rbd.trashRemove(ioctx, id, { force: true }), check('Rbd.trashRemove'));
    await assert.rejects(Rbd.trashMove(ioctx, uniqueName('missing'), 0), check('Rbd.trashMove'));
  });

  it('trashMove validates its delay before crossing into C++', async () => {
    await assert.rejects(Rbd.trashMove(ioctx, 'x', -1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  });

  it('poolInit initialises a fresh pool for RBD', async () => {
    await withFreshPool(async (io, pool) => {
      await Rbd.poolInit(io);
      const reply = await cluster.monCommand({ prefix: 'osd pool application get', pool, format: 'json' });
      assert.equal(reply.status, 0, reply.outs);
      assert.ok('rbd' in JSON.parse(reply.outbuf.toString()), reply.outbuf.toString());
      // Usable for images, and a second init (forced) is harmless.
      const name = uniqueName();
      await Rbd.create(io, name, MiB);
      assert.deepEqual(await Rbd.list(io), [name]);
      await Rbd.poolInit(io, true);
      await Rbd.remove(io, name);
    }, false);
  });

  // In a pool of its own: a purge in the shared pool would remove other tests' entries.
  it('trashPurge removes expired entries only (with progress)', async () => {
    await withFreshPool(async (io) => {
      const expired = uniqueName('expired');
      const deferred = uniqueName('deferred');
      await Rbd.create(io, expired, MiB);
      await Rbd.create(io, deferred, MiB);
      await Rbd.trashMove(io, expired, 0);
      await Rbd.trashMove(io, deferred, 3600);
      const deferredId = (await trashed(io, deferred))?.id;
      assert.ok(deferredId);
      assert.equal((await Rbd.trashList(io)).length, 2);

      // Nothing has expired an hour ago.
      await Rbd.trashPurge(io, { expireTs: new Date(Date.now() - 3600_000) });
      assert.equal((await Rbd.trashList(io)).length, 2);

      const progress: Array<[number, number]> = [];
      await Rbd.trashPurge(io, { onProgress: (done, total) => progress.push([done, total]) });
      assert.deepEqual((await Rbd.trashList(io)).map((e) => e.name), [deferred]);
      assert.deepEqual(progress, [[1, 1]]);

      // An explicit threshold of 1 (100% used) purges nothing on an almost empty pool.
      await Rbd.trashPurge(io, { expireTs: new Date(Date.now() + 7200_000), threshold: 1 });
      assert.equal((await Rbd.trashList(io)).length, 1);
      // Out of librbd's 0..1 range: InvalidArgument.
      await assert.rejects(Rbd.trashPurge(io, { threshold: 2 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });

      await Rbd.trashPurge(io, { expireTs: new Date(Date.now() + 7200_000) });
      assert.deepEqual(await Rbd.trashList(io), []);
      await assert.rejects(Rbd.trashGet(io, deferredId), ImageNotFound);
    });
  });
});
