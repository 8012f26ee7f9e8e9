/**
 * Reliability, short versions (npm test): the fault, cephx, lifetime, load
 * and fuzz scenarios of test/reliability with small sizes. Fault and cephx
 * scenarios run on throwaway clusters of their own (started together here);
 * the rest uses the shared test cluster without damaging it. The long
 * versions: npm run test:reliability.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { type ConnectOptions, GlanceStore, Image, IOError, type IoCtx, Rados, Rbd } from '../../lib';
import { confFile, connect, uniqueName } from '../helpers/cluster';
import { clusterFull, cinderDown, daemonsStoppedMidUpload, monsUnreachable, osdKilledMidUpload, snapshotWithOsdsStopped } from '../reliability/faults';
import { fuzzPublicApi } from '../reliability/fuzz';
import { closeWhileBusy, cycles } from '../reliability/lifetimes';
import { load } from '../reliability/load';
import { cephx } from '../reliability/security';
import { hostileArguments, hostileCinder } from '../reliability/hostile';
import { detachedBuffers, exitWithCallsInFlight, workerTerminated, workerTerminatedWithWatches } from '../reliability/teardown';
import { FaultCluster, MiB } from '../reliability/support';

describe('reliability (short)', function () {
  this.timeout(180_000);
  let tmp: string;
  let replicated: FaultCluster | undefined;
  let small: FaultCluster | undefined;
  let secure: FaultCluster | undefined;

  before(async function () {
    this.timeout(240_000);
    tmp = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-rel-'));
    const started = await Promise.allSettled([
      FaultCluster.start(['--osds', '3', '--pool', 'images', '--memstore-bytes', String(1024 * MiB)]),
      FaultCluster.start(['--pool', 'images', '--memstore-bytes', String(256 * MiB)]),
      FaultCluster.start(['--cephx', '--memstore-bytes', String(256 * MiB)]),
    ]);
    [replicated, small, secure] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
  after(async function () {
    this.timeout(120_000);
    await Promise.all([replicated, small, secure].map((c) => c?.stop()));
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('faults (throwaway clusters)', () => {
    it('an OSD killed in the middle of a 128 MiB upload: completes, rbd export matches', () => osdKilledMidUpload(replicated as FaultCluster, 128 * MiB, 'short'));
    it('every daemon stopped mid-upload: TimedOut/ConnectionError, clean-up leaves nothing', () => daemonsStoppedMidUpload(replicated as FaultCluster, 64 * MiB, 1000, 'short'));
    it('monitors unreachable at connect: ConnectionError within connectTimeoutMs', () => monsUnreachable(tmp, small, 1000, 'short'));
    it('cluster full: StorageFull, partial image removed, usable after deleting data', () => clusterFull(small as FaultCluster, 256 * MiB, 2000, 'short'));
    it("Cinder with the cluster down: backend_state 'down', retries as configured", () => cinderDown(tmp, small as FaultCluster, 'short'));
    it('OSDs stopped under an exclusive lock: createSnap is TimedOut (cause librbd EROFS or EBADMSG), the image usable after', () => snapshotWithOsdsStopped(small as FaultCluster, 2000, 'short'));
  });

  it('cephx: restricted client, wrong key, no secret in errors, logs or inspect()', () => cephx(secure as FaultCluster, 'short'));

  describe('lifetimes and load (shared cluster)', () => {
    it('close/shutdown while busy, double close, every method after close', () => closeWhileBusy(confFile(), 'rbd', 'short'));
    it('1,000 open/write/close cycles: no fd or memory growth', () => cycles(confFile(), 'rbd', 1000, 8, 'short'));
    it('8 uploads + 100 small reads/writes for 10 s on one connection', () => load(confFile(), 'rbd', { uploads: 8, uploadBytes: 8 * MiB, small: 100, durationMs: 10_000 }, 'short'));
  });

  describe('hostile misuse (test/reliability/hostile.ts)', () => {
    it('Rados/Rbd arguments: coded errors, no secret echoed (confSet key), no size above 2^53', async () => {
      const cluster = await connect();
      try {
        await hostileArguments(cluster, await cluster.openIoctx('rbd'));
      } finally {
        await cluster.shutdown();
      }
    });
    it('Cinder: extendVolume never shrinks (1 or 0 GiB on a 2 GiB volume), NaN coded, snapshot.volumeSize checked', () => hostileCinder(confFile(), 'rbd'));
  });

  describe('teardown with calls in flight (child processes)', () => {
    it('worker.terminate() mid-call: no abort, its handles (watch, exclusive lock) released', () => workerTerminated(confFile(), 2));
    it('worker.terminate() with rados/rbd watches and rados aio/compound ops in flight: no abort, watches gone', () => workerTerminatedWithWatches(confFile(), 2));
    it('process.exit() mid-call: no watch or exclusive lock outlives the process', () => exitWithCallsInFlight(confFile()));
    it("a Buffer's ArrayBuffer transferred mid-read/-write: no crash, the call completes", () => detachedBuffers(confFile()));
  });

  it('the public API with random arguments (fast-check, 300 calls)', () => fuzzPublicApi(confFile(), 300, 'short'));

  describe('regressions found by these tests', () => {
    let cluster: Rados;
    let ioctx: IoCtx;
    before(async () => {
      cluster = await connect();
      ioctx = await cluster.openIoctx('rbd');
    });
    after(() => cluster?.shutdown());

    it('empty reads resolve empty (librbd aborted the process on them)', async () => {
      const name = uniqueName('empty-read');
      await Rbd.create(ioctx, name, 4 * MiB);
      try {
        await using image = await Image.open(ioctx, name);
        assert.equal((await image.read(0, 0)).length, 0);
        assert.equal((await image.aioRead(4 * MiB, 0)).length, 0);
        assert.equal(await image.readInto(0, Buffer.alloc(0)), 0);
        assert.equal(await image.aioReadInto(5 * MiB, new Uint8Array(0)), 0);
      } finally {
        await Rbd.remove(ioctx, name);
      }
    });

    it('an extent past 2^64 is a RangeError (librbd wrapped around and allocated until OOM)', async () => {
      const name = uniqueName('extent');
      await Rbd.create(ioctx, name, 4 * MiB);
      try {
        await using image = await Image.open(ioctx, name);
        const max = 2n ** 64n - 1n;
        for (const call of [
          () => image.writeZeroes(4096n, max),
          () => image.aioWriteZeroes(1, max),
          () => image.discard(max, 2),
          () => image.aioDiscard(4096, max),
          () => image.read(max, 2),
          () => image.aioWrite(Buffer.alloc(2), max),
        ]) {
          await assert.rejects(call(), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
        }
        await image.writeZeroes(0, 4 * MiB);
      } finally {
        await Rbd.remove(ioctx, name);
      }
    });

    it('a corrupt rbd_directory: Rbd.list rejects with IOError instead of never settling', async () => {
      const pool = uniqueName('corrupt-dir');
      assert.equal((await cluster.monCommand({ prefix: 'osd pool create', pool, pg_num: 8 })).status, 0);
      try {
        await cluster.monCommand({ prefix: 'osd pool application enable', pool, app: 'rbd' });
        const io = await cluster.openIoctx(pool);
        await Rbd.poolInit(io, false);
        await Rbd.create(io, 'a', MiB);
        await io.writeFull('rbd_directory', Buffer.from([1, 2, 3, 4, 5, 6]));
        await assert.rejects(Rbd.list(io), (e: unknown) => e instanceof IOError && e.op === 'Rbd.list');
        await io.close();
      } finally {
        await cluster.monCommand({ prefix: 'osd pool delete', pool, pool2: pool, yes_i_really_really_mean_it: true });
      }
    });

    it('a malformed cephx key is not echoed in the argument error', async () => {
      const key = 'AQBYhwJr0zWcLBAAGT5HtjaTiR1p2sAimu9/Sw==';
      const variants: ConnectOptions[] = [{ key: `${key}\0` }, { conf: { key: `${key}\0` } }, { conf: { KEY: `${key}\0` } }];
      for (const options of variants) {
        await assert.rejects(Rados.connect(options), (e: unknown) => {
          assert.ok(e instanceof TypeError && (e as { code?: string }).code === 'ERR_INVALID_ARG_VALUE', String(e));
          assert.ok(!e.message.includes(key.slice(0, 12)), e.message);
          assert.match(e.message, /received a string of 41 characters \(not shown\)$/);
          return true;
        });
      }
      await assert.rejects(GlanceStore.open({ conf: { key: `${key}\0` } }), (e: unknown) => e instanceof Error && !e.message.includes(key.slice(0, 12)));
    });
  });
});
