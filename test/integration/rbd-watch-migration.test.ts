import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';

import { HandleClosedError, Image, ImageNotFound, InvalidArgument, IoCtx, Rados, Rbd, RBD_FEATURE_LAYERING, RbdError, RbdMigration } from '../../lib';
import { cephError, cli, connect, uniqueName } from '../helpers/cluster';

const MiB = 1024 * 1024;

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  for (const start = Date.now(); !cond(); ) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('image update and quiesce watches (real cluster)', () => {
  let cluster: Rados;
  let ioctx: IoCtx;
  before(async () => {
    cluster = await connect();
    ioctx = await cluster.openIoctx('rbd');
  });
  after(() => cluster.shutdown());

  it('an update watch fires on resize by another client, stops after unwatch, and never after close', async () => {
    const name = uniqueName('watch');
    await Rbd.create(ioctx, name, 4 * MiB);
    try {
      const watched = await Image.open(ioctx, name);
      let calls = 0;
      const watch = await watched.watchUpdates(() => {
        calls++;
      });
      await cli('rbd', ['resize', '--size', '8M', `rbd/${name}`]);
      await waitFor(() => calls > 0, 'the update callback');
      await watch.unwatch();
      await watch.unwatch(); // idempotent
      const before = calls;
      await cli('rbd', ['resize', '--size', '12M', `rbd/${name}`]);
      await sleep(500);
      assert.equal(calls, before);

      let late = 0;
      await watched.watchUpdates(() => {
        late++;
      });
      await watched.resize(16 * MiB); // this client's own change notifies too
      await waitFor(() => late > 0, 'the second watch');
      await watched.close(); // unregisters the watch
      const after = late;
      await cli('rbd', ['resize', '--size', '20M', `rbd/${name}`]);
      await sleep(500);
      assert.equal(late, after);
      await assert.rejects(watched.watchUpdates(() => undefined), HandleClosedError);
      await assert.rejects(watched.watchUpdates(42 as never), { code: 'ERR_INVALID_ARG_TYPE' });
    } finally {
      await Rbd.remove(ioctx, name);
    }
  });

  it('quiesce watch: a snapshot waits for onQuiesce, then unquiesce; a failing quiesce fails the snapshot', async () => {
    const name = uniqueName('quiesce');
    await Rbd.create(ioctx, name, 4 * MiB);
    const img = await Image.open(ioctx, name);
    try {
      const events: string[] = [];
      let fail = false;
      const watch = await img.watchQuiesce({
        async onQuiesce() {
          events.push('quiesce');
          await sleep(200);
          events.push('quiesced');
          if (fail) throw Object.assign(new Error('busy'), { errno: -16 });
        },
        onUnquiesce() {
          events.push('unquiesce');
        },
      });
      const other = await Image.open(ioctx, name);
      await other.createSnap2('s1');
      assert.deepEqual(events.slice(0, 2), ['quiesce', 'quiesced']);
      await waitFor(() => events.includes('unquiesce'), 'unquiesce');
      fail = true;
      await assert.rejects(other.createSnap2('s2'), (e: Error & { op?: string }) => e.op === 'Image.createSnap');
      // ignoreQuiesceError: the snapshot is taken anyway; skipQuiesce: not asked at all
      await other.createSnap2('s3', { ignoreQuiesceError: true });
      events.length = 0;
      await other.createSnap2('s4', { skipQuiesce: true, onProgress: () => undefined });
      assert.deepEqual(events, []);
      await watch.unwatch();
      fail = false;
      await other.createSnap2('s5');
      assert.deepEqual(events, []);
      assert.deepEqual((await other.listSnaps()).map((s) => s.name).sort(), ['s1', 's3', 's4', 's5']);
      for (const s of ['s1', 's3', 's4', 's5']) await other.removeSnap(s);
      await other.close();
    } finally {
      await img.close();
      await Rbd.remove(ioctx, name);
    }
  });
});

