/**
 * Handle lifetimes: close/shutdown with work in flight, double close, use
 * after close (every method of every handle), handles dropped and
 * collected, and many open/write/close cycles without growth in file
 * descriptors or memory. Works on any cluster (creates and removes its own
 * images in `pool`).
 */
import { strict as assert } from 'node:assert';

import { GlanceStore, HandleClosedError, Image, type IoCtx, Rados, Rbd, RbdVolumeDriver } from '../../lib';
import { removeWhenUnwatched } from '../helpers/cluster';
import { exposeGc } from '../helpers/gc';
import { contractViolation, fdCount, MiB, recordFigure, rssMiB, seconds, sleep, uniq } from './support';

type Suite = 'short' | 'long';

async function settleGc(gc: () => void): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
}

/**
 * Shutdown of a connection while image aio/sync I/O, object I/O and a long
 * operation are in flight on it: every call settles (resolves, or rejects
 * with a typed error), every handle ends closed, nothing crashes. Then
 * double close and every method after close.
 */
export async function closeWhileBusy(confFile: string, pool: string, suite: Suite): Promise<void> {
  const cluster = await Rados.connect({ confFile, timeoutMs: 60_000 });
  const ioctx = await cluster.openIoctx(pool);
  const names = [uniq('busy-a'), uniq('busy-b')];
  for (const n of names) await Rbd.create(ioctx, n, 64 * MiB, { order: 22 });
  const images = await Promise.all(names.map((n) => Image.open(ioctx, n)));
  const chunk = Buffer.alloc(256 * 1024, 9);
  const calls: Array<Promise<unknown>> = [];
  for (const [i, img] of images.entries()) {
    for (let k = 0; k < 16; k++) {
      calls.push(img.aioWrite(chunk, k * chunk.length));
      calls.push(img.write(chunk, (16 + k) * chunk.length));
      calls.push(img.aioRead(k * chunk.length, 4096));
    }
    calls.push(img.resize((64 + i) * MiB));
    calls.push(img.flush());
  }
  for (let k = 0; k < 16; k++) calls.push(ioctx.writeFull(uniq('busy-obj'), chunk));
  const shutdown = cluster.shutdown();
  // Calls made after shutdown() started: HandleClosedError at once.
  const late = [images[0].write(chunk, 0), ioctx.stat('x'), Image.open(ioctx, names[0]), cluster.listPools()];
  const settled = await Promise.allSettled([...calls, ...late]);
  await shutdown;
  const rejected = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  for (const r of rejected) assert.equal(contractViolation(r.reason), null, String(r.reason));
  const lateResults = settled.slice(calls.length);
  for (const r of lateResults) assert.ok(r.status === 'rejected' && r.reason instanceof HandleClosedError, `late call: ${r.status === 'rejected' ? String(r.reason) : 'resolved'}`);
  assert.deepEqual([cluster.state, ioctx.state, ...images.map((i) => i.state)], ['closed', 'closed', 'closed', 'closed']);
  // Double close, concurrent close, close after shutdown: all no-ops.
  await Promise.all([cluster.shutdown(), cluster.shutdown(), ioctx.close(), ...images.map((i) => i.close()), ...images.map((i) => i.close())]);
  const afterClose = await useAfterClose(cluster, ioctx, images[0]);

  // The data that was acknowledged is there (written before shutdown finished).
  const check = await Rados.connect({ confFile, timeoutMs: 60_000 });
  const io = await check.openIoctx(pool);
  const written = await Image.open(io, names[0], { readOnly: true });
  assert.ok((await written.read(0, chunk.length)).equals(chunk));
  await written.close();
  for (const n of names) await Rbd.remove(io, n);
  for (const o of await io.listObjects()) if (o.oid.startsWith('busy-obj')) await io.remove(o.oid);
  await check.shutdown();

  // GlanceStore and the Cinder driver: close twice, then use.
  const store = await GlanceStore.open({ confFile, pool, connectTimeoutMs: 60_000 });
  await Promise.all([store.close(), store.close()]);
  await store.close();
  await assert.rejects(store.add('x', Buffer.alloc(1), 1), HandleClosedError);
  await assert.rejects(store.get('rbd://x'), HandleClosedError);
  await assert.rejects(store.delete('rbd://x'), HandleClosedError);
  const driver = await RbdVolumeDriver.open({ confFile, pool, connectTimeoutMs: 60_000 });
  await driver.getVolumeStats(true);
  await Promise.all([driver.close(), driver.close()]);
  await assert.rejects(driver.createVolume({ id: 'x', size: 1 }), HandleClosedError);
  assert.equal((await driver.getVolumeStats(true)).backend_state, 'down', 'stats after close report down, no throw');

  recordFigure({
    suite,
    test: 'close while busy, double close, use after close',
    tried: `shutdown() with ${calls.length} calls in flight (aio/sync image I/O, resize, flush, object writes) on 2 images; ${afterClose} methods called after close; double/concurrent close of every handle, GlanceStore and RbdVolumeDriver`,
    held: `every call settled (${settled.length - rejected.length} resolved, ${rejected.length} typed rejections); late calls and calls after close: HandleClosedError (ERR_CEPH_CLOSED); closes idempotent`,
    figures: { calls: calls.length, methods_after_close: afterClose },
  });
}

