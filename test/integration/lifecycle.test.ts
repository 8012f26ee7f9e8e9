import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

import { HandleClosedError, Image, IoCtx, Rbd } from '../../lib';
import { connect, removeWhenUnwatched, uniqueName, withPool } from '../helpers/cluster';
import { exposeGc } from '../helpers/gc';

const MiB = 1024 * 1024;

describe('handle lifetimes (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_cluster, io) => {
    ioctx = io;
  });

  async function withImage(fn: (name: string) => Promise<void>): Promise<void> {
    const name = uniqueName();
    await Rbd.create(ioctx, name, 64 * MiB, { order: 22 });
    try {
      await fn(name);
    } finally {
      await Rbd.remove(ioctx, name);
    }
  }

  it('close while 32 writes are in flight: every write settles, the image closes', () =>
    withImage(async (name) => {
      const image = await Image.open(ioctx, name);
      const chunk = randomBytes(256 * 1024);
      const writes = Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? image.aioWrite(chunk, i * chunk.length) : image.write(chunk, i * chunk.length)));
      const closing = image.close();
      const late = image.write(chunk, 0).then(
        () => undefined,
        (e: unknown) => e,
      );
      const results = await Promise.allSettled(writes);
      await closing;
      assert.equal(image.state, 'closed');
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof Error && 'code' in r.reason, String(r.reason));
      }
      // Writes queued before close() complete: close waits for them.
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 32);
      const lateError = await late;
      assert.ok(lateError instanceof HandleClosedError && lateError.code === 'ERR_CEPH_CLOSED' && lateError.op === 'Image.write', String(lateError));
      // The data is really there.
      const check = await Image.open(ioctx, name, { readOnly: true });
      assert.ok((await check.read(31 * chunk.length, chunk.length)).equals(chunk));
      await check.close();
    }));

  it('double close is a no-op and calls after close reject with a clear error', () =>
    withImage(async (name) => {
      const image = await Image.open(ioctx, name);
      await image.close();
      await image.close();
      await assert.rejects(image.read(0, 10), { name: 'HandleClosedError', code: 'ERR_CEPH_CLOSED', message: 'Image.read: the image is closed' });
      await assert.rejects(image.stat(), HandleClosedError);
    }));

  it('closing an I/O context closes its images first; shutdown closes everything', async () => {
    const c = await connect();
    const io = await c.openIoctx('rbd');
    const name = uniqueName();
    await Rbd.create(io, name, MiB);
    const a = await Image.open(io, name);
    const b = await Image.open(io, name, { readOnly: true });
    const pending = a.write(Buffer.alloc(4096, 7), 0);
    await c.shutdown();
    assert.equal(await pending, 4096);
    assert.deepEqual([a.state, b.state, io.state, c.state], ['closed', 'closed', 'closed', 'closed']);
    await assert.rejects(Image.open(io, name), HandleClosedError);
    // The image was closed cleanly (no watcher left): it can be removed at once.
    await Rbd.remove(ioctx, name);
  });

  it('an image opened while its context is closing is closed, not leaked', async () => {
    const c = await connect();
    const io = await c.openIoctx('rbd');
    const name = uniqueName();
    await Rbd.create(io, name, MiB);
    const opening = Image.open(io, name);
    const closing = io.close();
    const image = await opening;
    await closing;
    assert.equal(image.state, 'closed');
    await c.shutdown();
    await Rbd.remove(ioctx, name);
  });

  it('a process that exits with open handles releases them (no watcher left behind)', function () {
    this.timeout(60_000);
    return withImage(async (name) => {
      const child = fork(path.join(__dirname, '..', 'helpers', 'exit-with-open-image.js'), [name], { stdio: 'pipe' });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0);
      const image = await Image.open(ioctx, name, { readOnly: true });
      try {
        assert.deepEqual(await image.read(0, 3), Buffer.from('bye'));
        // rbd_close ran in the child's cleanup hook: nobody watches the header.
        const probe = await Image.open(ioctx, name);
        assert.equal((await probe.listWatchers()).length, 1, 'only our own watch');
        await probe.close();
      } finally {
        await image.close();
      }
    });
  });

  it('handles dropped without close are collected without blocking or crashing', async function () {
    const gc = exposeGc();
    const name = uniqueName();
    await Rbd.create(ioctx, name, MiB);
    // Opened and written in a frame of their own, so nothing here keeps them reachable.
    const openAndForget = async (i: number): Promise<void> => {
      const img = await Image.open(ioctx, name);
      await img.write(Buffer.alloc(512, i), 0);
    };
    for (let i = 0; i < 20; i++) await openAndForget(i);
    gc();
    await new Promise((r) => setTimeout(r, 200));
    gc();
    // The reaper thread closes the forgotten images; removal succeeds once their watches are gone.
    await removeWhenUnwatched(ioctx, name, 51);
  });
});
