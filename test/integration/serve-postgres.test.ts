/**
 * `ceph-rbd serve` on PostgreSQL: several services share one database and
 * one cluster. Two services (in this process, createServer()) race for the
 * same pending operations; the claim (a conditional update of the record)
 * lets exactly one run each, and the records and the pool agree after.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { createServer, type RunningServer } from '../../lib/serve';
import { cli, confFile } from '../helpers/cluster';
import { type Postgres, startPostgres } from '../helpers/postgres';
import { api, cinder, prop, type Service, startService, waitFor } from '../helpers/serve';

describe('serve: PostgreSQL, two services', function () {
  this.timeout(300_000);
  let pg: Postgres;
  let dir: string;
  let a: RunningServer;
  let b: RunningServer;
  let url: string;
  const P = `p${randomBytes(4).toString('hex')}`;

  before(async () => {
    pg = await startPostgres();
    pg.createDatabase('serve');
    url = `${pg.url}serve`;
    dir = mkdtempSync(path.join(tmpdir(), 'serve-pg-'));
    const common = { confFile: confFile(), db: url, volumePool: 'rbd', imagePool: 'images', volumePort: 0, imagePort: 0, quotas: { volumes: 100 } };
    a = await createServer({ ...common, dataDir: path.join(dir, 'a') });
    b = await createServer({ ...common, dataDir: path.join(dir, 'b') });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const volumes = async (): Promise<Array<{ id: string; status: string }>> =>
    ((await api(`${a.volumeUrl}/${P}/volumes/detail?limit=1000`, P)).body as { volumes: Array<{ id: string; status: string }> }).volumes;

  it('both services see one database: created through one, deleted through the other', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const svc = i % 2 === 0 ? a : b;
      const r = await api(`${svc.volumeUrl}/${P}/volumes`, P, { method: 'POST', body: { volume: { size: 1, name: `v${i}` } } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      ids.push((r.body as { volume: { id: string } }).volume.id);
    }
    await waitFor(volumes, (v) => v.length === 10 && v.every((x) => x.status === 'available'));
    const pool = (await cli('rbd', ['ls', 'rbd'])).split('\n');
    for (const id of ids) assert.ok(pool.includes(`volume-${id}`));
    await Promise.all(ids.map((id, i) => api(`${(i % 2 === 0 ? b : a).volumeUrl}/${P}/volumes/${id}`, P, { method: 'DELETE' })));
    await waitFor(volumes, (v) => v.length === 0);
    const after = (await cli('rbd', ['ls', 'rbd'])).split('\n');
    for (const id of ids) assert.ok(!after.includes(`volume-${id}`));
  });

  it('two managers racing for the same 20 pending creates and deletes: each runs exactly once', async () => {
    // Records made through A's API are also handed to B's manager at once: both try every one.
    const before = { a: { ...a.manager.stats }, b: { ...b.manager.stats } };
    const rows = [];
    for (let i = 0; i < 20; i++) {
      const r = await api(`${a.volumeUrl}/${P}/volumes`, P, { method: 'POST', body: { volume: { size: 1, name: `r${i}` } } });
      rows.push((r.body as { volume: { id: string } }).volume.id);
    }
    const db = a.manager.db;
    const records = await db.selectFrom('volumes').selectAll().where('id', 'in', rows).execute();
    await Promise.all(records.map((row) => b.manager.createVolume({ ...row, status: 'creating', claim: null })));
    await waitFor(volumes, (v) => v.length === 20 && v.every((x) => x.status !== 'creating'));
    const vols = await volumes();
    assert.deepEqual(vols.map((v) => v.status), Array(20).fill('available'), 'a second run of a create would have failed (VolumeExists) and left error');
    const claimed = a.manager.stats.claimed - before.a.claimed + (b.manager.stats.claimed - before.b.claimed);
    const skipped = a.manager.stats.skipped - before.a.skipped + (b.manager.stats.skipped - before.b.skipped);
    assert.equal(claimed, 20);
    assert.equal(skipped, 20);
    const mid = { a: { ...a.manager.stats }, b: { ...b.manager.stats } };

    // Deletes: both managers are handed every record in `deleting`.
    await Promise.all(rows.map((id) => api(`${a.volumeUrl}/${P}/volumes/${id}`, P, { method: 'DELETE' })));
    const deleting = await db.selectFrom('volumes').selectAll().where('id', 'in', rows).execute();
    await Promise.all(deleting.map((row) => b.manager.deleteVolume({ ...row, status: 'deleting', claim: null })));
    await waitFor(volumes, (v) => v.length === 0);
    assert.equal(a.manager.stats.claimed - mid.a.claimed + (b.manager.stats.claimed - mid.b.claimed), 20);
    // B tried every record still there when it looked; each was run by one of the two.
    assert.equal(a.manager.stats.skipped - mid.a.skipped + (b.manager.stats.skipped - mid.b.skipped), deleting.length);
    const pool = (await cli('rbd', ['ls', 'rbd'])).split('\n');
    for (const id of rows) assert.ok(!pool.includes(`volume-${id}`));
    const usage = (await api(`${a.volumeUrl}/${P}/os-quota-sets/${P}?usage=true`, P)).body as { quota_set: { volumes: { in_use: number } } };
    assert.equal(usage.quota_set.volumes.in_use, 0, 'usage given back once per volume, not twice');
  });

  it('ceph-rbd serve --db postgres://… works with the real cinder client', async () => {
    pg.createDatabase('cli');
    let svc: Service | undefined;
    try {
      svc = await startService(path.join(dir, 'cli'), ['--db', `${pg.url}cli`]);
      const created = await cinder(svc, P, ['create', '--name', 'on-pg', '1']);
      assert.equal(created.code, 0, created.stderr);
      const id = prop(created.stdout, 'id')!;
      await waitFor(async () => ((await api(`${svc!.volumeUrl}/${P}/volumes/${id}`, P)).body as { volume: { status: string } }).volume.status, (s) => s === 'available');
      assert.equal((await cinder(svc, P, ['delete', id])).code, 0);
      await waitFor(async () => (await api(`${svc!.volumeUrl}/${P}/volumes/${id}`, P)).status, (s) => s === 404);
    } finally {
      if (svc) assert.equal(await svc.stop(), 0);
    }
  });
});