/** Plausible arguments for a method, so that validation passes and the closed check is reached. */
function argsFor(name: string): unknown[] {
  const buf = Buffer.alloc(16);
  const table: Record<string, unknown[]> = {
    read: [0, 16],
    readInto: [0, buf],
    aioRead: [0, 16],
    aioReadInto: [0, buf],
    write: [buf, 0],
    aioWrite: [buf, 0],
    discard: [0, 16],
    aioDiscard: [0, 16],
    writeZeroes: [0, 16],
    aioWriteZeroes: [0, 16],
    resize: [MiB],
    updateFeatures: [1, false],
    copy: [null, 'dst'],
    deepCopy: [null, 'dst'],
    metadataSet: ['k', 'v'],
    breakLock: ['client.1', 'c'],
    lockBreak: ['client.1'],
    renameSnap: ['a', 'b'],
    snapSetLimit: [10],
    sparsify: [4096],
    setSnap: [null],
    diffIterate: [{ length: 16 }],
    // IoCtx
    writeFull: ['o', buf],
    append: ['o', buf],
    setXattr: ['o', 'n', 'v'],
    getXattr: ['o', 'n'],
    rmXattr: ['o', 'n'],
    omapSet: ['o', { k: 'v' }],
    omapRemove: ['o', ['k']],
    // Rados
    confSet: ['debug_rados', '0'],
    monCommand: [{ prefix: 'fsid' }],
    poolReverseLookup: [1],
    openIoctx: ['rbd'],
  };
  return table[name] ?? ['x', 'y'];
}

/** Calls every method of each closed handle: HandleClosedError (or an argument error) each time. */
async function useAfterClose(cluster: Rados, ioctx: IoCtx, image: Image): Promise<number> {
  const skip = new Set(['constructor', 'close', 'shutdown', 'native']);
  let n = 0;
  for (const target of [cluster, ioctx, image] as object[]) {
    const proto = Object.getPrototypeOf(target) as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (skip.has(name) || typeof desc?.value !== 'function') continue;
      let args = argsFor(name);
      if (name === 'read' && target === ioctx) args = ['o', 16, 0];
      if (name === 'write' && target === ioctx) args = ['o', Buffer.alloc(1), 0];
      if ((name === 'copy' || name === 'deepCopy') && target === image) args = [ioctx, 'dst'];
      n++;
      let outcome: unknown;
      try {
        outcome = await (desc.value as (...a: unknown[]) => unknown).apply(target, args);
        // A listing is an async generator: it refuses at its first next().
        if (outcome !== null && typeof outcome === 'object' && Symbol.asyncIterator in outcome) {
          outcome = await (outcome as unknown as AsyncIterator<unknown>).next();
        }
      } catch (err) {
        assert.equal(contractViolation(err), null, `${target.constructor.name}.${name}: ${String(err)}`);
        continue;
      }
      // Local accessors that need no cluster (e.g. Rados.fsid from the
      // cached value, Rbd version) may still answer; anything that would
      // reach the cluster must have refused.
      assert.ok(['fsid', 'instanceId', 'confGet', 'setPoolFullTry'].includes(name) || outcome === undefined, `${target.constructor.name}.${name} after close resolved ${String(outcome)}`);
    }
  }
  return n;
}

/**
 * `cycles` open/write/close cycles on one image, then the same number of
 * images opened and dropped without close (collected), and a tenth as many
 * whole connections (connect/openIoctx/shutdown): the fd count after all of
 * it is not above the count after the first 100 cycles, RSS at most
 * `rssSlackMiB` above.
 */
