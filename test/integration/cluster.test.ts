import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';

import { ConnectionError, HandleClosedError, ObjectNotFound, Rados } from '../../lib';
import { confFile, connect, uniqueName } from '../helpers/cluster';

describe('Rados (real cluster)', () => {
  let cluster: Rados;
  before(async () => {
    cluster = await connect();
  });
  after(async () => {
    await cluster.shutdown();
  });

  it('connects and reports the fsid from ceph.conf', async () => {
    const conf = readFileSync(confFile(), 'utf8');
    const fsid = /fsid\s*=\s*([0-9a-f-]+)/.exec(conf)?.[1];
    assert.equal(await cluster.fsid(), fsid);
    assert.equal(cluster.clusterFsid, fsid);
  });

  it('honours CEPH_CONF like librados when no confFile is given', async () => {
    const other = await Rados.connect({ timeoutMs: 30_000 });
    try {
      assert.equal(await other.fsid(), cluster.clusterFsid);
    } finally {
      await other.shutdown();
    }
  });

  it('lists, creates and deletes pools', async () => {
    const pool = uniqueName('pool');
    await cluster.createPool(pool);
    assert.ok((await cluster.listPools()).includes(pool));
    assert.ok((await cluster.poolLookup(pool)) > 0);
    await cluster.deletePool(pool);
    assert.ok(!(await cluster.listPools()).includes(pool));
  });

  it('rejects opening a missing pool with ObjectNotFound (ENOENT)', async () => {
    const pool = uniqueName('nopool');
    await assert.rejects(cluster.openIoctx(pool), (e: unknown) => {
      assert.ok(e instanceof ObjectNotFound);
      assert.equal(e.code, 'ENOENT');
      assert.equal(e.errno, -2);
      assert.equal(e.op, 'Rados.openIoctx');
      assert.equal(e.pool, pool);
      assert.match(e.message, new RegExp(`^Rados.openIoctx: No such file or directory \\(pool=${pool}\\)$`));
      return true;
    });
  });

  it('reads and sets configuration', () => {
    assert.match(cluster.confGet('rbd_default_features') ?? '', /^\d+$/);
    assert.equal(cluster.confGet('no_such_option_here'), null);
    cluster.confSet('rbd_cache', 'false');
    assert.equal(cluster.confGet('rbd_cache'), 'false');
  });

  it('answers mon commands with status, output and status string', async () => {
    const ok = await cluster.monCommand({ prefix: 'df', format: 'json' });
    assert.equal(ok.status, 0);
    assert.ok(JSON.parse(ok.outbuf.toString()).stats.total_bytes > 0);
    const bad = await cluster.monCommand({ prefix: 'osd pool get-quota', pool: uniqueName('nopool'), format: 'json' });
    assert.equal(bad.status, -2);
    assert.match(bad.outs, /unrecognized pool|does not exist/);
  });

  it('reports cluster and pool stats', async () => {
    const s = await cluster.stat();
    assert.ok(s.kb > 0 && s.kbAvail > 0);
    const p = await cluster.poolStat('rbd');
    assert.equal(typeof p.numObjects, 'number');
  });

  it('fails to connect to an unreachable monitor with ConnectionError within the timeout', async function () {
    this.timeout(30_000);
    const t0 = Date.now();
    await assert.rejects(
      Rados.connect({ confFile: confFile(), conf: { mon_host: '127.0.0.1:1' }, timeoutMs: 3000 }),
      (e: unknown) => e instanceof ConnectionError && typeof e.errno === 'number' && e.op === 'Rados.connect',
    );
    assert.ok(Date.now() - t0 < 15_000, `took ${Date.now() - t0} ms`);
  });

  it('rejects calls after shutdown with HandleClosedError, and shutdown is idempotent', async () => {
    const c = await connect();
    await c.shutdown();
    await c.shutdown();
    assert.equal(c.state, 'closed');
    await assert.rejects(c.listPools(), (e: unknown) => e instanceof HandleClosedError && e.code === 'ERR_CEPH_CLOSED');
    await assert.rejects(c.fsid(), HandleClosedError);
  });
});
