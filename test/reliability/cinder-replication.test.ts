/**
 * Cinder replication, the long version, on a mirrored pair of its own
 * (scripts/mirror-pair.sh, 3 GiB memstore per OSD: a journaled 1 GiB write
 * holds data and journal at once): replication lag of a replicated volume
 * (journal mode) for 64 MiB and 1 GiB, failoverHost time with site A alive
 * (demote + promote) and with A's daemons SIGSTOPped (forced promote after
 * the demote connection timed out), resync and failback with the data
 * compared by md5 of `rbd export` on both sites; snapshot mode's lag for
 * 1 GiB. Figures go to docs/RELIABILITY.md through recordFigure.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';

import { type IoCtx, Rbd, type RbdVolumeDriver } from '../../lib';
import { repoRoot } from '../helpers/cluster';
import { type MirrorPair, waitFor, waitReplayed } from '../helpers/mirror-pair';
import {
  PLAIN,
  POOL,
  REPLICATED,
  SITE_B,
  assertUpdate,
  exportSum,
  md5,
  mirrorInfo,
  newVolume,
  openReplicatedDriver,
  useReplicatedPair,
  resyncFrom,
  signalSite,
  waitSame,
  writeRandom,
} from '../helpers/replication';
import { recordFigure, seconds } from './support';

const MiB = 1 << 20;
const GiB = 1 << 30;

/** Runs the real `ceph-rbd` binary; resolves exit status, stdout, stderr. */
function ceph(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = path.join(repoRoot, 'dist', 'lib', 'cli', 'main.js');
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('Cinder replication: lag and failover times (mirrored pair)', function () {
  this.timeout(1_200_000);
  const suite = useReplicatedPair({ memstoreBytes: 3 * GiB, startTimeoutMs: 300_000 });
  let pair: MirrorPair | undefined;
  let ioA: IoCtx;
  let ioB: IoCtx;
  let driver: RbdVolumeDriver;
  before(() => ({ pair, ioA, ioB, driver } = suite));

  it('64 MiB: lag A -> B, failoverHost with A alive, writes on B, failback; whole images identical', async () => {
    const p = pair as MirrorPair;
    const v = newVolume(REPLICATED);
    const plain = newVolume(PLAIN);
    await driver.createVolume(v);
    await driver.createVolume(plain);
    let t = Date.now();
    await writeRandom(ioA, v.name, 64 * MiB);
    const writeMs = Date.now() - t;
    const sumA = await md5(ioA, v.name);
    t = Date.now();
    await waitSame(ioB, v.name, sumA, 600_000);
    const lagMs = Date.now() - t;
    assert.equal(await exportSum(p.confB, v.name), await exportSum(p.confA, v.name));

    t = Date.now();
    const over = await driver.failoverHost([{ ...v, replicationStatus: 'enabled' }, { ...plain, replicationStatus: 'disabled' }], SITE_B);
    const failoverMs = Date.now() - t;
    assertUpdate(over.volumeUpdates, v.id, { replication_status: 'failed-over' });
    assertUpdate(over.volumeUpdates, plain.id, { status: 'error', previous_status: 'available', replication_status: 'not-capable' });
    assert.deepEqual(await mirrorInfo(ioB, v.name), { state: 'enabled', primary: true });

    await writeRandom(ioB, v.name, 8 * MiB, 16 * MiB);
    const sumB = await md5(ioB, v.name);
    t = Date.now();
    await waitSame(ioA, v.name, sumB, 600_000);
    const backLagMs = Date.now() - t;
    t = Date.now();
    const back = await driver.failoverHost([{ ...v, replicationStatus: 'failed-over' }], 'default');
    const failbackMs = Date.now() - t;
    assertUpdate(back.volumeUpdates, v.id, { replication_status: 'enabled' });
    assert.deepEqual(await mirrorInfo(ioA, v.name), { state: 'enabled', primary: true });
    const whole = await exportSum(p.confA, v.name);
    assert.equal(await exportSum(p.confB, v.name), whole);
    recordFigure({
      suite: 'long',
      test: 'cinder replication: 64 MiB lag and failover with the primary alive',
      tried: 'replicated volume (journal): 64 MiB random written on A; failoverHost to site-b; 8 MiB written on B; failoverHost to default',
      held: 'B had the data (md5), promoted; A replayed B\'s writes; back on A; rbd export md5 equal on both sites',
      figures: { write64MiBS: seconds(writeMs), lag64MiBS: seconds(lagMs), failoverAliveS: seconds(failoverMs), backLag8MiBS: seconds(backLagMs), failbackS: seconds(failbackMs) },
    });
    await driver.deleteVolume(plain);
  });

  it('A frozen: forced failover, writes on B, A resynced, failback; data identical', async () => {
    const p = pair as MirrorPair;
    const v = newVolume(REPLICATED);
    await driver.createVolume(v);
    await writeRandom(ioA, v.name, 64 * MiB);
    const sumA = await md5(ioA, v.name);
    await waitSame(ioB, v.name, sumA, 600_000);

    await signalSite('freeze', p.dirA);
    let failoverMs: number;
    let over;
    try {
      const t = Date.now();
      over = await driver.failoverHost([{ ...v, replicationStatus: 'enabled' }], SITE_B);
      failoverMs = Date.now() - t;
    } finally {
      await signalSite('thaw', p.dirA);
    }
    assertUpdate(over.volumeUpdates, v.id, { replication_status: 'failed-over' });
    assert.equal(await md5(ioB, v.name), sumA);
    await writeRandom(ioB, v.name, 8 * MiB, 32 * MiB);
    const sumB = await md5(ioB, v.name);
    let t = Date.now();
    await resyncFrom(ioA, v.name, sumB, 600_000);
    const resyncMs = Date.now() - t;
    t = Date.now();
    const back = await driver.failoverHost([{ ...v, replicationStatus: 'failed-over' }], 'default');
    const failbackMs = Date.now() - t;
    assertUpdate(back.volumeUpdates, v.id, { replication_status: 'enabled' });
    assert.equal(await exportSum(p.confA, v.name), await exportSum(p.confB, v.name));
    recordFigure({
      suite: 'long',
      test: 'cinder replication: failover with the primary dead',
      tried: "replicated volume (journal, 64 MiB): A's mon, mgr, OSD and rbd-mirror SIGSTOPped; failoverHost to site-b (replicationConnectTimeoutMs 3000); 8 MiB written on B; A demoted + resynced; failoverHost to default",
      held: 'forced promote on B with A unreachable; B had the data; after resync A had B\'s data; rbd export md5 equal',
      figures: { failoverDeadS: seconds(failoverMs), resync64MiBS: seconds(resyncMs), failbackS: seconds(failbackMs) },
    });
    await driver.deleteVolume(v).catch(() => undefined);
  });

  it('1 GiB: replication lag in journal mode, then in snapshot mode', async () => {
    const figures: Record<string, string> = {};
    for (const mode of ['journal', 'snapshot'] as const) {
      const d = mode === 'journal' ? driver : await openReplicatedDriver(pair as MirrorPair, { replicationMode: 'snapshot', replicationSnapshotIntervalSec: 0 });
      try {
        const v = newVolume(REPLICATED, 1);
        await d.createVolume(v);
        if (mode === 'snapshot') await waitFor('first mirror snapshot on B', 300_000, async () => ((await mirrorInfo(ioB, v.name).catch(() => undefined))?.primary === false ? true : undefined));
        let t = Date.now();
        await writeRandom(ioA, v.name, GiB);
        figures[`${mode}Write1GiBS`] = seconds(Date.now() - t);
        const sum = await md5(ioA, v.name, GiB);
        t = Date.now();
        if (mode === 'snapshot') assert.ok((await d.createMirrorSnapshots()).created.includes(v.name));
        // The status first (cheap); reading 1 GiB on every poll would slow B's replay down.
        await waitReplayed(ioB, v.name, 1_000_000);
        await waitSame(ioB, v.name, sum, 300_000, GiB);
        figures[`${mode}Lag1GiBS`] = seconds(Date.now() - t);
        await d.deleteVolume(v);
      } finally {
        if (d !== driver) await d.close();
      }
    }
    recordFigure({
      suite: 'long',
      test: 'cinder replication: 1 GiB lag',
      tried: '1 GiB replicated volume, 1 GiB random written on A (8 MiB writes); journal mode, then snapshot mode (one createMirrorSnapshots() round)',
      held: 'B had all of it (md5 of the 1 GiB)',
      figures,
    });
  });

  it('failoverHost with A alive (demote + promote), operations on B, failback; a plain volume is reported, untouched', async function () {
    this.timeout(240_000);
    const p = pair as MirrorPair;
    const repl = newVolume(REPLICATED);
    const plain = newVolume(PLAIN);
    const update = await driver.createVolume(repl);
    assert.equal(update.replication_status, 'enabled');
    await driver.createVolume(plain);
    await writeRandom(ioA, repl.name, 16 * MiB);
    await writeRandom(ioA, plain.name, 4 * MiB);
    const [sumA, plainSum] = [await md5(ioA, repl.name), await md5(ioA, plain.name)];
    await waitSame(ioB, repl.name, sumA, 90_000);

    const result = await driver.failoverHost([{ ...repl, replicationStatus: 'enabled' }, { ...plain, replicationStatus: 'disabled' }], SITE_B);
    assert.equal(result.activeBackendId, SITE_B);
    assertUpdate(result.volumeUpdates, repl.id, { replication_status: 'failed-over' });
    assertUpdate(result.volumeUpdates, plain.id, { status: 'error', previous_status: 'available', replication_status: 'not-capable' });
    assert.equal(driver.activeBackendId, SITE_B);
    assert.deepEqual(await mirrorInfo(ioB, repl.name), { state: 'enabled', primary: true });
    assert.deepEqual(await mirrorInfo(ioA, repl.name), { state: 'enabled', primary: false });
    assert.equal(await md5(ioB, repl.name), sumA);
    assert.equal(await md5(ioA, plain.name), plainSum);
    assert.equal((await Rbd.list(ioB)).includes(plain.name), false);

    // Everything now goes to B: create, snapshot, delete, connection info.
    const onB = newVolume(PLAIN);
    await driver.createVolume(onB);
    assert.ok((await Rbd.list(ioB)).includes(onB.name));
    assert.equal((await Rbd.list(ioA)).includes(onB.name), false);
    await driver.createSnapshot({ id: 'snap-b', volumeId: repl.id });
    assert.ok((await driver.listSnapshots(repl.id)).some((s) => s.name === 'snapshot-snap-b'));
    await driver.deleteSnapshot({ id: 'snap-b', volumeId: repl.id });
    await driver.deleteVolume(onB);
    assert.equal((await Rbd.list(ioB)).includes(onB.name), false);
    const conn = await driver.initializeConnection(repl);
    const monB = String(p.radosB.confGet('mon_host')).replace(/^v1:/, '');
    assert.equal(`${conn.data.hosts[0]}:${conn.data.ports[0]}`, monB);
    assert.equal(conn.data.secret_uuid, p.radosB.clusterFsid);
    assert.equal(conn.data.cluster_name, SITE_B); // a device's cluster name is its backend id, as upstream
    assert.equal(conn.data.name, `${POOL}/${repl.name}`);
    const stats = await driver.getVolumeStats(true);
    assert.equal(stats.location_info, `ceph:${p.confA}:${p.radosB.clusterFsid}:None:${POOL}`); // upstream: configured names, the active fsid

    // New writes on B reach A (rx-tx), then back to 'default'.
    await writeRandom(ioB, repl.name, 4 * MiB, 32 * MiB);
    const sumB = await md5(ioB, repl.name);
    assert.notEqual(sumB, sumA);
    await waitSame(ioA, repl.name, sumB, 90_000);
    const back = await driver.failoverHost([{ ...repl, replicationStatus: 'failed-over' }, { ...plain, replicationStatus: 'not-capable' }], 'default');
    assert.equal(back.activeBackendId, 'default');
    assertUpdate(back.volumeUpdates, repl.id, { replication_status: 'enabled' });
    assertUpdate(back.volumeUpdates, plain.id, {});
    assert.equal(driver.activeBackendId, 'default');
    assert.deepEqual(await mirrorInfo(ioA, repl.name), { state: 'enabled', primary: true });
    assert.equal(await md5(ioA, repl.name), sumB);
    assert.equal(await md5(ioA, plain.name), plainSum);
  });

  it("CLI: 'mirror status --watch' shows the replica caught up; 'volume failover --to site-b' and back to 'default'", async function () {
    this.timeout(180_000);
    const p = pair as MirrorPair;
    const repl = newVolume(REPLICATED);
    await driver.createVolume(repl);
    await writeRandom(ioA, repl.name, 4 * MiB);
    const sum = await md5(ioA, repl.name);

    const st = await ceph(['mirror', 'status', '--conf', p.confB, '--pool', POOL, '--image', repl.name, '--watch', '--interval', '1', '--max-wait', '90', '--progress', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const view = JSON.parse(st.stdout) as { siteName: string; images: Array<{ name: string; role: string; caughtUp: boolean; syncPercent: number }>; sync: { replicas: number; caughtUp: number } };
    assert.equal(view.siteName, SITE_B);
    assert.deepEqual(view.images.map((i) => [i.name, i.role, i.caughtUp, i.syncPercent]), [[repl.name, 'non-primary', true, 100]]);
    assert.deepEqual(view.sync, { percent: 100, replicas: 1, caughtUp: 1 });
    assert.match(st.stderr, /sync +\[[█░]+\] 100% \| 1\/1 replicas caught up/);
    await waitSame(ioB, repl.name, sum, 60_000);

    const usage = await ceph(['volume', 'failover', '--conf', p.confA, '--pool', POOL, '--json']);
    assert.equal(usage.code, 2, usage.stderr);
    const common = ['--conf', p.confA, '--pool', POOL, '--replication-device', `${SITE_B}=${p.confB}`, '--volume', repl.id, '--json'];
    const over = await ceph(['volume', 'failover', '--to', SITE_B, ...common]);
    assert.equal(over.code, 0, over.stderr);
    assert.deepEqual(JSON.parse(over.stdout), {
      from: 'default',
      activeBackendId: SITE_B,
      volumeUpdates: [{ volume_id: repl.id, updates: { replication_status: 'failed-over' } }],
      groupUpdates: [],
    });
    assert.deepEqual(await mirrorInfo(ioB, repl.name), { state: 'enabled', primary: true });
    const back = await ceph(['volume', 'failover', '--to', 'default', '--active', SITE_B, ...common]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((JSON.parse(back.stdout) as { activeBackendId: string }).activeBackendId, 'default');
    assert.deepEqual(await mirrorInfo(ioA, repl.name), { state: 'enabled', primary: true });
    assert.equal(await md5(ioA, repl.name), sum);
  });
});