export async function cycles(confFile: string, pool: string, count: number, rssSlackMiB: number, suite: Suite): Promise<void> {
  const gc = exposeGc();
  const cluster = await Rados.connect({ confFile, timeoutMs: 60_000 });
  const ioctx = await cluster.openIoctx(pool);
  const name = uniq('cycles');
  await Rbd.create(ioctx, name, 16 * MiB, { order: 22 });
  const data = Buffer.alloc(4096, 1);
  const t0 = Date.now();
  let fd100 = 0;
  let rss100 = 0;
  try {
    for (let i = 0; i < count; i++) {
      const image = await Image.open(ioctx, name);
      await image.write(data, (i % 4096) * 4096);
      await image.close();
      if (i === 99) {
        await settleGc(gc);
        fd100 = fdCount();
        rss100 = rssMiB().now;
      }
    }
    const tCycles = Date.now();
    await settleGc(gc);
    const fdCycles = fdCount();
    const rssCycles = rssMiB().now;
    assert.ok(fdCycles <= fd100, `fds: ${fd100} after 100 cycles, ${fdCycles} after ${count}`);
    // Under AddressSanitizer (npm run test:asan) freed memory sits in ASan's quarantine: RSS says nothing there.
    if (!process.env.CEPH_RBD_SANITIZED) {
      assert.ok(rssCycles <= rss100 + rssSlackMiB, `RSS: ${rss100.toFixed(1)} MiB after 100 cycles, ${rssCycles.toFixed(1)} MiB after ${count}`);
    }
    // Dropped without close: collected, released by the reaper thread.
    const openAndDrop = async (i: number): Promise<void> => {
      const image = await Image.open(ioctx, name);
      await image.write(data, (i % 4096) * 4096);
    };
    const dropped = Math.max(100, Math.floor(count / 10));
    for (let i = 0; i < dropped; i++) {
      await openAndDrop(i);
      if (i % 50 === 49) await settleGc(gc);
    }
    await settleGc(gc);
    // Whole connections, some dropped without shutdown.
    const connections = Math.max(20, Math.floor(count / 100));
    // In a frame of its own, so that nothing here keeps the last one reachable.
    const connectAndMaybeDrop = async (i: number): Promise<void> => {
      const c = await Rados.connect({ confFile, timeoutMs: 60_000 });
      const io = await c.openIoctx(pool);
      await io.writeFull(`${name}-obj`, data);
      if (i % 2 === 0) await c.shutdown();
    };
    for (let i = 0; i < connections; i++) await connectAndMaybeDrop(i);
    await settleGc(gc);
    // Collected handles are released on the reaper thread: wait for the fds to come back.
    let fdEnd = fdCount();
    for (let i = 0; i < 100 && fdEnd > fd100; i++) {
      await sleep(100);
      await settleGc(gc);
      fdEnd = fdCount();
    }
    const rssEnd = rssMiB().now;
    // Collected images and connections give back every fd; their memory is
    // reported (glibc keeps the arenas of the threads librados started).
    assert.ok(fdEnd <= fd100, `fds: ${fd100} after 100 cycles, ${fdEnd} after the dropped handles were collected`);
    recordFigure({
      suite,
      test: 'open/write/close cycles',
      tried: `${count} Image open/write 4 KiB/close; ${dropped} images dropped without close and collected; ${connections} connections (half never shut down, collected)`,
      held: `cycles: fds ${fd100} → ${fdCycles}, RSS ${rss100.toFixed(1)} → ${rssCycles.toFixed(1)} MiB (limit +${rssSlackMiB}); after the collected handles too: fds ${fdEnd}, RSS ${rssEnd.toFixed(1)} MiB`,
      figures: {
        cycles_s: seconds(tCycles - t0),
        ms_per_cycle: ((tCycles - t0) / count).toFixed(2),
        fd_after_100: fd100,
        fd_after_cycles: fdCycles,
        fd_after_collected: fdEnd,
        rss_after_100_MiB: rss100.toFixed(1),
        rss_after_cycles_MiB: rssCycles.toFixed(1),
        rss_after_collected_MiB: rssEnd.toFixed(1),
        rss_peak_MiB: rssMiB().peak.toFixed(1),
      },
    });
  } finally {
    await removeWhenUnwatched(ioctx, name);
    await ioctx.remove(`${name}-obj`).catch(() => undefined);
    await cluster.shutdown();
  }
}
