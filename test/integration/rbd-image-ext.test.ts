import { strict as assert } from 'node:assert';

import {
  CompareMismatch,
  Image,
  ImageBusy,
  ImageExists,
  ImageOption,
  ImageOptions,
  ImageNotFound,
  InvalidArgument,
  IoCtx,
  OpFlags,
  poolStats,
  Rbd,
  RBD_FEATURE_DEEP_FLATTEN,
  RBD_FEATURE_LAYERING,
  SnapNamespaceType,
} from '../../lib';
import { cephError, cli, connect, uniqueName, withPool } from '../helpers/cluster';

const MiB = 1024 * 1024;

describe('more image calls (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_c, io) => {
    ioctx = io;
  });

  async function withImage(fn: (img: Image, name: string) => Promise<void>, size = 8 * MiB, features = RBD_FEATURE_LAYERING, order = 22): Promise<void> {
    const name = uniqueName('ext');
    await Rbd.create(ioctx, name, size, { features, order });
    const img = await Image.open(ioctx, name);
    try {
      await fn(img, name);
    } finally {
      await img.close();
      for (const s of await (async () => {
        const i = await Image.open(ioctx, name).catch(() => null);
        if (!i) return [];
        const snaps = await i.listSnaps();
        await i.close();
        return snaps;
      })()) {
        const i = await Image.open(ioctx, name);
        await i.snapRemoveById(s.id).catch(() => undefined);
        await i.close();
      }
      await Rbd.remove(ioctx, name).catch(() => undefined);
    }
  }

  it('snapshots by id: name, id, set, remove; trash namespace of a clone-v2 parent snapshot', () =>
    withImage(async (img, name) => {
      await img.write(Buffer.from('at-snap!'), 0);
      await img.createSnap('s1');
      await img.write(Buffer.from('at-head!'), 0);
      const id = await img.snapGetId('s1');
      assert.equal(await img.snapGetName(id), 's1');
      assert.equal(await img.snapGetNamespaceType(id), SnapNamespaceType.USER);
      await img.snapSetById(id);
      assert.equal(img.snapshot, 's1');
      assert.equal((await img.read(0, 8)).toString(), 'at-snap!');
      await img.snapSetById(null);
      assert.equal((await img.read(0, 8)).toString(), 'at-head!');
      await assert.rejects(img.snapGetName(999999), cephError(ImageNotFound, 'ENOENT', -2, 'Image.snapGetName'));
      await assert.rejects(img.snapGetId('nope'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.snapGetId', { snapshot: 'nope' }));
      await assert.rejects(img.snapSetById(999999), cephError(ImageNotFound, 'ENOENT', -2, 'Image.snapSetById'));
      await assert.rejects(img.snapGetTrashNamespace(id), cephError(InvalidArgument, 'EINVAL', -22, 'Image.snapGetTrashNamespace'));
      await assert.rejects(img.snapGetMirrorNamespace(id), cephError(InvalidArgument, 'EINVAL', -22, 'Image.snapGetMirrorNamespace'));

      // a clone v2 keeps its parent snapshot alive in the trash namespace
      const child = `${name}-child`;
      await Rbd.clone(ioctx, name, 's1', ioctx, child, { cloneFormat: 2 });
      await img.removeSnap('s1');
      const [trashed] = await img.listSnaps();
      assert.equal(trashed.namespaceType, SnapNamespaceType.TRASH);
      assert.equal(await img.snapGetNamespaceType(trashed.id), SnapNamespaceType.TRASH);
      assert.equal(await img.snapGetTrashNamespace(trashed.id), 's1');
      const descendants = await img.listDescendants();
      assert.deepEqual(descendants.map((d) => [d.image, d.pool, d.trash]), [[child, 'rbd', false]]);
      await assert.rejects(img.snapRemoveById(trashed.id), cephError(ImageBusy, 'EBUSY', -16, 'Image.snapRemoveById'));
      await Rbd.remove(ioctx, child);
      // librbd removes the trashed snapshot with its last clone
      assert.deepEqual(await img.listSnaps(), []);
      await img.createSnap('s2');
      await img.snapRemoveById(await img.snapGetId('s2'));
      assert.deepEqual(await img.listSnaps(), []);
      await assert.rejects(img.snapRemoveById(12345), cephError(ImageNotFound, 'ENOENT', -2, 'Image.snapRemoveById'));
    }, 8 * MiB, RBD_FEATURE_LAYERING | RBD_FEATURE_DEEP_FLATTEN));

  it('mirror namespace of a mirror snapshot', () =>
    withImage(async (img, name) => {
      await cli('rbd', ['mirror', 'pool', 'enable', 'rbd', 'image']);
      try {
        await cli('rbd', ['mirror', 'image', 'enable', `rbd/${name}`, 'snapshot']);
        const mirrorSnaps = (await img.listSnaps()).filter((s) => s.namespaceType === SnapNamespaceType.MIRROR);
        assert.ok(mirrorSnaps.length >= 1);
        const ns = await img.snapGetMirrorNamespace(mirrorSnaps[0].id);
        assert.equal(ns.state, 'primary');
        assert.equal(typeof ns.complete, 'boolean');
        assert.ok(Array.isArray(ns.peerUuids));
        await cli('rbd', ['mirror', 'image', 'disable', `rbd/${name}`]);
      } finally {
        await cli('rbd', ['mirror', 'pool', 'disable', 'rbd']).catch(() => undefined);
      }
    }, 8 * MiB, RBD_FEATURE_LAYERING | RBD_FEATURE_DEEP_FLATTEN | 4));

  it('legacy advisory locks: exclusive, shared, unlock; contention between two clients', () =>
    withImage(async (img, name) => {
      await img.lockExclusive('c1');
      const lockers = await img.listLockers();
      assert.equal(lockers.exclusive, true);
      assert.deepEqual(lockers.lockers.map((l) => l.cookie), ['c1']);
      await assert.rejects(img.lockExclusive('c1'), cephError(ImageExists, 'EEXIST', -17, 'Image.lockExclusive'));
      const other = await connect();
      try {
        const io2 = await other.openIoctx('rbd');
        const img2 = await Image.open(io2, name);
        await assert.rejects(img2.lockExclusive('c2'), cephError(ImageBusy, 'EBUSY', -16, 'Image.lockExclusive'));
        await assert.rejects(img2.lockShared('c2', 'tag'), cephError(ImageBusy, 'EBUSY', -16, 'Image.lockShared'));
        await img.unlock('c1');
        await img.lockShared('s1', 'grp');
        await img2.lockShared('s2', 'grp');
        const shared = await img.listLockers();
        assert.equal(shared.exclusive, false);
        assert.equal(shared.tag, 'grp');
        assert.deepEqual(shared.lockers.map((l) => l.cookie).sort(), ['s1', 's2']);
        await img2.unlock('s2');
        await img2.close();
      } finally {
        await other.shutdown();
      }
      await img.unlock('s1');
      await assert.rejects(img.unlock('s1'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.unlock'));
    }));

  it('writeSame and compareAndWrite (sync and aio): patterns, atomic mismatch with its offset', () =>
    withImage(async (img) => {
      const n = await img.writeSame(0, 64 * 1024, Buffer.from('abcd'));
      assert.equal(n, 64 * 1024);
      assert.equal((await img.read(60 * 1024, 8)).toString(), 'abcdabcd');
      assert.equal(await img.aioWriteSame(1 * MiB, 8192, Buffer.from('xy'), { opFlags: OpFlags.FADVISE_DONTNEED }), 8192);
      assert.equal((await img.read(1 * MiB + 8190, 2)).toString(), 'xy');
      await assert.rejects(img.writeSame(0, 10, Buffer.from('abcd')), cephError(InvalidArgument, 'EINVAL', -22, 'Image.writeSame'));
      await assert.rejects(img.writeSame(0, 8, Buffer.alloc(0)), { code: 'ERR_OUT_OF_RANGE' });

      const cur = await img.read(0, 512);
      const next = Buffer.alloc(512, 'N');
      assert.equal(await img.compareAndWrite(0, cur, next), 512);
      assert.deepEqual(await img.read(0, 512), next);
      const wrong = Buffer.from(next);
      wrong[100] = 0x21;
      await img.write(next, 4096);
      await assert.rejects(img.compareAndWrite(4096, wrong, Buffer.alloc(512, 'Z')), (e: unknown) => {
        cephError(CompareMismatch, 'EILSEQ', -84, 'Image.compareAndWrite')(e);
        assert.equal((e as CompareMismatch).mismatchOffset, 100); // within the compared range
        return true;
      });
      assert.deepEqual(await img.read(0, 512), next); // nothing written
      assert.equal(await img.aioCompareAndWrite(0, next, Buffer.alloc(512, 'A')), 512);
      const almost = await img.read(512, 512);
      almost[7] ^= 0xff;
      await assert.rejects(img.aioCompareAndWrite(512, almost, Buffer.alloc(512, 'B')), (e: unknown) => {
        cephError(CompareMismatch, 'EILSEQ', -84, 'Image.aioCompareAndWrite')(e);
        assert.equal((e as CompareMismatch).mismatchOffset, 7);
        return true;
      });
      assert.deepEqual(await img.read(0, 512), Buffer.alloc(512, 'A'));
      await assert.rejects(img.compareAndWrite(0, Buffer.alloc(4), Buffer.alloc(8)), { code: 'ERR_OUT_OF_RANGE' });
    }));

  it('aio with op flags and scatter/gather; resize2 refuses to shrink unless allowed; oldFormat', () =>
    withImage(async (img) => {
      assert.equal(await img.aioWrite2(Buffer.alloc(4096, 7), 8192, { opFlags: OpFlags.FADVISE_SEQUENTIAL }), 4096);
      assert.deepEqual(await img.aioRead2(8192, 4096, { opFlags: OpFlags.FADVISE_RANDOM }), Buffer.alloc(4096, 7));
      const parts = [Buffer.from('hello '), Buffer.from('scatter '), Buffer.from('gather')];
      assert.equal(await img.aioWritev(parts, 100), 20);
      const into = [Buffer.alloc(6), Buffer.alloc(14)];
      assert.equal(await img.aioReadv(100, into), 20);
      assert.equal(Buffer.concat(into).toString(), 'hello scatter gather');
      await assert.rejects(img.aioReadv(0, []), { code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(img.aioWritev([Buffer.alloc(1)], 8 * MiB), cephError(InvalidArgument, 'EINVAL', -22, 'Image.aioWritev'));

      await assert.rejects(img.resize2(4 * MiB, { allowShrink: false }), cephError(InvalidArgument, 'EINVAL', -22, 'Image.resize'));
      assert.equal(await img.size(), 8 * MiB);
      const progress: number[] = [];
      await img.resize2(16 * MiB, { allowShrink: false, onProgress: (d) => progress.push(d) });
      assert.equal(await img.size(), 16 * MiB);
      await img.resize2(4 * MiB);
      assert.equal(await img.size(), 4 * MiB);
      assert.equal(await img.oldFormat(), false);
    }));

  it('every data write that crosses the end is InvalidArgument and writes nothing (librbd would cut it and report success)', () =>
    withImage(async (img) => {
      const end = 8 * MiB;
      assert.equal(await img.size(), end);
      const d = Buffer.alloc(4096, 7);
      const crossing: [string, () => Promise<unknown>][] = [
        ['Image.write', () => img.write(d, end - 2048)],
        ['Image.aioWrite', () => img.aioWrite(d, end - 2048)],
        ['Image.aioWrite2', () => img.aioWrite2(d, end - 2048)],
        ['Image.aioWritev', () => img.aioWritev([d.subarray(0, 1000), d.subarray(1000)], end - 2048)],
        ['Image.writeSame', () => img.writeSame(end - 2048, 4096, Buffer.alloc(512, 1))],
        ['Image.aioWriteSame', () => img.aioWriteSame(end - 2048, 4096, Buffer.alloc(512, 1))],
        ['Image.compareAndWrite', () => img.compareAndWrite(end - 2048, Buffer.alloc(4096), d)],
        ['Image.aioCompareAndWrite', () => img.aioCompareAndWrite(end - 2048, Buffer.alloc(4096), d)],
      ];
      for (const [op, write] of crossing) {
        await assert.rejects(write(), cephError(InvalidArgument, 'EINVAL', -22, op), op);
        assert.deepEqual(await img.read(end - 2048, 2048), Buffer.alloc(2048), `${op} wrote the part inside the image`);
      }
      // Right up to the end is a write like any other.
      assert.equal(await img.aioWrite2(d.subarray(0, 2048), end - 2048), 2048);
      assert.equal(await img.aioWriteSame(end - 2048, 2048, Buffer.alloc(512, 1)), 2048);
      assert.deepEqual(await img.read(end - 2048, 2048), Buffer.alloc(2048, 1));
    }));

  it('copySparse: data equal, zero runs left unallocated; pool stats count images', () =>
    withImage(async (img, name) => {
      await img.write(Buffer.alloc(64 * 1024, 1), 0);
      await img.write(Buffer.alloc(1 * MiB, 0), 2 * MiB); // explicit zeroes
      await img.write(Buffer.alloc(4096, 2), 6 * MiB);
      const dest = `${name}-copy`;
      const dest2 = `${name}-copy2`;
      try {
        await img.copySparse(ioctx, dest, { sparseSize: 64 * 1024 });
        const progress: number[] = [];
        await img.copySparse(ioctx, dest2, { sparseSize: 4096, order: 20, onProgress: (d) => progress.push(d) });
        assert.ok(progress.length > 0);
        const du = async (image: string): Promise<number> =>
          (JSON.parse(await cli('rbd', ['du', '--format', 'json', `rbd/${image}`])) as { images: Array<{ used_size: number }> }).images[0].used_size;
        // 1 MiB objects: the source has objects 0, 2 (zeroes) and 6; the sparse copies only 0 and 6
        assert.equal(await du(name), 3 * MiB);
        for (const d of [dest, dest2]) {
          const c = await Image.open(ioctx, d);
          assert.deepEqual(await c.read(0, 8 * MiB), await img.read(0, 8 * MiB));
          assert.equal(await du(d), 2 * MiB);
          await c.close();
        }
        await assert.rejects(img.copySparse(ioctx, dest), cephError(ImageExists, 'EEXIST', -17, 'Image.copy'));
        await assert.rejects(img.copySparse(ioctx, `${dest}-x`, { sparseSize: 100 }), { code: 'ERR_OUT_OF_RANGE' });

        const stats = await poolStats(ioctx);
        const images = (await Rbd.list(ioctx)).length;
        assert.equal(stats.images, images);
        assert.ok(stats.imageProvisionedBytes >= 3 * 8 * MiB);
        assert.ok(stats.imageMaxProvisionedBytes >= stats.imageProvisionedBytes);
        assert.equal(typeof stats.trashImages, 'number');
      } finally {
        await Rbd.remove(ioctx, dest).catch(() => undefined);
        await Rbd.remove(ioctx, dest2).catch(() => undefined);
      }
    }, 8 * MiB, RBD_FEATURE_LAYERING, 20));
});

describe('ImageOptions (rbd_image_options_t)', () => {
  it('sets, reads back, unsets and clears keys; librbd checks the type of each key', () => {
    const o = new ImageOptions();
    assert.equal(o.isEmpty(), true);
    o.set(ImageOption.ORDER, 22).set(ImageOption.FEATURES, 5n).set(ImageOption.DATA_POOL, 'images');
    assert.equal(o.isEmpty(), false);
    assert.equal(o.get(ImageOption.ORDER), 22);
    assert.equal(o.getUint64(ImageOption.FEATURES), 5);
    assert.equal(o.get(ImageOption.DATA_POOL), 'images');
    assert.equal(o.getString(ImageOption.DATA_POOL), 'images');
    assert.equal(o.isSet(ImageOption.STRIPE_UNIT), false);
    assert.equal(o.get(ImageOption.STRIPE_UNIT), undefined);
    assert.throws(() => o.setRaw(ImageOption.ORDER, 'x'), cephError(InvalidArgument, 'EINVAL', -22, 'ImageOptions.setString'));
    assert.throws(() => o.setRaw(ImageOption.DATA_POOL, 3), cephError(InvalidArgument, 'EINVAL', -22, 'ImageOptions.setUint64'));
    assert.throws(() => o.getString(ImageOption.ORDER), cephError(InvalidArgument, 'EINVAL', -22, 'ImageOptions.getString'));
    assert.throws(() => o.getUint64(ImageOption.STRIPE_UNIT), cephError(ImageNotFound, 'ENOENT', -2, 'ImageOptions.getUint64'));
    o.unset(ImageOption.ORDER);
    assert.equal(o.isSet(ImageOption.ORDER), false);
    o.clear();
    assert.equal(o.isEmpty(), true);
    assert.throws(() => o.set(-1, 1), { code: 'ERR_OUT_OF_RANGE' });
  });
});

describe('plain (no progress) and progress variants of long operations', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_c, io) => {
    ioctx = io;
  });

  it('resize, flatten, rollback, snapshot remove, sparsify, copy, deep copy, remove, trash remove/purge both ways', async () => {
    const name = uniqueName('var');
    await Rbd.create(ioctx, name, 4 * MiB, { features: RBD_FEATURE_LAYERING });
    const img = await Image.open(ioctx, name);
    const seen: string[] = [];
    const p = (what: string) => ({ onProgress: () => void seen.push(what) });
    try {
      await img.write(Buffer.alloc(8192, 1), 0);
      await img.resize(8 * MiB);
      await img.resize(12 * MiB, p('resize'));
      assert.equal(await img.size(), 12 * MiB);
      await img.createSnap('a');
      await img.createSnap('b');
      await img.write(Buffer.alloc(8192, 2), 0);
      await img.rollbackToSnap('a');
      assert.deepEqual(await img.read(0, 8192), Buffer.alloc(8192, 1));
      await img.rollbackToSnap('b', p('rollback'));
      await img.removeSnap('a');
      await img.removeSnap('b', p('removeSnap'));
      assert.deepEqual(await img.listSnaps(), []);
      await img.sparsify(4096);
      await img.sparsify(4096, p('sparsify'));
      for (const [i, deep] of [[0, false], [1, false], [2, true], [3, true]] as const) {
        const dest = `${name}-c${i}`;
        const opts = i % 2 === 0 ? {} : p(deep ? 'deepCopy' : 'copy');
        await (deep ? img.deepCopy(ioctx, dest, opts) : img.copy(ioctx, dest, opts));
        const c = await Image.open(ioctx, dest);
        assert.deepEqual(await c.read(0, 8192), Buffer.alloc(8192, 1));
        await c.close();
      }
      await Rbd.remove(ioctx, `${name}-c0`);
      await Rbd.remove(ioctx, `${name}-c1`, p('remove'));
      await img.createSnap('base');
      await Rbd.clone(ioctx, name, 'base', ioctx, `${name}-k1`, { cloneFormat: 2 });
      await Rbd.clone(ioctx, name, 'base', ioctx, `${name}-k2`, { cloneFormat: 2 });
      for (const [k, opts] of [[`${name}-k1`, {}], [`${name}-k2`, p('flatten')]] as const) {
        const c = await Image.open(ioctx, k);
        await c.flatten(opts);
        await assert.rejects(c.flatten(), cephError(InvalidArgument, 'EINVAL', -22, 'Image.flatten'));
        await c.close();
      }
      await img.removeSnap('base');
      for (const [i, k] of [`${name}-c2`, `${name}-c3`].entries()) {
        await Rbd.trashMove(ioctx, k, 0);
        const entry = (await Rbd.trashList(ioctx)).find((e) => e.name === k);
        assert.ok(entry);
        await Rbd.trashRemove(ioctx, entry.id, i === 0 ? {} : p('trashRemove'));
      }
      await Rbd.trashMove(ioctx, `${name}-k1`, 0);
      await Rbd.trashPurge(ioctx, { expireTs: new Date(Date.now() + 60_000) });
      await Rbd.trashMove(ioctx, `${name}-k2`, 0);
      await Rbd.trashPurge(ioctx, { expireTs: new Date(Date.now() + 60_000), ...p('trashPurge') });
      assert.ok(!(await Rbd.trashList(ioctx)).some((e) => e.name.startsWith(name)));
      await assert.rejects(Rbd.remove(ioctx, `${name}-c0`), cephError(ImageNotFound, 'ENOENT', -2, 'Rbd.remove'));
      // growing and removing a snapshot report no progress; the others do
      for (const what of ['rollback', 'sparsify', 'copy', 'deepCopy', 'remove', 'flatten', 'trashRemove', 'trashPurge']) assert.ok(seen.includes(what), what);
    } finally {
      await img.close();
      for (const suffix of ['', '-c0', '-c1', '-c2', '-c3', '-k1', '-k2']) await Rbd.remove(ioctx, name + suffix).catch(() => undefined);
    }
  });
});
