import { strict as assert } from 'node:assert';

import { HandleClosedError, InvalidArgument, IoCtx, ObjectNotFound, PermissionDenied, Rados, radosVersion, type ListedObject } from '../../lib';
import { cephError, cli, connect, uniqueName, withPool } from '../helpers/cluster';

describe('librados cluster commands, applications and object listing (real cluster)', () => {
  let cluster: Rados;
  let rbdPoolId: number;

  withPool('rbd', (c) => {
    cluster = c;
  });
  before(async () => {
    rbdPoolId = await cluster.poolLookup('rbd');
  });

  describe('commands', () => {
    it('mgr, targeted mgr, osd, pg and targeted mon commands resolve with their own status', async () => {
      const pg = await cluster.mgrCommand({ prefix: 'pg stat', format: 'json' });
      assert.equal(pg.status, 0);
      assert.ok(JSON.parse(pg.outbuf.toString()).pg_summary.num_pgs > 0);
      const bad = await cluster.mgrCommand({ prefix: 'no such command' });
      assert.equal(bad.status, -22);
      assert.match(bad.outs, /No handler found/);
      const mgrName = JSON.parse((await cluster.monCommand({ prefix: 'mgr stat', format: 'json' })).outbuf.toString()).active_name as string;
      const st = await cluster.mgrCommand({ prefix: 'mgr_status', format: 'json' }, undefined, { target: mgrName });
      assert.equal(st.status, 0);
      assert.equal(JSON.parse(st.outbuf.toString()).initialized, true);

      const version = radosVersion();
      const osd = await cluster.osdCommand(0, { prefix: 'version' });
      assert.equal(osd.status, 0);
      assert.equal(JSON.parse(osd.outbuf.toString()).release, 'pacific');
      const noOsd = await cluster.osdCommand(99, { prefix: 'version' });
      assert.equal(noOsd.status, -2);
      assert.equal(noOsd.outs, 'osd dne');

      const query = await cluster.pgCommand(`${rbdPoolId}.0`, { prefix: 'query', pgid: `${rbdPoolId}.0` });
      assert.equal(query.status, 0);
      assert.match(JSON.parse(query.outbuf.toString()).state, /active/);
      assert.equal((await cluster.pgCommand('999.0', { prefix: 'query', pgid: '999.0' })).status, -2);

      const mon = await cluster.monCommandTarget('a', { prefix: 'mon_status', format: 'json' });
      assert.equal(mon.status, 0);
      assert.equal(JSON.parse(mon.outbuf.toString()).name, 'a');
      assert.equal((await cluster.monCommandTarget('zz', { prefix: 'mon_status' })).status, -2);
      assert.equal(version.major, 3);
      await assert.rejects(cluster.osdCommand(-1, { prefix: 'version' }), { name: 'RangeError' });
      await assert.rejects(cluster.mgrCommand(42 as never), { code: 'ERR_INVALID_ARG_TYPE' });
    });

    it('pings a monitor, reads client addresses, compat levels, base tiers, inconsistent PGs', async () => {
      const ping = await cluster.pingMonitor('a');
      assert.match(ping, /"health"/);
      assert.match(ping, /"name": "a"/);
      await assert.rejects(cluster.pingMonitor('zz'), cephError(ObjectNotFound, 'ENOENT', -2, 'Rados.pingMonitor'));
      const addrs = await cluster.getAddrs();
      assert.match(addrs, /^127\.0\.0\.1:\d+\/\d+$/);
      const compat = await cluster.minCompatibleClient();
      assert.equal(compat.requireOsdRelease, 16); // pacific
      assert.ok(compat.requireMinCompatClient >= compat.minCompatClient || compat.requireMinCompatClient === 0);
      assert.equal(await cluster.poolGetBaseTier(rbdPoolId), rbdPoolId);
      await assert.rejects(cluster.poolGetBaseTier(999999), cephError(ObjectNotFound, 'ENOENT', -2, 'Rados.poolGetBaseTier'));
      assert.deepEqual(await cluster.inconsistentPgs(rbdPoolId), []);
      await assert.rejects(cluster.inconsistentPgs(999999), cephError(ObjectNotFound, 'ENOENT', -2, 'Rados.inconsistentPgs'));
      await assert.rejects(cluster.blocklistAdd('not an address'), cephError(InvalidArgument, 'EINVAL', -22, 'Rados.blocklistAdd'));
    });

    it('blocklists a client by address: ceph lists it, its calls fail', async () => {
      const victim = await connect();
      try {
        const address = await victim.getAddrs();
        await cluster.blocklistAdd(address, 300);
        const listed = await cli('ceph', ['osd', 'blocklist', 'ls']);
        assert.ok(listed.includes(address), listed);
        const io = await victim.openIoctx('rbd');
        await assert.rejects(io.stat('anything'), { name: 'ConnectionShutdown', code: 'ESHUTDOWN' });
      } finally {
        await victim.shutdown();
      }
    });

    it('opens an I/O context by pool id', async () => {
      const io = await cluster.openIoctxById(rbdPoolId);
      assert.equal(io.pool, 'rbd');
      assert.equal(io.poolId, rbdPoolId);
      await io.close();
      await assert.rejects(cluster.openIoctxById(999999), cephError(ObjectNotFound, 'ENOENT', -2, 'Rados.openIoctxById'));
    });
  });

  describe('pool applications and properties', () => {
    let ioctx: IoCtx;
    const pool = uniqueName('apps');
    before(async function () {
      this.timeout(60_000);
      await cluster.createPool(pool);
      ioctx = await cluster.openIoctx(pool);
    });
    after(async function () {
      this.timeout(60_000);
      await ioctx?.close();
      await cluster.deletePool(pool).catch(() => undefined);
    });

    it('enables applications and keeps their metadata', async () => {
      assert.deepEqual(await ioctx.applicationList(), []);
      await ioctx.applicationEnable('myapp');
      // A second application needs force.
      await assert.rejects(ioctx.applicationEnable('other'), cephError(PermissionDenied, 'EPERM', -1, 'IoCtx.applicationEnable'));
      await ioctx.applicationEnable('other', { force: true });
      assert.deepEqual((await ioctx.applicationList()).sort(), ['myapp', 'other']);
      await ioctx.applicationMetadataSet('myapp', 'owner', 'team-a');
      await ioctx.applicationMetadataSet('myapp', 'tier', 'gold');
      assert.equal(await ioctx.applicationMetadataGet('myapp', 'owner'), 'team-a');
      assert.deepEqual(await ioctx.applicationMetadataList('myapp'), new Map([['owner', 'team-a'], ['tier', 'gold']]));
      const shown = JSON.parse(await cli('ceph', ['osd', 'pool', 'application', 'get', pool, '--format', 'json']));
      assert.deepEqual(shown.myapp, { owner: 'team-a', tier: 'gold' });
      await ioctx.applicationMetadataRemove('myapp', 'tier');
      assert.deepEqual(await ioctx.applicationMetadataList('myapp'), new Map([['owner', 'team-a']]));
      await assert.rejects(ioctx.applicationMetadataGet('myapp', 'tier'), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.applicationMetadataGet'));
      await assert.rejects(ioctx.applicationMetadataSet('nosuchapp', 'k', 'v'), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.applicationMetadataSet'));
      await assert.rejects(ioctx.applicationMetadataList('nosuchapp'), cephError(ObjectNotFound, 'ENOENT', -2, 'IoCtx.applicationMetadataList'));
    });

    it('reports the write alignment (none for a replicated pool); places objects by a locator key', async () => {
      assert.equal(await ioctx.poolAlignment(), 0);
      ioctx.setLocatorKey('shared-key');
      await ioctx.writeFull('placed', Buffer.from('x'));
      ioctx.setLocatorKey(null);
      // Without the key the object is not found where its name alone would put it.
      await assert.rejects(ioctx.stat('placed'), ObjectNotFound);
      const listed = [] as ListedObject[];
      for await (const o of ioctx.objects()) listed.push(o);
      assert.deepEqual(listed, [{ namespace: '', oid: 'placed', locator: 'shared-key' }]);
      ioctx.setLocatorKey('shared-key');
      await ioctx.remove('placed');
      ioctx.setLocatorKey(null);
    });
  });

  describe('object listing with a cursor', () => {
    let ioctx: IoCtx;
    const pool = uniqueName('list');
    before(async function () {
      this.timeout(60_000);
      await cluster.createPool(pool);
      ioctx = await cluster.openIoctx(pool);
    });
    after(async function () {
      this.timeout(60_000);
      await ioctx?.close();
      await cluster.deletePool(pool).catch(() => undefined);
    });

    it('lists one namespace or all of them, page by page', async function () {
      this.timeout(60_000);
      const want: ListedObject[] = [];
      for (const ns of ['', 'tenant-a', 'tenant-b']) {
        const io = await cluster.openIoctx(pool, ns);
        const n = ns === '' ? 30 : 120;
        await Promise.all(Array.from({ length: n }, (_, i) => io.aioWriteFull(`obj-${i}`, Buffer.from(ns))));
        for (let i = 0; i < n; i++) want.push({ namespace: ns, oid: `obj-${i}`, locator: '' });
        await io.close();
      }
      const key = (o: ListedObject): string => `${o.namespace}/${o.oid}`;
      const all: ListedObject[] = [];
      for await (const o of ioctx.objects({ allNamespaces: true, pageSize: 7 })) all.push(o);
      assert.deepEqual(all.map(key).sort(), want.map(key).sort());
      const own: ListedObject[] = [];
      for await (const o of ioctx.objects({ pageSize: 1000 })) own.push(o);
      assert.deepEqual(own.map(key).sort(), want.filter((o) => o.namespace === '').map(key).sort());
      const a = await cluster.openIoctx(pool, 'tenant-a');
      const inA: ListedObject[] = [];
      for await (const o of a.objects()) inA.push(o);
      assert.equal(inA.length, 120);
      assert.ok(inA.every((o) => o.namespace === 'tenant-a'));
      // Breaking out of the loop closes the lister; closing the IoCtx refuses new listings.
      let seen = 0;
      for await (const o of ioctx.objects({ allNamespaces: true, pageSize: 5 })) {
        assert.ok(o.oid.startsWith('obj-'));
        if (++seen === 3) break;
      }
      await a.close();
      await assert.rejects(a.objects().next(), HandleClosedError);
      await assert.rejects(ioctx.objects({ pageSize: 0 }).next(), { name: 'RangeError' });
    });
  });
});