describe('live migration (real cluster)', () => {
  let cluster: Rados;
  let src: IoCtx;
  let dst: IoCtx;
  before(async () => {
    cluster = await connect();
    src = await cluster.openIoctx('rbd');
    dst = await cluster.openIoctx('images');
  });
  after(() => cluster.shutdown());

  async function withPattern(name: string, size: number): Promise<Buffer> {
    await Rbd.create(src, name, size);
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) data.writeUInt32LE(i / 4096, i);
    const img = await Image.open(src, name);
    await img.write(data, 0);
    await img.close();
    return data;
  }

  it('moves an image between pools while a client reads it (prepare, execute with progress, commit)', async () => {
    const name = uniqueName('mig');
    const data = await withPattern(name, 16 * MiB);
    await RbdMigration.prepare(src, name, dst, name, { features: RBD_FEATURE_LAYERING });
    try {
      const status = await RbdMigration.status(dst, name);
      assert.equal(status.state, 'prepared');
      assert.equal(status.sourcePoolId, src.poolId);
      assert.equal(status.destPoolId, dst.poolId);
      assert.equal(status.sourceImage, name);
      assert.equal(status.destImage, name);
      const reader = await Image.open(dst, name, { readOnly: true });
      const spec = await reader.migrationSourceSpec();
      assert.equal(spec.image_name, name);
      let reading = true;
      let reads = 0;
      const readLoop = (async () => {
        while (reading) {
          const off = (reads * 4096 * 37) % (16 * MiB);
          assert.deepEqual(await reader.read(off, 4096), data.subarray(off, off + 4096));
          reads++;
        }
      })();
      const progress: Array<[number, number]> = [];
      await RbdMigration.execute(dst, name, { onProgress: (d, t) => progress.push([d, t]) });
      reading = false;
      await readLoop;
      assert.ok(reads > 0);
      assert.ok(progress.length > 0);
      assert.equal((await RbdMigration.status(dst, name)).state, 'executed');
      await reader.close();
      await RbdMigration.commit(dst, name);
      await assert.rejects(RbdMigration.status(dst, name), cephError(InvalidArgument, 'EINVAL', -22, 'Migration.status'));
      assert.ok(!(await Rbd.list(src)).includes(name));
      const moved = await Image.open(dst, name);
      assert.equal(await moved.features(), RBD_FEATURE_LAYERING);
      assert.deepEqual(await moved.read(0, data.length), data);
      await moved.close();
    } finally {
      await Rbd.remove(dst, name).catch(() => undefined);
      await Rbd.remove(src, name).catch(() => undefined);
    }
  });

  it('abort restores the source; execute/commit plain calls; errors for unknown images', async () => {
    const name = uniqueName('mig');
    const data = await withPattern(name, 4 * MiB);
    await RbdMigration.prepare(src, name, dst, name);
    await assert.rejects(Image.open(src, name), cephError(ImageNotFound, 'ENOENT', -2, 'Image.open'));
    const progress: number[] = [];
    await RbdMigration.abort(dst, name, { onProgress: (d) => progress.push(d) });
    assert.ok(!(await Rbd.list(dst)).includes(name));
    const back = await Image.open(src, name);
    assert.deepEqual(await back.read(0, data.length), data);
    await back.close();

    // again, with the plain (no progress) execute/commit/abort calls
    await RbdMigration.prepare(src, name, dst, name);
    await RbdMigration.execute(dst, name);
    await RbdMigration.commit(dst, name, { onProgress: () => undefined });
    const moved = await Image.open(dst, name);
    assert.deepEqual(await moved.read(0, data.length), data);
    await assert.rejects(moved.migrationSourceSpec(), cephError(InvalidArgument, 'EINVAL', -22, 'Image.migrationSourceSpec'));
    await moved.close();
    await Rbd.remove(dst, name);

    const missing = uniqueName('nomig');
    await assert.rejects(RbdMigration.prepare(src, missing, dst, missing), cephError(ImageNotFound, 'ENOENT', -2, 'Migration.prepare', { image: missing }));
    await assert.rejects(RbdMigration.execute(dst, missing), cephError(ImageNotFound, 'ENOENT', -2, 'Migration.execute'));
    await assert.rejects(RbdMigration.commit(dst, missing), cephError(ImageNotFound, 'ENOENT', -2, 'Migration.commit'));
    await assert.rejects(RbdMigration.abort(dst, missing), cephError(ImageNotFound, 'ENOENT', -2, 'Migration.abort'));
  });

  it('prepareImport from a native source spec (snapshot), execute, commit; a malformed spec is EBADMSG', async () => {
    const name = uniqueName('imp');
    const data = await withPattern(name, 4 * MiB);
    const img = await Image.open(src, name);
    await img.createSnap('base');
    await img.close();
    const dstName = `${name}-imported`;
    try {
      await RbdMigration.prepareImport({ type: 'native', pool_name: 'rbd', image_name: name, snap_name: 'base' }, dst, dstName);
      assert.equal((await RbdMigration.status(dst, dstName)).state, 'prepared');
      await RbdMigration.execute(dst, dstName);
      await RbdMigration.commit(dst, dstName);
      const imported = await Image.open(dst, dstName);
      assert.deepEqual(await imported.read(0, data.length), data);
      await imported.close();
      await assert.rejects(RbdMigration.prepareImport('{not json', dst, `${dstName}-2`), cephError(RbdError, 'EBADMSG', -74, 'Migration.prepareImport'));
    } finally {
      await Rbd.remove(dst, dstName).catch(() => undefined);
      const s = await Image.open(src, name);
      await s.removeSnap('base');
      await s.close();
      await Rbd.remove(src, name);
    }
  });
});
