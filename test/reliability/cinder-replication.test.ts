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

import type { IoCtx, RbdVolumeDriver } from '../../lib';
import { type MirrorPair, waitFor, waitReplayed } from '../helpers/mirror-pair';
import {
  PLAIN,
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
});
