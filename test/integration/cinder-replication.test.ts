/**
 * Cinder replication on a mirrored pair of micro clusters
 * (scripts/mirror-pair.sh), short version: replicated types enable and
 * disable journal mirroring (features restored), replication + multiattach
 * is refused, failoverHost to site B with A alive (demote + promote), every
 * operation then on B, failback to 'default'; a non-replicated volume is
 * reported and left alone. The long version (64 MiB / 1 GiB, figures, and the
 * forced failover with A frozen, which once read B back non-primary when run
 * on a saturated machine: docs/RELIABILITY.md) is
 * test/reliability/cinder-replication.test.ts.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as path from 'node:path';

import {
  ImageNotFound,
  InvalidConfigurationValue,
  InvalidReplicationTarget,
  Rbd,
  RBDDriverException,
  RBD_FEATURE_EXCLUSIVE_LOCK,
  RBD_FEATURE_JOURNALING,
  RbdVolumeDriver,
  UnableToFailOver,
  type IoCtx,
} from '../../lib';
import { repoRoot } from '../helpers/cluster';
import { type MirrorPair, waitFor } from '../helpers/mirror-pair';
import {
  PLAIN,
  POOL,
  REPLICATED,
  SITE_B,
  assertUpdate,
  features,
  md5,
  mirrorInfo,
  newVolume,
  openReplicatedDriver,
  useReplicatedPair,
  waitSame,
  writeRandom,
} from '../helpers/replication';

const MiB = 1 << 20;

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

describe('Cinder replication: failover and failback on a mirrored pair', function () {
  this.timeout(120_000);
  const suite = useReplicatedPair();
  let pair: MirrorPair | undefined;
  let ioA: IoCtx;
  let ioB: IoCtx;
  let driver: RbdVolumeDriver;
  before(() => ({ pair, ioA, ioB, driver } = suite));

  it('options: replicationDevices, activeBackendId, replicationMode and the timeout are validated', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ replicationDevices: 'site-b' }, 'replicationDevices'],
      [{ replicationDevices: [{}] }, 'replicationDevices[0].backendId'],
      [{ replicationDevices: [{ backendId: 'default' }] }, 'replicationDevices[0].backendId'],
      [{ replicationDevices: [{ backendId: 'b' }, { backendId: 'b' }] }, 'replicationDevices[1].backendId'],
      [{ replicationDevices: [{ backendId: 'b', confFile: 7 }] }, 'replicationDevices[0].confFile'],
      [{ replicationDevices: [{ backendId: 'b' }], activeBackendId: 'c' }, 'activeBackendId'],
      [{ replicationMode: 'sync' }, 'replicationMode'],
      [{ replicationConnectTimeoutMs: 1.5 }, 'replicationConnectTimeoutMs'],
      [{ replicationSnapshotIntervalSec: -1 }, 'replicationSnapshotIntervalSec'],
    ];
    for (const [options, option] of bad) {
      await assert.rejects(RbdVolumeDriver.open(options), (e: unknown) => e instanceof InvalidConfigurationValue && e.option === option, option);
    }
    const d = await RbdVolumeDriver.open({ replicationDevices: [{ backendId: 'b' }], user: 'u' });
    try {
      assert.deepEqual(d.config.replicationDevices, [{ backendId: 'b', confFile: '/etc/ceph/b.conf', user: 'u' }]);
      assert.equal(d.activeBackendId, 'default');
    } finally {
      await d.close();
    }
    const plain = await RbdVolumeDriver.open({ pool: POOL, confFile: (pair as MirrorPair).confA });
    try {
      await assert.rejects(plain.failover([]), (e: unknown) => e instanceof UnableToFailOver && e.code === 'ERR_CINDER_UNABLE_TO_FAIL_OVER');
      const stats = await plain.getVolumeStats(true);
      assert.equal(stats.replication_enabled, false);
      assert.equal('replication_targets' in stats, false);
    } finally {
      await plain.close();
    }
    await assert.rejects(driver.failover([], 'site-x'), (e: unknown) => e instanceof InvalidReplicationTarget && /Unknown failover target host site-x/.test(e.message));
    const stats = await driver.getVolumeStats(true);
    assert.equal(stats.replication_enabled, true);
    assert.deepEqual(stats.replication_targets, ['default', SITE_B]);
    assert.equal(stats.backend_state, 'up');
  });

  it('replication + multiattach in one type is refused; nothing is created', async () => {
    const v = newVolume({ name: 'both', extraSpecs: { replication_enabled: '<is> True', multiattach: '<is> True' } });
    await assert.rejects(driver.createVolume(v), (e: unknown) => e instanceof RBDDriverException && /mutually exclusive/.test(e.message));
    await assert.rejects(features(ioA, v.name), ImageNotFound);
  });

  it('retype to and from a replicated type enables and disables mirroring and restores the features', async () => {
    const v = newVolume(PLAIN);
    assert.deepEqual(await driver.createVolume(v), { replication_status: 'disabled' });
    const before = await features(ioA, v.name);
    assert.equal(before & RBD_FEATURE_JOURNALING, 0);
    const to = await driver.retype(v, REPLICATED);
    const hadLock = (before & RBD_FEATURE_EXCLUSIVE_LOCK) !== 0;
    assert.deepEqual(to, {
      changed: true,
      modelUpdate: { replication_status: 'enabled', replication_driver_data: `{"had_exclusive_lock":${hadLock},"had_journaling":false}` },
    });
    assert.equal((await features(ioA, v.name)) & (RBD_FEATURE_JOURNALING | RBD_FEATURE_EXCLUSIVE_LOCK), RBD_FEATURE_JOURNALING | RBD_FEATURE_EXCLUSIVE_LOCK);
    assert.deepEqual(await mirrorInfo(ioA, v.name), { state: 'enabled', primary: true });
    // B's rbd-mirror creates the non-primary copy.
    await waitFor(`${v.name} on B`, 60_000, async () => ((await mirrorInfo(ioB, v.name)).primary === false ? true : undefined));

    const back = await driver.retype({ ...v, volumeType: REPLICATED, replicationDriverData: to.modelUpdate.replication_driver_data as string }, PLAIN);
    assert.deepEqual(back.modelUpdate, { replication_status: 'disabled', replication_driver_data: null });
    assert.equal(await features(ioA, v.name), before);
    assert.equal((await mirrorInfo(ioA, v.name)).state, 'disabled');
    // B's copy goes away with the mirroring.
    await waitFor(`${v.name} gone from B`, 60_000, async () => ((await Rbd.list(ioB)).includes(v.name) ? undefined : true));
  });

  it("replicationMode 'snapshot': mirror snapshots by createMirrorSnapshots(), B catches up, retype away disables", async function () {
    this.timeout(120_000);
    const snapDriver = await openReplicatedDriver(pair as MirrorPair, { replicationMode: 'snapshot', replicationSnapshotIntervalSec: 0 });
    try {
      const v = newVolume(REPLICATED);
      const update = await snapDriver.createVolume(v);
      const f = await features(ioA, v.name);
      const hadLock = (f & RBD_FEATURE_EXCLUSIVE_LOCK) !== 0;
      assert.deepEqual(update, { replication_status: 'enabled', replication_driver_data: `{"had_exclusive_lock":${hadLock},"had_journaling":false,"mode":"snapshot"}` });
      assert.equal(f & RBD_FEATURE_JOURNALING, 0);
      assert.deepEqual(await mirrorInfo(ioA, v.name), { state: 'enabled', primary: true });
      await writeRandom(ioA, v.name, 8 * MiB);
      const sum = await md5(ioA, v.name);
      const round = await snapDriver.createMirrorSnapshots();
      assert.ok(round.created.includes(v.name), JSON.stringify(round));
      assert.deepEqual(round.failed, []);
      await waitSame(ioB, v.name, sum, 90_000);
      const back = await snapDriver.retype({ ...v, replicationDriverData: update.replication_driver_data as string }, PLAIN);
      assert.deepEqual(back.modelUpdate, { replication_status: 'disabled', replication_driver_data: null });
      assert.equal((await mirrorInfo(ioA, v.name)).state, 'disabled');
      assert.equal(await features(ioA, v.name), f);
    } finally {
      await snapDriver.close();
    }
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
