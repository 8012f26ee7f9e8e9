/** Replication targets and options without a cluster: upstream's target choice, the volumes failover handles, option defaults. */
import { strict as assert } from 'node:assert';

import { InvalidReplicationTarget } from '../../lib/cinder/errors';
import { failoverTarget, isReplicatedVolume, targetConfig } from '../../lib/cinder/failover';
import { resolveOptions } from '../../lib/cinder/options';

describe('Cinder replication targets (no cluster)', () => {
  const config = resolveOptions({
    confFile: '/etc/ceph/a.conf',
    user: 'cinder-a',
    secretUuid: 'secret-a',
    replicationDevices: [{ backendId: 'b', confFile: '/etc/ceph/b.conf' }, { backendId: 'c', user: 'cinder-c', secretUuid: 'secret-c' }],
  });

  it('devices get upstream defaults: conf /etc/ceph/<id>.conf, the driver user and secret', () => {
    assert.deepEqual(config.replicationDevices, [
      { backendId: 'b', confFile: '/etc/ceph/b.conf', user: 'cinder-a', secretUuid: 'secret-a' },
      { backendId: 'c', confFile: '/etc/ceph/c.conf', user: 'cinder-c', secretUuid: 'secret-c' },
    ]);
    assert.equal(resolveOptions({ replicationDevices: [{ backendId: 'b' }] }).replicationDevices[0].user, 'cinder');
    assert.equal(config.replicationConnectTimeoutMs, 5000);
    assert.equal(resolveOptions({ replicationConnectTimeoutMs: -1 }).replicationConnectTimeoutMs, undefined);
    assert.equal(config.replicationMode, 'journal');
    assert.equal(resolveOptions({ activeBackendId: 'default' }).activeBackendId, undefined);
  });

  it('_get_target_config: a device, the configured cluster for unset/default, else InvalidReplicationTarget', () => {
    assert.deepEqual(targetConfig(config, 'c'), { backendId: 'c', clusterName: 'c', confFile: '/etc/ceph/c.conf', user: 'cinder-c', secretUuid: 'secret-c' });
    const dflt = { backendId: 'default', clusterName: 'ceph', confFile: '/etc/ceph/a.conf', user: 'cinder-a', secretUuid: 'secret-a' };
    assert.deepEqual(targetConfig(config, undefined), dflt);
    assert.deepEqual(targetConfig(config, 'default'), dflt);
    assert.throws(() => targetConfig(config, 'x'), (e: unknown) => e instanceof InvalidReplicationTarget && e.code === 'ERR_CINDER_INVALID_REPLICATION_TARGET');
  });

  it('_get_failover_target_config: without an id, the first device that is not active', () => {
    assert.equal(failoverTarget(config, 'default', undefined).backendId, 'b');
    assert.equal(failoverTarget(config, 'b', undefined).backendId, 'c');
    assert.equal(failoverTarget(config, 'b', 'default').backendId, 'default');
    const one = resolveOptions({ replicationDevices: [{ backendId: 'b' }] });
    assert.throws(() => failoverTarget(one, 'b', undefined), (e: unknown) => e instanceof InvalidReplicationTarget && /No available failover target/.test(e.message));
  });

  it('which volumes failover handles: replication_status when given, else the type', () => {
    const repl = { extraSpecs: { replication_enabled: '<is> True' } };
    assert.equal(isReplicatedVolume({ id: 'a', size: 1, replicationStatus: 'enabled' }), true);
    assert.equal(isReplicatedVolume({ id: 'a', size: 1, replicationStatus: 'failed-over' }), true);
    assert.equal(isReplicatedVolume({ id: 'a', size: 1, replicationStatus: 'disabled', volumeType: repl }), false);
    assert.equal(isReplicatedVolume({ id: 'a', size: 1, replicationStatus: 'not-capable' }), false);
    assert.equal(isReplicatedVolume({ id: 'a', size: 1, volumeType: repl }), true);
    assert.equal(isReplicatedVolume({ id: 'a', size: 1 }), false);
  });
});
