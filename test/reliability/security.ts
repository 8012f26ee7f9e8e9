/**
 * cephx (a micro cluster started with --cephx: pool `images`, client.glance
 * with `profile rbd pool=images`, DIR/client.glance.keyring). The work runs
 * in a child process (security-child.ts) so that everything it prints, at
 * the fd level too, can be searched for the secrets.
 */
import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { Rados, Rbd } from '../../lib';
import { type FaultCluster, recordFigure, seconds } from './support';

export async function cephx(c: FaultCluster, suite: 'short' | 'long'): Promise<void> {
  const secrets = [path.join(c.dir, 'client.glance.keyring'), path.join(c.dir, 'keyring')].flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(/key = (\S+)/g)].map((m) => m[1]),
  );
  assert.ok(secrets.length >= 2, 'keys found');
  const t0 = Date.now();
  const child = fork(path.join(__dirname, 'security-child.js'), [c.confFile, c.dir], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const elapsed = Date.now() - t0;
  assert.equal(code, 0, out.slice(-4000));
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, 'the child reported');
  const { checks, logged, inspected } = JSON.parse(line.slice(7)) as { checks: Record<string, unknown>; logged: number; inspected: number };

  // What must hold.
  assert.equal(checks.readBack, true);
  assert.equal(checks.uploadToRbdIsPermissionDenied, true, JSON.stringify(checks.uploadToRbd));
  for (const label of ['uploadToRbd', 'listRbd', 'createInRbd', 'objectWriteInRbd']) {
    const e = checks[label] as { name: string; code: string; errno: number };
    assert.equal(e.name, 'PermissionDenied', `${label}: ${JSON.stringify(e)}`);
    assert.equal(e.code, 'EPERM');
    assert.equal(e.errno, -1);
  }
  // A wrong key: PermissionDenied, EACCES, at connect (no timeout).
  assert.deepEqual(checks.wrongKey, { name: 'PermissionDenied', code: 'EACCES', errno: -13, op: 'Rados.connect', message: 'Rados.connect: Permission denied' });
  const store = checks.wrongKeyStore as { name: string; cause: { name: string; code: string } };
  assert.equal(store.name, 'BackendException');
  assert.deepEqual([store.cause.name, store.cause.code], ['PermissionDenied', 'EACCES']);
  // Another client's keyring (no key for client.glance in it): EPERM at connect.
  assert.deepEqual([(checks.wrongKeyring as { name: string }).name, (checks.wrongKeyring as { code: string }).code], ['PermissionDenied', 'EPERM']);
  assert.equal((checks.keyWithNul as { name: string }).name, 'TypeError');
  assert.equal((checks.keyNotBase64 as { name: string; code: string }).code, 'EINVAL');
  assert.equal(checks.confKeyWithNulIsBadStoreConfiguration, true);
  assert.equal((checks.driverRefusedPool as { name: string }).name, 'PermissionDenied');
  assert.equal(checks.connectionInfoHasKeyring, true);

  // No secret anywhere in what the child printed (logs, inspect() of every
  // object and error, messages, stacks, JSON), except the RESULT line's
  // own fields, which hold no secret either.
  for (const secret of secrets) {
    for (const needle of [secret, secret.replace(/=+$/, ''), secret.slice(0, 16), secret.slice(-16)]) {
      assert.ok(!out.includes(needle), `a secret (…${needle.slice(-6)}) appears in the output`);
    }
  }
  // Nothing was created in `rbd` by the refused client.
  const admin = await Rados.connect({ confFile: c.confFile, timeoutMs: 10_000 });
  try {
    const io = await admin.openIoctx('rbd');
    assert.deepEqual(await Rbd.list(io), []);
    assert.deepEqual((await io.listObjects()).filter((o) => o.oid.startsWith('rbd_data') || o.oid === 'cephx-object'), []);
  } finally {
    await admin.shutdown();
  }
  recordFigure({
    suite,
    test: 'cephx',
    tried: 'client.glance (profile rbd pool=images): GlanceStore upload/get/delete in images; add/list/create/object write in rbd; wrong key; another keyring; malformed keys; Cinder driver with keyringConf',
    held: `images: OK; rbd: PermissionDenied (EPERM), nothing created; wrong key: PermissionDenied (EACCES) at connect; no secret in ${logged} log lines, ${inspected} inspect/stack/JSON dumps or the process output`,
    figures: { child_s: seconds(elapsed), output_bytes: out.length },
  });
}
