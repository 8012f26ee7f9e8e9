import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Image, ImageExists, ImageHasSnapshots, ImageNotFound, InvalidArgument, IoCtx, Rbd } from '../../lib';
import { cli, cliBuffer, uniqueName, withPool } from '../helpers/cluster';

const MiB = 1024 * 1024;

describe('Rbd and Image (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_cluster, io) => {
    ioctx = io;
  });

  it('creates, lists, renames and removes images', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, 8 * MiB, { order: 22 });
    assert.ok((await Rbd.list(ioctx)).includes(name));
    const renamed = `${name}-renamed`;
    await Rbd.rename(ioctx, name, renamed);
    const names = await Rbd.list(ioctx);
    assert.ok(names.includes(renamed) && !names.includes(name));
    await Rbd.remove(ioctx, renamed);
    assert.ok(!(await Rbd.list(ioctx)).includes(renamed));
  });

  it('refuses to create an existing image with ImageExists (EEXIST)', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, MiB);
    try {
      await assert.rejects(Rbd.create(ioctx, name, MiB), (e: unknown) => {
        assert.ok(e instanceof ImageExists);
        assert.equal(e.code, 'EEXIST');
        assert.equal(e.errno, -17);
        assert.equal(e.op, 'Rbd.create');
        assert.equal(e.image, name);
        assert.equal(e.pool, 'rbd');
        return true;
      });
    } finally {
      await Rbd.remove(ioctx, name);
    }
  });

  it('opening a missing image is ImageNotFound (ENOENT) naming pool and image', async () => {
    const name = uniqueName('missing');
    await assert.rejects(Image.open(ioctx, name), (e: unknown) => {
      assert.ok(e instanceof ImageNotFound);
      assert.equal(e.errno, -2);
      assert.equal(e.message, `Image.open: No such file or directory (pool=rbd, image=${name})`);
      return true;
    });
  });

  it('writes and reads back, resizes, stats', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, 4 * MiB, { order: 22 });
    const image = await Image.open(ioctx, name);
    try {
      const data = randomBytes(MiB + 123);
      assert.equal(await image.write(data, 4096), data.length);
      await image.flush();
      assert.deepEqual(await image.read(4096, data.length), data);
      const st = await image.stat();
      assert.equal(st.size, 4 * MiB);
      assert.equal(st.order, 22);
      assert.equal(st.objSize, 4 * MiB);
      await image.resize(16 * MiB);
      assert.equal(await image.size(), 16 * MiB);
      // A read that runs past the end is cut at the end.
      const tail = await image.read(16 * MiB - 10, 100);
      assert.equal(tail.length, 10);
      // One that starts at the end is librbd's EINVAL; an empty one there is fine.
      await assert.rejects(image.read(16 * MiB, 1), (e: unknown) => e instanceof InvalidArgument && e.code === 'EINVAL');
      await assert.rejects(image.aioRead(16 * MiB, 1), (e: unknown) => e instanceof InvalidArgument && e.code === 'EINVAL');
      assert.equal((await image.read(16 * MiB, 0)).length, 0);
      // 64-bit offsets as bigint
      assert.deepEqual(await image.read(4096n, 16), data.subarray(0, 16));
    } finally {
      await image.close();
      await Rbd.remove(ioctx, name);
    }
  });

  it('writing past the end is InvalidArgument and leaves the image as it was', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, MiB);
    const image = await Image.open(ioctx, name);
    try {
      await assert.rejects(image.write(Buffer.alloc(10, 1), MiB - 5), (e: unknown) => e instanceof InvalidArgument && e.code === 'EINVAL');
      assert.deepEqual(await image.read(MiB - 5, 5), Buffer.alloc(5));
    } finally {
      await image.close();
      await Rbd.remove(ioctx, name);
    }
  });

  it('removing an image with snapshots is ImageHasSnapshots', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, MiB);
    const image = await Image.open(ioctx, name);
    await image.createSnap('s1');
    await image.close();
    await assert.rejects(Rbd.remove(ioctx, name), (e: unknown) => e instanceof ImageHasSnapshots && e.code === 'ENOTEMPTY');
    const again = await Image.open(ioctx, name);
    await again.removeSnap('s1');
    await again.close();
    await Rbd.remove(ioctx, name);
  });

  it('pipelines aio writes and reads, and agrees with `rbd export`', async () => {
    const name = uniqueName();
    const size = 8 * MiB;
    await Rbd.create(ioctx, name, size, { order: 20 });
    const image = await Image.open(ioctx, name);
    try {
      const data = randomBytes(size);
      const chunk = 256 * 1024;
      const writes: Array<Promise<number>> = [];
      for (let off = 0; off < size; off += chunk) writes.push(image.aioWrite(data.subarray(off, off + chunk), off));
      assert.deepEqual(await Promise.all(writes), writes.map(() => chunk));
      await image.aioFlush();
      const reads = [];
      for (let off = 0; off < size; off += chunk) reads.push(image.aioRead(off, chunk));
      assert.ok(Buffer.concat(await Promise.all(reads)).equals(data));
      const exported = await cliBuffer('rbd', ['export', `rbd/${name}`, '-']);
      assert.equal(createHash('md5').update(exported).digest('hex'), createHash('md5').update(data).digest('hex'));
    } finally {
      await image.close();
      await Rbd.remove(ioctx, name);
    }
  });

  it('reads back byte for byte what `rbd import` wrote', async () => {
    const name = uniqueName('imported');
    const data = randomBytes(3 * MiB + 4321);
    const file = path.join(tmpdir(), `${name}.raw`);
    writeFileSync(file, data);
    try {
      await cli('rbd', ['import', '--image-format', '2', file, `rbd/${name}`]);
      const image = await Image.open(ioctx, name, { readOnly: true });
      try {
        assert.equal(await image.size(), data.length);
        const back = await image.read(0, data.length);
        assert.equal(createHash('md5').update(back).digest('hex'), createHash('md5').update(data).digest('hex'));
      } finally {
        await image.close();
      }
    } finally {
      rmSync(file, { force: true });
      await Rbd.remove(ioctx, name);
    }
  });

  it('validates arguments before crossing into C++', async () => {
    await assert.rejects(Rbd.create(ioctx, '', MiB), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(Rbd.create(ioctx, 'x', -1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'Expected a non-negative safe integer for size but received -1' });
    await assert.rejects(Rbd.create(ioctx, 'bad\0name', MiB), { name: 'TypeError', message: /without NUL/ });
    const name = uniqueName();
    await Rbd.create(ioctx, name, MiB);
    const image = await Image.open(ioctx, name);
    try {
      await assert.rejects(image.write('not a buffer' as unknown as Buffer, 0), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      await assert.rejects(image.read(-1, 10), RangeError);
      await assert.rejects(image.read(0, 1.5), RangeError);
    } finally {
      await image.close();
      await Rbd.remove(ioctx, name);
    }
    assert.ok(!(await Rbd.list(ioctx)).includes('x'), 'no image was created by a call that failed validation');
  });
});
