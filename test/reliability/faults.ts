/**
 * Fault scenarios on throwaway clusters (each test gets a cluster of its own
 * from startCluster, so the shared test cluster is never damaged). Used with
 * long parameters by test/reliability/faults.test.ts and short ones by
 * test/integration/reliability-short.test.ts.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';

import {
  BackendException,
  CephError,
  ConnectionError,
  formatGlanceLocation,
  GlanceStore,
  Image,
  NoSpace,
  NotFound,
  Rados,
  Rbd,
  RBD_FEATURE_EXCLUSIVE_LOCK,
  RBD_FEATURE_LAYERING,
  RbdVolumeDriver,
  ReadOnlyImage,
  StorageFull,
  TimedOut,
  type Logger as GlanceLogger,
} from '../../lib';
import { FaultCluster, MiB, monFsid, poolContents, poolFlaggedFull, poolSet, randomSource, recordFigure, seconds, sleep, uniq, waitForPgs } from './support';

type Suite = 'short' | 'long';

/** A logger that keeps every line (with a timestamp) for assertions. */
export function captureLogger(): GlanceLogger & { lines: Array<{ at: number; level: string; message: string }> } {
  const lines: Array<{ at: number; level: string; message: string }> = [];
  const at = (level: string) => (message: string) => lines.push({ at: Date.now(), level, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** The RADOS objects that belong to images (data, headers, ids, object maps). */
function imageObjects(objects: string[]): string[] {
  return objects.filter((o) => /^rbd_(data|header|id|object_map)\./.test(o));
}

// ---- 1. an OSD dies in the middle of an upload ----------------------------------------

/**
 * 3 OSDs, pool `images` with size 2 / min_size 1; osd.1 is SIGKILLed once
 * half of the data went in. The upload completes and `rbd export` of the
 * result has the MD5 of what was sent (and of what add() reported).
 */
export async function osdKilledMidUpload(c: FaultCluster, size: number, suite: Suite): Promise<void> {
  const admin = await Rados.connect({ confFile: c.confFile, timeoutMs: 120_000 });
  const store = await GlanceStore.open({ confFile: c.confFile, connectTimeoutMs: 120_000, chunkSizeMiB: 8 });
  try {
    await poolSet(admin, 'images', 'size', '2');
    await poolSet(admin, 'images', 'min_size', '1');
    await waitForPgs(admin, 120_000);
    const name = uniq('kill-osd');
    let killedAt = -1;
    let killing: Promise<void> | undefined;
    const t0 = Date.now();
    let tKill = 0;
    const src = randomSource(size, 8 * MiB, (sent) => {
      if (killing === undefined && sent >= size / 2) {
        killedAt = sent;
        tKill = Date.now();
        killing = c.killOsd(1);
      }
    });
    let afterKill = 0;
    const result = await store.add(name, src.source, size, {
      onProgress: (done) => {
        if (killing !== undefined && done > killedAt) afterKill = done - killedAt;
      },
    });
    const tDone = Date.now();
    await killing;
    assert.ok(!c.daemons().has('osd.1'), 'osd.1 is dead');
    assert.ok(afterKill > 0, 'data was written after the kill');
    const sent = src.md5();
    assert.equal(result.size, size);
    assert.equal(result.checksum, sent, 'add() hashed what was sent');
    const exported = await c.exportMd5(`images/${name}@snap`);
    assert.equal(exported.bytes, size);
    assert.equal(exported.md5, sent, 'rbd export has the data that was sent');
    const tExport = Date.now();
    await store.delete(result.location);
    recordFigure({
      suite,
      test: 'OSD killed mid-upload',
      tried: `${size / MiB} MiB GlanceStore.add, 3 OSDs, size 2/min_size 1, SIGKILL osd.1 at ${killedAt / MiB} MiB`,
      held: 'upload completed; MD5 of rbd export = MD5 sent = add() checksum',
      figures: {
        upload_s: seconds(tDone - t0),
        kill_at_s: seconds(tKill - t0),
        MiB_after_kill: Math.round(afterKill / MiB),
        MiB_per_s: Math.round(size / MiB / ((tDone - t0) / 1000)),
        export_s: seconds(tExport - tDone),
      },
    });
  } finally {
    await store.close();
    await admin.shutdown();
  }
}

// ---- 2. every daemon stops in the middle of an upload ------------------------------------

/**
 * Every daemon (mon, mgr, OSDs) is SIGSTOPped once half of the data went
 * in: memstore keeps what it holds, the daemons just stop answering. add()
 * rejects with TimedOut or ConnectionError after a bounded time; then the
 * daemons are SIGCONTinued, and once the PGs are active a clean-up call
 * (store.delete of the location the upload would have had) leaves no image,
 * no trash entry and no image object in the pool.
 */
export async function daemonsStoppedMidUpload(c: FaultCluster, size: number, timeoutMs: number, suite: Suite): Promise<void> {
  const admin = await Rados.connect({ confFile: c.confFile, timeoutMs: 120_000 });
  const log = captureLogger();
  const store = await GlanceStore.open({ confFile: c.confFile, connectTimeoutMs: timeoutMs, chunkSizeMiB: 4, logger: log });
  let stopped: string[] = [];
  try {
    const io = await admin.openIoctx('images');
    const fsid = await monFsid(admin);
    const before = await poolContents(io);
    const name = uniq('stopped');
    let tStop = 0;
    const src = randomSource(size, 4 * MiB, (sent) => {
      if (tStop === 0 && sent >= size / 2) {
        tStop = Date.now();
        stopped = c.signal('SIGSTOP');
      }
    });
    const t0 = Date.now();
    let error: unknown;
    try {
      await store.add(name, src.source, size);
    } catch (err) {
      error = err;
    }
    const tReject = Date.now();
    assert.ok(tStop > 0, 'the daemons were stopped');
    assert.ok(stopped.length >= 3 && stopped.includes('mon.a'), `stopped ${stopped.join(',')}`);
    assert.ok(error instanceof TimedOut || error instanceof ConnectionError, `add() rejected with ${String(error)}`);
    const waited = tReject - tStop;
    // The oldest write in flight at the stop times out one op timeout (T,
    // whole seconds) after it was sent; add() then asks the monitors whether
    // the pool is full (at most 1.5 s) and rejects, removing the partial
    // image in the background. Measured: ~T + 0.3 s.
    const seconds1 = Math.ceil(timeoutMs / 1000) * 1000;
    const timeline = (): string => log.lines.map((l) => `+${l.at - tStop} ms ${l.level}: ${l.message}`).join('\n');
    assert.ok(waited <= seconds1 + 1500, `add() rejected ${waited} ms after the stop (op timeout ${seconds1} ms):\n${timeline()}`);

    c.signal('SIGCONT');
    stopped = [];
    const tCont = Date.now();
    await waitForPgs(admin, 120_000, true);
    const tActive = Date.now();
    // The clean-up call: delete what the upload would have stored. Right
    // after SIGCONT the daemons may still be catching up (heartbeats,
    // sessions): a timed-out attempt is repeated, for at most 2 minutes.
    let cleanup = 'deleted';
    const failures: string[] = [];
    for (;;) {
      try {
        await store.delete(formatGlanceLocation({ fsid, pool: 'images', image: name, snapshot: 'snap' }));
        break;
      } catch (err) {
        if (err instanceof NotFound) {
          cleanup = 'NotFound (add() had removed it)';
          break;
        }
        failures.push(`+${Date.now() - tCont} ms ${String(err)}`);
        if (Date.now() - tCont > 120_000 || !(err instanceof TimedOut || err instanceof ConnectionError)) {
          const status = await c.cli('ceph', ['health', 'detail']).catch((e: unknown) => String(e));
          throw new Error(`clean-up failed:\n${failures.join('\n')}\n${status}`, { cause: err });
        }
        await sleep(1000);
      }
    }
    const tClean = Date.now();
    // Checked on a connection made after the fault.
    const fresh = await Rados.connect({ confFile: c.confFile, timeoutMs: 60_000 });
    const after = await poolContents(await fresh.openIoctx('images')).finally(() => fresh.shutdown());
    assert.deepEqual(after.images, before.images, 'no image left');
    assert.deepEqual(after.trash, before.trash, 'nothing in the trash');
    assert.deepEqual(imageObjects(after.objects), imageObjects(before.objects), 'no image object left');
    // The store works again.
    const again = await store.add(uniq('after-stop'), randomSource(3 * MiB, MiB).source, 3 * MiB);
    await store.delete(again.location);
    recordFigure({
      suite,
      test: 'all daemons SIGSTOPped mid-upload',
      tried: `${size / MiB} MiB GlanceStore.add, connectTimeoutMs ${timeoutMs}, SIGSTOP mon+mgr+${stopped.length || 'all'} OSDs at ${size / 2 / MiB} MiB`,
      held: `add() rejected with ${(error as Error).constructor.name}; after SIGCONT the clean-up left no image/trash/object (${cleanup}); store usable`,
      figures: {
        reject_after_stop_s: seconds(waited),
        reject_in_op_timeouts: (waited / seconds1).toFixed(1),
        op_timeout_s: seconds(seconds1),
        add_total_s: seconds(tReject - t0),
        pgs_active_after_cont_s: seconds(tActive - tCont),
        cleanup_after_cont_s: seconds(tClean - tCont),
        cleanup_retries: failures.length,
      },
    });
  } finally {
    if (stopped.length > 0) c.signal('SIGCONT');
    await store.close();
    await admin.shutdown();
  }
}

// ---- 3. monitors unreachable at connect ---------------------------------------------------

/** A port on 127.0.0.1 where nothing listens (taken, then released). */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A ceph.conf naming a monitor that does not exist. */
export async function deadClusterConf(dir: string): Promise<string> {
  const port = await deadPort();
  const file = path.join(dir, `dead-${port}.conf`);
  writeFileSync(file, `[global]\nmon host = v1:127.0.0.1:${port}\nauth client required = none\n`);
  return file;
}

/**
 * Connecting to monitors that do not answer: ConnectionError (Rados.connect)
 * and BackendException caused by one (GlanceStore.open), within the connect
 * timeout (whole seconds) plus a little. Two ways: nothing listens on the
 * port; the monitor is SIGSTOPped (TCP accepts, nobody answers).
 */
export async function monsUnreachable(tmpDir: string, stoppedMon: FaultCluster | undefined, timeoutMs: number, suite: Suite): Promise<void> {
  const figures: Record<string, string> = {};
  const slack = 1500;
  const budget = Math.ceil(timeoutMs / 1000) * 1000 + slack;
  const cases: Array<[string, string]> = [['no listener', await deadClusterConf(tmpDir)]];
  if (stoppedMon) cases.push(['SIGSTOPped mon', stoppedMon.confFile]);
  for (const [label, confFile] of cases) {
    if (label === 'SIGSTOPped mon') stoppedMon?.signal('SIGSTOP', (n) => n === 'mon.a');
    try {
      let t0 = Date.now();
      await assert.rejects(Rados.connect({ confFile, timeoutMs }), (e: unknown) => {
        assert.ok(e instanceof ConnectionError, `${label}: ${String(e)}`);
        assert.equal(e.op, 'Rados.connect');
        assert.equal(e.code, 'ETIMEDOUT');
        return true;
      });
      const rados = Date.now() - t0;
      assert.ok(rados <= budget, `${label}: Rados.connect took ${rados} ms (timeout ${timeoutMs} ms)`);
      t0 = Date.now();
      await assert.rejects(GlanceStore.open({ confFile, connectTimeoutMs: timeoutMs }), (e: unknown) => {
        assert.ok(e instanceof BackendException, `${label}: ${String(e)}`);
        assert.ok(e.cause instanceof ConnectionError, `${label}: cause ${String(e.cause)}`);
        return true;
      });
      const glance = Date.now() - t0;
      assert.ok(glance <= budget, `${label}: GlanceStore.open took ${glance} ms`);
      figures[`${label.replace(/\W+/g, '_')}_rados_s`] = seconds(rados);
      figures[`${label.replace(/\W+/g, '_')}_glance_s`] = seconds(glance);
    } finally {
      if (label === 'SIGSTOPped mon') stoppedMon?.signal('SIGCONT', (n) => n === 'mon.a');
    }
  }
  recordFigure({
    suite,
    test: 'monitors unreachable at connect',
    tried: `Rados.connect / GlanceStore.open with timeout ${timeoutMs} ms: ${cases.map(([l]) => l).join(', ')}`,
    held: 'ConnectionError (ETIMEDOUT) / BackendException(cause ConnectionError) within the timeout + 1.5 s',
    figures,
  });
}

// ---- 4. the cluster fills up ------------------------------------------------------------------

/**
 * One OSD with a small memstore (memstore itself never refuses a write:
 * "full" is the monitors' flag, set from the OSD's usage reports). A filler
 * image takes 60 %; a second upload then runs (throttled) until the pool is
 * flagged full. The store's I/O contexts are full-try, so its next write
 * fails with ENOSPC at once (without full-try librados would hold it until
 * the op timeout, TimedOut), add() rejects with StorageFull and removes the
 * partial image. Deleting the filler works on the full pool, the flag
 * clears, and uploads work again.
 */
export async function clusterFull(c: FaultCluster, memstoreBytes: number, timeoutMs: number, suite: Suite): Promise<void> {
  const admin = await Rados.connect({ confFile: c.confFile, timeoutMs: 60_000 });
  const log = captureLogger();
  const store = await GlanceStore.open({ confFile: c.confFile, connectTimeoutMs: timeoutMs, chunkSizeMiB: 4, logger: log });
  try {
    const io = await admin.openIoctx('images');
    // librbd (Pacific) removes an image by moving it to the trash first; the
    // first removal in a pool creates the rbd_trash object, which a full pool
    // refuses (ENOSPC), leaving the image listed but not removable until
    // space is freed. One upload and delete beforehand creates it.
    const warmup = await store.add(uniq('warmup'), randomSource(MiB, MiB).source, MiB);
    await store.delete(warmup.location);
    const fillerBytes = Math.floor((memstoreBytes * 0.6) / MiB) * MiB;
    const filler = await store.add(uniq('filler'), randomSource(fillerBytes, 4 * MiB).source, fillerBytes);
    const before = await poolContents(io);
    // The victim: announced larger than the store, fed at ~40 MiB/s so the
    // monitors (OSD heartbeat, then a map update) flag the pool full mid-way.
    const victim = uniq('victim');
    const t0 = Date.now();
    let tFirstFull = 0;
    const src = randomSource(4 * memstoreBytes, 4 * MiB, async () => {
      await sleep(100);
    });
    const watcher = setInterval(() => {
      poolFlaggedFull(admin, 'images').then(
        (full) => {
          if (full && tFirstFull === 0) tFirstFull = Date.now();
        },
        () => undefined,
      );
    }, 250);
    let error: unknown;
    try {
      await store.add(victim, src.source, 4 * memstoreBytes);
    } catch (err) {
      error = err;
    } finally {
      clearInterval(watcher);
    }
    const tReject = Date.now();
    assert.ok(error instanceof StorageFull, `add() rejected with ${String(error)}`);
    // Full-try contexts: the OSD answers ENOSPC once the pool is flagged full.
    assert.ok(error.cause instanceof NoSpace || error.cause instanceof TimedOut, `cause ${String(error.cause)}`);
    assert.ok(await poolFlaggedFull(admin, 'images'), 'the pool is flagged full');
    const afterFail = await poolContents(io);
    assert.deepEqual(afterFail.images, before.images, `the partial image was removed:\n${log.lines.map((l) => `+${l.at - t0} ms ${l.level}: ${l.message}`).join('\n')}`);
    assert.deepEqual(imageObjects(afterFail.objects), imageObjects(before.objects), 'no object of the partial image left');
    // An upload that starts on the full pool: StorageFull at create, nothing made.
    const t1 = Date.now();
    await assert.rejects(store.add(uniq('on-full'), randomSource(MiB, MiB).source, MiB), StorageFull);
    const onFull = Date.now() - t1;
    assert.deepEqual((await poolContents(io)).images, before.images);
    // The Cinder driver on the full pool fails as fast (full-try), with NoSpace, nothing made.
    const driver = await RbdVolumeDriver.open({ confFile: c.confFile, pool: 'images', connectTimeoutMs: timeoutMs, connectionRetries: 1 });
    const t1c = Date.now();
    let cinderOnFull = 0;
    try {
      await assert.rejects(driver.createVolume({ id: randomUUID(), size: 1 }), NoSpace);
      cinderOnFull = Date.now() - t1c;
    } finally {
      await driver.close();
    }
    assert.deepEqual((await poolContents(io)).images, before.images);
    // Free space: delete the filler (through the store, on the full pool).
    const t2 = Date.now();
    await store.delete(filler.location);
    const deleteOnFull = Date.now() - t2;
    let tClear = 0;
    for (let i = 0; i < 240 && tClear === 0; i++) {
      if (!(await poolFlaggedFull(admin, 'images'))) tClear = Date.now();
      else await sleep(250);
    }
    assert.ok(tClear > 0, 'the full flag cleared within 60 s of the delete');
    const again = await store.add(uniq('after-full'), randomSource(8 * MiB, MiB).source, 8 * MiB);
    await store.delete(again.location);
    assert.deepEqual((await poolContents(io)).images, []);
    recordFigure({
      suite,
      test: 'cluster full',
      tried: `1 OSD, memstore ${memstoreBytes / MiB} MiB, filler ${fillerBytes / MiB} MiB, then an upload at ~40 MiB/s until full; op timeout ${timeoutMs} ms`,
      held: `StorageFull (cause ${(error.cause as Error).constructor.name}), partial image removed; add on a full pool: StorageFull, nothing created; Cinder createVolume on it: NoSpace, nothing created; delete works on the full pool; flag clears; uploads work again`,
      figures: {
        flagged_full_after_s: tFirstFull ? seconds(tFirstFull - t0) : 'n/a',
        reject_after_flag_s: tFirstFull ? seconds(tReject - tFirstFull) : 'n/a',
        add_on_full_s: seconds(onFull),
        cinder_create_on_full_s: seconds(cinderOnFull),
        delete_on_full_s: seconds(deleteOnFull),
        flag_cleared_after_delete_s: seconds(tClear - t2),
      },
    });
  } finally {
    await store.close();
    await admin.shutdown();
  }
}

// ---- 5. the Cinder layer with the cluster down -------------------------------------------------

/**
 * getVolumeStats never throws: with monitors that never answer it reports
 * backend_state 'down' after `connectionRetries` connect attempts spaced
 * interval × 2^(n-1) apart (measured from the log); with a connected
 * driver whose cluster then stops, 'down' after about one op timeout, and
 * 'up' again once the cluster is back.
 */
export async function cinderDown(tmpDir: string, live: FaultCluster, suite: Suite): Promise<void> {
  const timeoutMs = 1000;
  const figures: Record<string, string | number> = {};
  for (const [retries, intervalMs] of [
    [1, 200],
    [3, 300],
  ] as const) {
    const log = captureLogger();
    const confFile = await deadClusterConf(tmpDir);
    const driver = await RbdVolumeDriver.open({ confFile, pool: 'rbd', connectTimeoutMs: timeoutMs, connectionRetries: retries, connectionIntervalMs: intervalMs, logger: log });
    try {
      const t0 = Date.now();
      const stats = await driver.getVolumeStats(true);
      const elapsed = Date.now() - t0;
      assert.equal(stats.backend_state, 'down');
      assert.equal(stats.total_capacity_gb, 'unknown');
      assert.equal(stats.free_capacity_gb, 'unknown');
      const attempts = log.lines.filter((l) => l.level === 'error' && l.message.startsWith('Error connecting to ceph cluster'));
      assert.equal(attempts.length, retries, `connect attempts: ${attempts.length}`);
      // Each attempt takes the connect timeout; after attempt n the driver waits interval × 2^(n-1).
      let waits = 0;
      for (let n = 1; n < retries; n++) waits += intervalMs * 2 ** (n - 1);
      const expected = retries * timeoutMs + waits;
      assert.ok(elapsed >= expected - 100 && elapsed <= expected + 1500, `elapsed ${elapsed} ms, expected ~${expected} ms`);
      for (let n = 1; n < attempts.length; n++) {
        const gap = attempts[n].at - attempts[n - 1].at;
        const want = timeoutMs + intervalMs * 2 ** (n - 1);
        assert.ok(gap >= want - 100 && gap <= want + 700, `gap after attempt ${n}: ${gap} ms, expected ~${want} ms`);
      }
      figures[`retries${retries}_interval${intervalMs}_s`] = `${seconds(elapsed)} (expected ${seconds(expected)})`;
    } finally {
      await driver.close();
    }
  }
  // A driver that was connected, then its cluster stops.
  const driver = await RbdVolumeDriver.open({ confFile: live.confFile, pool: 'rbd', connectTimeoutMs: 2000, connectionRetries: 2, connectionIntervalMs: 200 });
  let stopped = false;
  try {
    assert.equal((await driver.getVolumeStats(true)).backend_state, 'up');
    live.signal('SIGSTOP');
    stopped = true;
    const t0 = Date.now();
    const down = await driver.getVolumeStats(true);
    const elapsed = Date.now() - t0;
    assert.equal(down.backend_state, 'down');
    assert.ok(elapsed <= 2 * 2000 + 200 + 1500, `stats took ${elapsed} ms with the cluster stopped`);
    live.signal('SIGCONT');
    stopped = false;
    const t1 = Date.now();
    let up = await driver.getVolumeStats(true);
    for (let i = 0; i < 30 && up.backend_state !== 'up'; i++) {
      await sleep(1000);
      up = await driver.getVolumeStats(true);
    }
    assert.equal(up.backend_state, 'up');
    figures.stopped_cluster_down_s = seconds(elapsed);
    figures.up_again_after_cont_s = seconds(Date.now() - t1);
  } finally {
    if (stopped) live.signal('SIGCONT');
    await driver.close();
  }
  recordFigure({
    suite,
    test: 'Cinder getVolumeStats, cluster down',
    tried: 'dead monitors (retries 1/200 ms and 3/300 ms, connect timeout 1 s); a connected driver whose cluster is SIGSTOPped (op timeout 2 s)',
    held: "backend_state 'down', no throw; attempts = connectionRetries, spaced timeout + interval×2^(n-1); 'up' again after SIGCONT",
    figures,
  });
}

/**
 * The OSDs stop answering while a writable image holds its exclusive lock:
 * librbd fails createSnap with EROFS ("read-only") once the lock could not
 * be refreshed within the OSD op timeout. That is a TimedOut, the
 * ReadOnlyImage kept as its cause; after SIGCONT the image works again.
 */
export async function snapshotWithOsdsStopped(c: FaultCluster, timeoutMs: number, suite: Suite): Promise<void> {
  const cluster = await Rados.connect({ confFile: c.confFile, timeoutMs });
  const io = await cluster.openIoctx('rbd');
  const name = uniq('lock-lost');
  await Rbd.create(io, name, 16 * MiB, { features: RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK });
  let img: Image | undefined = await Image.open(io, name);
  let stopped = false;
  try {
    await img.write(Buffer.alloc(4096, 1), 0); // takes the exclusive lock
    c.signal('SIGSTOP', (n) => n.startsWith('osd'));
    stopped = true;
    const t0 = Date.now();
    const err = await img.createSnap('during-stop').then(
      () => null,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - t0;
    c.signal('SIGCONT', (n) => n.startsWith('osd'));
    stopped = false;
    assert.ok(err instanceof TimedOut, `createSnap with the OSDs stopped: ${String(err)}`);
    assert.equal(err.code, 'ETIMEDOUT');
    // EROFS (ReadOnlyImage) or EBADMSG, depending on where librbd's lock code gave up.
    const cause = err.cause as CephError;
    assert.ok(cause instanceof ReadOnlyImage || (cause instanceof CephError && cause.code === 'EBADMSG'), `cause ${String(err.cause)}`);
    assert.ok(elapsed >= timeoutMs, `rejected after ${elapsed} ms, before the op timeout`);
    // The image is usable again once the OSDs answer (a fresh open: this one's lock was lost).
    await img.close().catch(() => undefined);
    img = undefined;
    await waitForPgs(cluster, 60_000);
    const again = await Image.open(io, name);
    try {
      await again.write(Buffer.alloc(4096, 2), 0);
      await again.createSnap('after');
      assert.deepEqual((await again.listSnaps()).map((s) => s.name).filter((n) => n === 'after'), ['after']);
    } finally {
      await again.close();
    }
    recordFigure({
      suite,
      test: 'OSDs stopped under an exclusive lock',
      tried: `writable image holding its exclusive lock, OSDs SIGSTOPped, createSnap with rados_osd_op_timeout ${timeoutMs / 1000} s`,
      held: `TimedOut (ETIMEDOUT) with librbd's ${cause.code} as cause, after the op timeout; a new open writes and snapshots after SIGCONT`,
      figures: { reject_after_s: seconds(elapsed) },
    });
  } finally {
    if (stopped) c.signal('SIGCONT', (n) => n.startsWith('osd'));
    await img?.close().catch(() => undefined);
    const cleanup = await Image.open(io, name).catch(() => undefined);
    for (const s of (await cleanup?.listSnaps().catch(() => [])) ?? []) await cleanup?.removeSnap(s.name).catch(() => undefined);
    await cleanup?.close();
    await Rbd.remove(io, name).catch(() => undefined);
    await io.close();
    await cluster.shutdown();
  }
}
