/**
 * `ceph-rbd serve` on PostgreSQL: a service killed (SIGKILL) while it holds
 * a claim (a volume create, caught by freezing the service with SIGSTOP right
 * after the request; an image upload kept going). Another live service, without restarting, sees the dead owner's
 * heartbeat go stale, takes the record over and brings it to a final state
 * consistent with the pool; the dead service's row is removed. A live
 * service's claim (fresh heartbeat) is never taken. A service killed right
 * after its API made a record, before any worker ran, leaves it claimed, so
 * it is taken over too; an extend taken over settles its quota reservation;
 * an image delete killed midway is finished by the taker (data, then record).
 */
import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { type Db, openDatabase } from '../../lib/serve/db';
import { ServiceRegistry } from '../../lib/serve/services';
import { cli } from '../helpers/cluster';
import { type Postgres, startPostgres } from '../helpers/postgres';
import { api, type Service, startService, waitFor } from '../helpers/serve';

const HEARTBEAT_MS = 500;
const LEASE_MS = 1500;
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('serve: claims of a dead service are taken over (PostgreSQL)', function () {
  this.timeout(400_000);
  let pg: Postgres;
  let dir: string;
  let db: Db | undefined;
  let sqlite: Db | undefined;
  let unit: Db | undefined;
  let a: Service | undefined;
  let flags: string[];
  let b: Service | undefined;
  const P = `p${randomBytes(4).toString('hex')}`;

  before(async () => {
    pg = await startPostgres();
    pg.createDatabase('takeover');
    dir = mkdtempSync(path.join(tmpdir(), 'serve-takeover-'));
    const url = `${pg.url}takeover`;
    db = (await openDatabase(url, dir)).db;
    flags = ['--db', url, '--heartbeat-interval', String(HEARTBEAT_MS), '--lease', String(LEASE_MS)];
    a = await startService(path.join(dir, 'a'), flags);
    b = await startService(path.join(dir, 'b'), flags);
  });
  after(async () => {
    await a?.kill();
    if (b) assert.equal(await b.stop(), 0, b.stderr());
    await db?.destroy();
    await sqlite?.destroy();
    await unit?.destroy();
    pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const tokenOf = async (svc: Service): Promise<string | undefined> => (await db!.selectFrom('services').select('token').where('pid', '=', svc.pid).executeTakeFirst())?.token;
  const image = (id: string) => db!.selectFrom('images').select(['status', 'claim', 'location']).where('id', '=', id).executeTakeFirstOrThrow();
  const inPool = async (id: string): Promise<boolean> => (await cli('rbd', ['ls', 'images'])).split('\n').includes(id);

  it('A is SIGKILLed mid-create (frozen while it holds the claim of a creating volume): B takes it over, the volume ends available with its image', async () => {
    const tokenA = await tokenOf(a!);
    const vol = (id: string) => db!.selectFrom('volumes').select(['status', 'claim']).where('id', '=', id).executeTakeFirstOrThrow();
    const ids: string[] = [];
    let caught: string | undefined;
    // Create, then freeze A at once (SIGSTOP): retried until A is caught holding the claim of an unfinished create.
    for (let attempt = 0; attempt < 40 && caught === undefined; attempt++) {
      const r = await api(`${a!.volumeUrl}/${P}/volumes`, P, { method: 'POST', body: { volume: { size: 1, name: `mid${attempt}` } } });
      process.kill(a!.pid, 'SIGSTOP');
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = (r.body as { volume: { id: string } }).volume.id;
      ids.push(id);
      const row = await vol(id);
      if (row.status === 'creating' && row.claim === tokenA) {
        caught = id;
      } else {
        process.kill(a!.pid, 'SIGCONT');
        await waitFor(() => vol(id), (x) => x.status !== 'creating');
      }
    }
    assert.ok(caught, 'no create caught in flight in 40 tries');
    await a!.kill();
    // B takes it over once A's heartbeat is older than the lease: available, its image in the pool; A's row removed.
    await waitFor(() => vol(caught!), (x) => x.status !== 'creating', 180_000);
    assert.deepEqual(await vol(caught), { status: 'available', claim: null });
    await waitFor(() => tokenOf(a!), (t) => t === undefined, 10 * (LEASE_MS + HEARTBEAT_MS));
    const pool = (await cli('rbd', ['ls', 'rbd'])).split('\n');
    for (const id of ids) {
      assert.equal((await vol(id)).status, 'available', `volume ${id}`);
      assert.ok(pool.includes(`volume-${id}`), `volume ${id} has its image`);
    }
    for (const id of ids) assert.equal((await api(`${b!.volumeUrl}/${P}/volumes/${id}`, P, { method: 'DELETE' })).status, 202);
    for (const id of ids) await waitFor(async () => (await api(`${b!.volumeUrl}/${P}/volumes/${id}`, P)).status, (st) => st === 404, 180_000);
    const after = (await cli('rbd', ['ls', 'rbd'])).split('\n');
    for (const id of ids) assert.ok(!after.includes(`volume-${id}`), `volume-${id} left in the pool`);
    // A again (a new process, a new token) for what follows.
    a = await startService(path.join(dir, 'a2'), flags);
  });

  it('A is SIGKILLed while saving an image it claimed: B takes the record over, kills it, sweeps its data; A\'s row goes', async () => {
    const tokenA = await tokenOf(a!);
    const tokenB = await tokenOf(b!);
    assert.ok(tokenA && tokenB && tokenA !== tokenB, 'each service wrote its row');
    const url = `${a!.imageUrl}/v2/images`;
    const created = await api(url, P, { method: 'POST', body: { name: 'taken-over', disk_format: 'raw', container_format: 'bare' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as { id: string }).id;
    // A chunked upload to A that keeps sending slowly: the record stays `saving`, claimed by A.
    const req = request(`${url}/${id}/file`, { method: 'PUT', headers: { 'x-auth-token': `u:${P}`, 'content-type': 'application/octet-stream' } });
    req.on('error', () => undefined);
    const chunk = randomBytes(256 * 1024);
    const pump = setInterval(() => {
      if (req.writable) req.write(chunk);
    }, 100);
    try {
      await waitFor(() => image(id), (r) => r.status === 'saving' && r.claim === tokenA);
      await waitFor(() => inPool(id), (x) => x);

      // A alive: its claim is left alone through several leases.
      const beat0 = (await db!.selectFrom('services').select('heartbeat_at').where('token', '=', tokenA!).executeTakeFirstOrThrow()).heartbeat_at;
      await new Promise((r) => setTimeout(r, 3 * (LEASE_MS + HEARTBEAT_MS)));
      assert.deepEqual(await image(id), { status: 'saving', claim: tokenA, location: null }, 'a live service\'s claim was taken');
      const beat1 = (await db!.selectFrom('services').select('heartbeat_at').where('token', '=', tokenA!).executeTakeFirstOrThrow()).heartbeat_at;
      assert.ok(beat1 > beat0, `A's heartbeat was refreshed (${beat0} → ${beat1})`);

      await a!.kill();
    } finally {
      clearInterval(pump);
      req.destroy();
    }
    assert.ok(await inPool(id), 'the partial image is in the pool when A dies');

    // B, not restarted, takes the record over after A's lease: killed, claim dropped; A's row removed.
    const r = await waitFor(() => image(id), (x) => x.status !== 'saving', 10 * (LEASE_MS + HEARTBEAT_MS));
    assert.deepEqual(r, { status: 'killed', claim: null, location: null });
    await waitFor(() => tokenOf(a!), (t) => t === undefined, 10 * (LEASE_MS + HEARTBEAT_MS));
    assert.equal(await tokenOf(b!), tokenB, "B's row stays");
    // B's sweep removes the partial data once A's watch on it times out (osd_client_watch_timeout).
    await waitFor(() => inPool(id), (x) => !x, 150_000);
    const shown = await api(`${b!.imageUrl}/v2/images/${id}`, P);
    assert.equal((shown.body as { status: string }).status, 'killed');
    assert.equal((await api(`${b!.imageUrl}/v2/images/${id}`, P, { method: 'DELETE' })).status, 204);
    assert.ok(!(await inPool(id)));
  });

  it('B keeps serving: a volume created through B after the takeover becomes available', async () => {
    const r = await api(`${b!.volumeUrl}/${P}/volumes`, P, { method: 'POST', body: { volume: { size: 1, name: 'after' } } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = (r.body as { volume: { id: string } }).volume.id;
    await waitFor(async () => ((await api(`${b!.volumeUrl}/${P}/volumes/${id}`, P)).body as { volume: { status: string } }).volume.status, (s) => s === 'available');
    assert.equal((await api(`${b!.volumeUrl}/${P}/volumes/${id}`, P, { method: 'DELETE' })).status, 202);
    await waitFor(async () => (await api(`${b!.volumeUrl}/${P}/volumes/${id}`, P)).status, (s) => s === 404);
    assert.ok(!(await cli('rbd', ['ls', 'rbd'])).split('\n').includes(`volume-${id}`));
  });

  const DIE_AT = path.join(__dirname, '..', 'helpers', 'serve-die-at.js');
  const volume = (id: string) => db!.selectFrom('volumes').select(['status', 'claim', 'size']).where('id', '=', id).executeTakeFirst();
  const volumeNamed = async (project: string, name: string) => (await db!.selectFrom('volumes').select('id').where('project_id', '=', project).where('name', '=', name).executeTakeFirstOrThrow()).id;
  /** A volume made through B, once available. */
  const madeByB = async (project: string, name: string): Promise<string> => {
    const r = await api(`${b!.volumeUrl}/${project}/volumes`, project, { method: 'POST', body: { volume: { size: 1, name } } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const id = (r.body as { volume: { id: string } }).volume.id;
    await waitFor(() => volume(id), (v) => v?.status === 'available');
    return id;
  };
  /**
   * Sends `send` to a new service that SIGKILLs itself when its API hands the
   * manager an operation matching `step` (after the request's transaction,
   * before any worker ran), or at the step `step`'s variables name
   * (test/helpers/serve-die-at.ts). Resolves its token.
   */
  async function diesAt(step: string | NodeJS.ProcessEnv, send: (svc: Service) => Promise<unknown>): Promise<string> {
    const env = typeof step === 'string' ? { SERVE_DIE_AT: step } : step;
    const c = await startService(path.join(dir, `dies-${randomBytes(3).toString('hex')}`), flags, env, DIE_AT);
    const token = await tokenOf(c);
    assert.ok(token, 'the dying service wrote its row');
    await send(c).catch(() => undefined); // the connection drops with the process
    await c.kill();
    assert.equal(c.proc.signalCode, 'SIGKILL');
    return token;
  }

  it('a service SIGKILLed right after its API made a record, before any worker ran: B takes the create, the snapshot, the delete and the upload to an image over', async () => {
    const post = (svc: Service, what: string, body: unknown) => api(`${svc.volumeUrl}/${P}/${what}`, P, { method: 'POST', body });
    // A volume create: the record is made claimed by the dying service (no window where it is nobody's).
    const tokenC = await diesAt('^create volume ', (c) => post(c, 'volumes', { volume: { size: 1, name: 'made-by-dead' } }));
    const created = await volumeNamed(P, 'made-by-dead');
    const left = await volume(created);
    assert.ok(left?.status === 'available' || left?.claim === tokenC, `the record the dead service made is its own: ${JSON.stringify(left)}`);
    // B, not restarted, takes it over once the dead service's lease ran out, and creates it.
    assert.deepEqual(await waitFor(() => volume(created), (v) => v?.status !== 'creating', 60_000), { status: 'available', claim: null, size: 1 });
    assert.ok((await cli('rbd', ['ls', 'rbd'])).split('\n').includes(`volume-${created}`), 'the taken-over create made the image');

    // A snapshot of it, and a delete of another volume, each through a service that dies at once.
    await diesAt('^create snapshot ', (c) => post(c, 'snapshots', { snapshot: { volume_id: created, name: 'snap-by-dead' } }));
    const snap = (await db!.selectFrom('snapshots').select('id').where('name', '=', 'snap-by-dead').executeTakeFirstOrThrow()).id;
    const snapRow = () => db!.selectFrom('snapshots').select(['status', 'claim']).where('id', '=', snap).executeTakeFirstOrThrow();
    assert.deepEqual(await waitFor(snapRow, (r) => r.status !== 'creating', 60_000), { status: 'available', claim: null });
    assert.ok((await cli('rbd', ['snap', 'ls', `rbd/volume-${created}`])).includes(`snapshot-${snap}`), 'the taken-over snapshot create made the RBD snapshot');

    const doomed = await madeByB(P, 'deleted-by-dead');
    await diesAt('^delete volume ', (c) => api(`${c.volumeUrl}/${P}/volumes/${doomed}`, P, { method: 'DELETE' }));
    await waitFor(() => volume(doomed), (v) => v === undefined, 60_000);
    assert.ok(!(await cli('rbd', ['ls', 'rbd'])).split('\n').includes(`volume-${doomed}`), 'the taken-over delete removed the image');

    // An upload of a volume to an image: the new image record and the volume's `uploading` are both the dead service's.
    const source = await madeByB(P, 'uploaded-by-dead');
    await diesAt('^upload volume ', (c) => api(`${c.volumeUrl}/${P}/volumes/${source}/action`, P, { method: 'POST', body: { 'os-volume_upload_image': { image_name: 'image-by-dead' } } }));
    const img = (await db!.selectFrom('images').select('id').where('name', '=', 'image-by-dead').executeTakeFirstOrThrow()).id;
    assert.deepEqual(await waitFor(() => image(img), (r) => r.status !== 'saving', 60_000), { status: 'killed', claim: null, location: null });
    assert.deepEqual(await waitFor(() => volume(source), (v) => v?.status !== 'uploading', 60_000), { status: 'available', claim: null, size: 1 });
    assert.ok(!(await inPool(img)), 'no image data without a record');
    assert.equal((await api(`${b!.imageUrl}/v2/images/${img}`, P, { method: 'DELETE' })).status, 204);

    // Clean up through B.
    assert.equal((await api(`${b!.volumeUrl}/${P}/volumes/${created}?cascade=true`, P, { method: 'DELETE' })).status, 202);
    assert.equal((await api(`${b!.volumeUrl}/${P}/volumes/${source}`, P, { method: 'DELETE' })).status, 202);
    for (const id of [created, source]) await waitFor(() => volume(id), (v) => v === undefined, 60_000);
  });

  it('an image delete SIGKILLed after its record went pending_delete, or inside the store\'s delete: B takes it over and deletes data and record; a DELETE through B meanwhile never drops the record alone', async () => {
    for (const [name, env] of [
      ['in-store', (id: string) => ({ SERVE_DIE_AT_REMOVE: `^${id}$` })],
      ['before-store', () => ({ SERVE_DIE_AT: '^delete image ' })],
    ] as const) {
      const url = `${b!.imageUrl}/v2/images`;
      const created = await api(url, P, { method: 'POST', body: { name: `deleted-by-dead-${name}`, disk_format: 'raw', container_format: 'bare' } });
      const id = (created.body as { id: string }).id;
      const put = await fetch(`${url}/${id}/file`, { method: 'PUT', headers: { 'x-auth-token': `u:${P}`, 'content-type': 'application/octet-stream' }, body: randomBytes(1024 * 1024) });
      assert.equal(put.status, 204, await put.text());
      let answered: number | undefined;
      const tokenC = await diesAt(env(id), async (c) => {
        answered = (await api(`${c.imageUrl}/v2/images/${id}`, P, { method: 'DELETE' })).status;
      });
      const left = await image(id);
      const inPoolAtDeath = await inPool(id);
      // A DELETE through B at once: the dead service's claim is not B's to take yet (409), or B already took it over and finished.
      const again = await api(`${url}/${id}`, P, { method: 'DELETE' });
      if (again.status === 409) assert.ok(await db!.selectFrom('images').select('id').where('id', '=', id).executeTakeFirst(), `${name}: 409, and the record is kept`);
      else assert.ok([204, 404].includes(again.status) && !(await inPool(id)), `${name}: DELETE through B answered ${again.status}; the image in the pool: ${String(await inPool(id))}`);
      // B takes the delete over once the dead service's lease ran out: data, then record.
      await waitFor(() => db!.selectFrom('images').select('status').where('id', '=', id).executeTakeFirst(), (r) => r === undefined, 60_000);
      assert.ok(!(await inPool(id)), `${name}: image ${id} left in the pool without a record`);
      // The service died in the delete, leaving the record pending_delete under its claim and the data in the pool.
      assert.equal(answered, undefined, `${name}: the service answered the DELETE instead of dying in it`);
      assert.deepEqual([left.status, left.claim, inPoolAtDeath], ['pending_delete', tokenC, true], `${name}: what the dead delete left`);
    }
  });

  it('an extend taken over from a dead service settles its quota reservation: rolled back when the image did not grow, committed when it did', async () => {
    const Q = `q${randomBytes(4).toString('hex')}`;
    const usage = async () => ((await api(`${b!.volumeUrl}/${Q}/os-quota-sets/${Q}?usage=true`, Q)).body as { quota_set: { gigabytes: { in_use: number; reserved: number } } }).quota_set.gigabytes;
    const grows = await madeByB(Q, 'grows');
    const stays = await madeByB(Q, 'stays');
    assert.deepEqual(await usage(), { limit: 1000, in_use: 2, reserved: 0, allocated: 0 });
    const extend = (id: string, size: number) => (c: Service) => api(`${c.volumeUrl}/${Q}/volumes/${id}/action`, Q, { method: 'POST', body: { 'os-extend': { new_size: size } } });
    // Killed before the resize: the image keeps 1 GiB.
    await diesAt('^extend volume ', extend(stays, 2));
    // Killed after the resize, before the final update: the image is grown first, as the driver would have.
    await cli('rbd', ['resize', '--size', '3G', `rbd/volume-${grows}`]);
    await diesAt('^extend volume ', extend(grows, 3));
    assert.deepEqual(await waitFor(() => volume(stays), (v) => v?.status !== 'extending', 60_000), { status: 'available', claim: null, size: 1 });
    assert.deepEqual(await waitFor(() => volume(grows), (v) => v?.status !== 'extending', 60_000), { status: 'available', claim: null, size: 3 });
    // 1 + 3 GiB in use, nothing left reserved, no reservation left open.
    assert.deepEqual(await usage(), { limit: 1000, in_use: 4, reserved: 0, allocated: 0 });
    assert.deepEqual(await db!.selectFrom('reservations').select('id').where('project_id', '=', Q).execute(), []);
    for (const id of [grows, stays]) assert.equal((await api(`${b!.volumeUrl}/${Q}/volumes/${id}`, Q, { method: 'DELETE' })).status, 202);
    for (const id of [grows, stays]) await waitFor(() => volume(id), (v) => v === undefined, 60_000);
    assert.deepEqual(await usage(), { limit: 1000, in_use: 0, reserved: 0, allocated: 0 });
  });

  for (const kind of ['postgres', 'sqlite'] as const) {
    it(`deadOwners() (${kind}, the database's clock): a fresh heartbeat is live; a stale one or a missing row is dead; stale rows are removed`, async () => {
      // A database of its own: the running services would take these records over.
      if (kind === 'postgres') pg.createDatabase('unit');
      const d = (kind === 'postgres' ? (unit = (await openDatabase(`${pg.url}unit`, dir)).db) : (sqlite = (await openDatabase(undefined, dir)).db));
      const me = new ServiceRegistry(d, kind, `svc-${randomUUID()}`, { heartbeatMs: HEARTBEAT_MS, leaseMs: LEASE_MS }, silent);
      const live = new ServiceRegistry(d, kind, `svc-${randomUUID()}`, { heartbeatMs: HEARTBEAT_MS, leaseMs: LEASE_MS }, silent);
      const stale = new ServiceRegistry(d, kind, `svc-${randomUUID()}`, { heartbeatMs: HEARTBEAT_MS, leaseMs: LEASE_MS }, silent);
      const gone = `svc-${randomUUID()}`;
      for (const s of [me, live, stale]) await s.register();
      await d.updateTable('services').set((eb) => ({ heartbeat_at: eb('heartbeat_at', '-', 10 * LEASE_MS) })).where('token', '=', stale.token).execute();
      const now = new Date().toISOString();
      const ids: string[] = [];
      for (const claim of [me.token, live.token, stale.token, gone]) {
        const id = randomUUID();
        ids.push(id);
        await d.insertInto('volumes').values({ id, project_id: P, user_id: 'u', name: null, description: null, size: 1, status: 'creating', volume_type_id: null, snapshot_id: null, source_volid: null, image_id: null, metadata: '{}', bootable: 0, error: null, claim, created_at: now, updated_at: now }).execute();
      }
      try {
        const dead = (await me.deadOwners()).filter((t) => [me.token, live.token, stale.token, gone].includes(t));
        assert.deepEqual(dead.sort(), [stale.token, gone].sort());
        assert.equal(await me.forgetStale(), 1);
        const rows = (await d.selectFrom('services').select('token').execute()).map((r) => r.token);
        assert.ok(rows.includes(me.token) && rows.includes(live.token) && !rows.includes(stale.token));
        // The stale service comes back: its row is written again by its next heartbeat.
        await stale.beat();
        assert.ok((await d.selectFrom('services').select('token').where('token', '=', stale.token).execute()).length === 1);
      } finally {
        await d.deleteFrom('volumes').where('id', 'in', ids).execute();
        for (const s of [me, live, stale]) await s.stop();
      }
    });
  }
});
