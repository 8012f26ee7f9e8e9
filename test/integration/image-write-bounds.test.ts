import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';

import { Image, InvalidArgument, IoCtx, type Rados, Rbd } from '../../lib';
import { connect, uniqueName, withPool } from '../helpers/cluster';

const MiB = 1024 * 1024;
const isEinval = (e: unknown): boolean => e instanceof InvalidArgument && e.code === 'EINVAL';

// aioWrite refuses a write that does not fit the image whole, and checks it
// against the size as last read (native/rbd_image_bounds.h): these tests
// change the size under it, from this handle and from another client.
describe('Image writes and the image size (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_cluster, io) => {
    ioctx = io;
  });

  it('aioWrite past the end is InvalidArgument and writes nothing', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, MiB);
    const image = await Image.open(ioctx, name);
    try {
      await assert.rejects(image.aioWrite(Buffer.alloc(10, 1), MiB - 5), isEinval);
      await assert.rejects(image.aioWrite(Buffer.alloc(1, 1), MiB + 4096), isEinval);
      assert.deepEqual(await image.read(MiB - 5, 5), Buffer.alloc(5));
      assert.equal(await image.aioWrite(Buffer.alloc(5, 2), MiB - 5), 5);
      assert.deepEqual(await image.read(MiB - 5, 5), Buffer.alloc(5, 2));
    } finally {
      await image.close();
      await Rbd.remove(ioctx, name);
    }
  });

  it('follows resizes made through the same handle', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, 2 * MiB);
    const image = await Image.open(ioctx, name);
    try {
      assert.equal(await image.aioWrite(Buffer.alloc(4096, 1), MiB + 4096), 4096);
      await image.resize(MiB);
      await assert.rejects(image.aioWrite(Buffer.alloc(4096, 1), MiB + 4096), isEinval);
      await assert.rejects(image.write(Buffer.alloc(4096, 1), MiB + 4096), isEinval);
      await image.resize(3 * MiB);
      assert.equal(await image.aioWrite(Buffer.alloc(4096, 3), 2 * MiB + 4096), 4096);
      assert.deepEqual(await image.read(2 * MiB + 4096, 4096), Buffer.alloc(4096, 3));
    } finally {
      await image.close();
      await Rbd.remove(ioctx, name);
    }
  });

  it('follows resizes made by another client', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, 2 * MiB);
    const image = await Image.open(ioctx, name);
    let other: Rados | undefined;
    try {
      assert.equal(await image.aioWrite(Buffer.alloc(4096, 1), MiB + 4096), 4096); // this client holds the lock
      other = await connect();
      const otherIo = await other.openIoctx('rbd');
      // Each resize's header update reaches this handle's watch before the next write.
      const resizeElsewhere = async (size: number): Promise<void> => {
        let seen = (): void => undefined;
        const updated = new Promise<void>((resolve) => (seen = resolve));
        const watch = await image.watchUpdates(() => seen());
        const there = await Image.open(otherIo, name);
        try {
          await there.resize(size);
        } finally {
          await there.close();
        }
        await updated;
        await watch.unwatch();
      };
      await resizeElsewhere(MiB);
      await assert.rejects(image.aioWrite(Buffer.alloc(4096, 1), MiB + 4096), isEinval);
      await resizeElsewhere(3 * MiB);
      assert.equal(await image.aioWrite(Buffer.alloc(4096, 4), 2 * MiB + 4096), 4096);
      assert.deepEqual(await image.read(2 * MiB + 4096, 4096), Buffer.alloc(4096, 4));
    } finally {
      await image.close();
      await other?.shutdown();
      await Rbd.remove(ioctx, name);
    }
  });

  it('keeps the order of aio operations while a write waits for the size', async () => {
    const name = uniqueName();
    await Rbd.create(ioctx, name, MiB, { order: 20 });
    const image = await Image.open(ioctx, name);
    try {
      for (let round = 0; round < 5; round++) {
        await image.resize(MiB + round * 4096); // the next write reads the size again, off the JS thread
        const data = randomBytes(64 * 1024);
        // Issued together: librbd's flush completes after the writes submitted
        // before it, so it must reach librbd after the write waiting for the size.
        let written = false;
        const write = image.aioWrite(data, 0).then((n) => {
          written = true;
          return n;
        });
        await image.aioFlush();
        assert.ok(written, `round ${round}: the flush completed before the write issued before it`);
        assert.equal(await write, data.length);
        assert.ok((await image.aioRead(0, data.length)).equals(data));
      }
    } finally {
      await image.close();
      await Rbd.remove(ioctx, name);
    }
  });
});
