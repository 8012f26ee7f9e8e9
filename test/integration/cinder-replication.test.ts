/**
 * Cinder replication on a mirrored pair of micro clusters
 * (scripts/mirror-pair.sh), short version: replicated types enable and
 * disable journal mirroring (features restored), replication + multiattach
 * is refused, snapshot mode. Failover and failback (every operation on B,
 * the CLI, the frozen primary) are in test/reliability/cinder-replication.test.ts:
 * on a saturated machine the mirror daemons once left B non-primary after a
 * forced promote and once did not replay B's writes back to A within 90 s
 * (docs/RELIABILITY.md, known limits).
 */
import { strict as assert } from 'node:assert';

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
import { type MirrorPair, waitFor } from '../helpers/mirror-pair';
import {
  PLAIN,
  POOL,
  REPLICATED,
  SITE_B,
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
});
