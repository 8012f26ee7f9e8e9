/** `ceph-rbd volume failover --replication-device`: the ID=CONF form and Cinder's replication_device form (no cluster). */
import { strict as assert } from 'node:assert';

import { UsageError } from '../../lib/cli/common';
import { devices, parseReplicationDevice } from '../../lib/cli/volume-failover';

describe('CLI --replication-device (no cluster)', () => {
  it('ID=CONF: the backend id and its ceph.conf (a conf path may hold = and :)', () => {
    assert.deepEqual(parseReplicationDevice('site-b=/etc/ceph/b.conf'), { backendId: 'site-b', confFile: '/etc/ceph/b.conf' });
    assert.deepEqual(parseReplicationDevice('b=/tmp/x=y:z.conf'), { backendId: 'b', confFile: '/tmp/x=y:z.conf' });
  });

  it("Cinder's form: backend_id, conf, user, secret_uuid in any order; a value may hold ':' and '='", () => {
    assert.deepEqual(parseReplicationDevice('backend_id:secondary,conf:/etc/ceph/secondary.conf,user:cinder2,secret_uuid:0f4e2b3c-1111-2222-3333-444455556666'), {
      backendId: 'secondary',
      confFile: '/etc/ceph/secondary.conf',
      user: 'cinder2',
      secretUuid: '0f4e2b3c-1111-2222-3333-444455556666',
    });
    assert.deepEqual(parseReplicationDevice('user:u, backend_id:b'), { backendId: 'b', user: 'u' });
    assert.deepEqual(parseReplicationDevice('backend_id:b,conf:/tmp/a:b=c.conf'), { backendId: 'b', confFile: '/tmp/a:b=c.conf' });
  });

  it("a device without user: gets the command's --id, else admin (the CLI's default user); its own user wins", () => {
    assert.deepEqual(devices(['b=/b.conf', 'backend_id:c,user:cinder-c'], 'cinder'), [
      { backendId: 'b', confFile: '/b.conf', user: 'cinder' },
      { backendId: 'c', user: 'cinder-c' },
    ]);
    assert.deepEqual(devices(['backend_id:b,secret_uuid:s'], undefined), [{ backendId: 'b', user: 'admin', secretUuid: 's' }]);
    assert.deepEqual(devices(undefined, undefined), []);
  });

  for (const [spec, message] of [
    ['=/b.conf', /must be ID=CONF or backend_id:ID/],
    ['b=', /must be ID=CONF or backend_id:ID/],
    ['b', /'b' is not key:value/],
    ['backend_id:b,conf:', /'conf:' is not key:value/],
    ['backend_id:b,,user:u', /'' is not key:value/],
    [':b', /':b' is not key:value/],
    ['backend_id:b,keyring:/k', /unknown key 'keyring' in 'backend_id:b,keyring:\/k' \(known: backend_id, conf, user, secret_uuid\)/],
    ['backend-id:b', /unknown key 'backend-id'/],
    ['backend_id:b,user:u,user:v', /'user' given twice/],
    ['conf:/b.conf,user:u', /needs backend_id:/],
    ['backend_id:default', /not 'default', got 'default'/],
    ['default=/b.conf', /not 'default', got 'default'/],
    ['backend_id:a/b', /without spaces, '\/' or ':'/],
    ['constructor:x', /unknown key 'constructor'/],
  ] as const) {
    it(`'${spec}' is a UsageError`, () => {
      assert.throws(() => parseReplicationDevice(spec), (err: unknown) => err instanceof UsageError && message.test(err.message));
    });
  }
});
