/**
 * `ceph-rbd serve` under load and after crashes: 50 concurrent creates and
 * deletes end with database and pool in agreement; SIGKILL (by pid) in the
 * middle of creates, deletes and an image upload, then a restart on the
 * same data directory: start-up reconciliation leaves no record pointing at
 * nothing and nothing in the pool that no record points at, also when the
 * upload was killed inside librbd's create (a half-made name) or after it
 * completed in the pool but before its record was set active. An image
 * delete SIGKILLed after its record went `pending_delete` or inside the
 * store's delete is finished at the restart: data and record both gone, and a
 * second DELETE never drops the record while the data stays.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type ClientRequest, request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Image, ImageNotFound, Rbd } from '../../lib';
import { UPLOAD_MARK } from '../../lib/glance/sweep';
import { openDatabase } from '../../lib/serve/db';
import { cli, connect } from '../helpers/cluster';
import { makeHalfMade } from '../helpers/half-made-image';
import { api, type Service, startService, waitFor } from '../helpers/serve';

interface Vol {
  id: string;
  status: string;
}

describe('serve: concurrency and crash recovery', function () {
  this.timeout(600_000);
  let dir: string;
  let data: string;
  let svc: Service | undefined;
  const P = `p${randomBytes(4).toString('hex')}`;

  const volumes = async (s: Service): Promise<Vol[]> => ((await api(`${s.volumeUrl}/${P}/volumes/detail?limit=1000`, P)).body as { volumes: Vol[] }).volumes;
  const poolVolumes = async (): Promise<Set<string>> =>
    new Set(
      (await cli('rbd', ['ls', 'rbd']))
        .split('\n')
        .filter((n) => n.startsWith('volume-'))
        .map((n) => n.slice('volume-'.length)),
    );
  /** Every record of the project is `available` and in the pool; no id the service ever handed out is in the pool without a record. */
  async function agree(s: Service, everIds: Set<string>): Promise<Vol[]> {
    const vols = await waitFor(() => volumes(s), (v) => v.every((x) => x.status === 'available' || x.status === 'error'), 180_000);
    const pool = await poolVolumes();
    for (const v of vols) {
      // The service's own account of what went wrong for that volume, in the failure message.
      const said = () => s.stderr().split('\n').filter((l) => l.includes(v.id)).join('\n');
      assert.equal(v.status, 'available', `volume ${v.id} ended in ${v.status}; the service said:\n${said()}`);
      assert.ok(pool.has(v.id), `record ${v.id} points at nothing`);
    }
    const recorded = new Set(vols.map((v) => v.id));
    for (const id of everIds) if (!recorded.has(id)) assert.ok(!pool.has(id), `volume-${id} is in the pool without a record`);
    return vols;
  }
  const create = async (s: Service, name: string): Promise<string> => {
    const r = await api(`${s.volumeUrl}/${P}/volumes`, P, { method: 'POST', body: { volume: { size: 1, name } } });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return (r.body as { volume: { id: string } }).volume.id;
  };
  const remove = async (s: Service, id: string): Promise<number> => (await api(`${s.volumeUrl}/${P}/volumes/${id}`, P, { method: 'DELETE' })).status;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'serve-crash-'));
    data = path.join(dir, 'data');
    svc = await startService(data);
    const q = await api(`${svc.volumeUrl}/admin/os-quota-sets/${P}`, 'admin', { method: 'PUT', body: { quota_set: { volumes: 200, gigabytes: 1000 } } });
    assert.equal(q.status, 200, JSON.stringify(q.body));
  });
  after(async () => {
    if (svc) {
      for (const v of await volumes(svc)) await remove(svc, v.id);
      await waitFor(() => volumes(svc!), (v) => v.length === 0, 180_000).catch(() => undefined);
      await svc.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('50 concurrent creates, then 50 concurrent deletes and creates: database and pool agree', async () => {
    const s = svc!;
    const ever = new Set<string>();
    const first = await Promise.all(Array.from({ length: 50 }, (_, i) => create(s, `c${i}`)));
    first.forEach((id) => ever.add(id));
    assert.equal(new Set(first).size, 50);
    await agree(s, ever);
    // Deletes of the first 25 while 25 more are created, all at once.
    const [codes, more] = await Promise.all([Promise.all(first.slice(0, 25).map((id) => remove(s, id))), Promise.all(Array.from({ length: 25 }, (_, i) => create(s, `d${i}`)))]);
    assert.deepEqual([...new Set(codes)], [202]);
    more.forEach((id) => ever.add(id));
    await waitFor(() => volumes(s), (v) => v.length === 50 && v.every((x) => x.status === 'available'), 180_000);
    const vols = await agree(s, ever);
    assert.deepEqual(new Set(vols.map((v) => v.id)), new Set([...first.slice(25), ...more]));
    // The second delete of one volume is refused while the first runs (one delete at a time).
    const [a, b] = await Promise.all([remove(s, more[0]), remove(s, more[0])]);
    assert.deepEqual([a, b].sort(), [202, 400]);
    await Promise.all([...first.slice(25), ...more.slice(1)].map((id) => remove(s, id)));
    await waitFor(() => volumes(s), (v) => v.length === 0, 180_000);
    await agree(s, ever);
    const usage = (await api(`${s.volumeUrl}/${P}/os-quota-sets/${P}?usage=true`, P)).body as { quota_set: { volumes: { in_use: number; reserved: number } } };
    assert.deepEqual(usage.quota_set.volumes, { limit: 200, in_use: 0, reserved: 0, allocated: 0 });
  });

  it('SIGKILL mid-create and mid-delete, restart: reconciled, no orphan, no dangling record', async () => {
    const ever = new Set<string>();
    const keep = await Promise.all(Array.from({ length: 6 }, (_, i) => create(svc!, `k${i}`)));
    keep.forEach((id) => ever.add(id));
    await agree(svc!, ever);
    // Deletes of three and creates of six, then SIGKILL at once: records in deleting / creating.
    const deletes = keep.slice(0, 3).map((id) => remove(svc!, id));
    const creates = Array.from({ length: 6 }, (_, i) => create(svc!, `n${i}`));
    const created = await Promise.all(creates);
    created.forEach((id) => ever.add(id));
    assert.deepEqual(await Promise.all(deletes), [202, 202, 202]);
    await svc!.kill();
    svc = await startService(data);
    const vols = await agree(svc, ever);
    assert.deepEqual(new Set(vols.map((v) => v.id)), new Set([...keep.slice(3), ...created]));
  });

  /**
   * A new image and a chunked upload to it, `send` writing the body, until
   * the record is `saving` and the image is in the pool; the request stays open.
   */
  async function upload(name: string, send: (req: ClientRequest) => void): Promise<{ id: string; req: ClientRequest }> {
    const url = `${svc!.imageUrl}/v2/images`;
    const created = await api(url, P, { method: 'POST', body: { name, disk_format: 'raw', container_format: 'bare' } });
    const id = (created.body as { id: string }).id;
    const req = request(`${url}/${id}/file`, { method: 'PUT', headers: { 'x-auth-token': `u:${P}`, 'content-type': 'application/octet-stream' } });
    req.on('error', () => undefined);
    send(req);
    await waitFor(async () => ((await api(`${url}/${id}`, P)).body as { status: string }).status, (st) => st === 'saving');
    await waitFor(async () => (await cli('rbd', ['ls', 'images'])).split('\n').includes(id), (x) => x);
    return { id, req };
  }

  it('SIGKILL mid-upload, restart: the image is killed and its partial data removed from the pool', async () => {
    // A chunked upload that keeps sending until the service dies.
    const chunk = randomBytes(1024 * 1024);
    let sent = 0;
    let pump: NodeJS.Timeout | undefined;
    const { id, req } = await upload('big', (r) => {
      pump = setInterval(() => {
        if (r.writable && sent < 512) {
          r.write(chunk);
          sent++;
        }
      }, 5);
    });
    await new Promise((r) => setTimeout(r, 500));
    await svc!.kill();
    clearInterval(pump);
    req.destroy();
    assert.ok((await cli('rbd', ['ls', 'images'])).split('\n').includes(id), 'the partial image is there before the restart');
    svc = await startService(data);
    assert.equal(((await api(`${svc.imageUrl}/v2/images/${id}`, P)).body as { status: string }).status, 'killed');
    // The dead uploader's watch times out (osd_client_watch_timeout), then the sweep removes the image.
    await waitFor(async () => (await cli('rbd', ['ls', 'images'])).split('\n').includes(id), (x) => !x, 150_000);
    assert.equal((await api(`${svc.imageUrl}/v2/images/${id}`, P, { method: 'DELETE' })).status, 204);
  });

  it('SIGKILL inside rbd_create of an upload, restart: the image is killed and its half-made name removed from the pool', async () => {
    // An upload that has created its image and waits for more data.
    const { id, req } = await upload('half', (r) => r.write(randomBytes(1024)));
    await svc!.kill();
    req.destroy();
    // SIGKILL cannot hit the instant inside rbd_create, so the name is made half-made here: what that kill leaves.
    const cluster = await connect();
    try {
      await using ioctx = await cluster.openIoctx('images');
      await makeHalfMade(ioctx, id);
      assert.ok((await Rbd.list(ioctx)).includes(id), 'the half-made name is listed before the restart');
      await assert.rejects(Image.open(ioctx, id, { readOnly: true }), ImageNotFound);
      svc = await startService(data);
      assert.equal(((await api(`${svc.imageUrl}/v2/images/${id}`, P)).body as { status: string }).status, 'killed');
      await waitFor(async () => (await Rbd.list(ioctx)).includes(id), (x) => !x, 60_000);
    } finally {
      await cluster.shutdown();
    }
    assert.equal((await api(`${svc.imageUrl}/v2/images/${id}`, P, { method: 'DELETE' })).status, 204);
  });

  it('SIGKILL after an upload completed in the pool, before its record was set active, restart: the image is killed and the complete image deleted', async () => {
    const { id, req } = await upload('complete', (r) => r.write(randomBytes(1024)));
    await svc!.kill();
    req.destroy();
    // SIGKILL cannot hit the instant between the store's last step (snapshot protected, upload mark removed)
    // and the record's update, so the upload's last steps are done here as add() does them: what that kill leaves.
    const cluster = await connect();
    try {
      await using ioctx = await cluster.openIoctx('images');
      const image = await Image.open(ioctx, id);
      try {
        await image.createSnap('snap');
        await image.protectSnap('snap');
        await image.metadataRemove(UPLOAD_MARK);
      } finally {
        await image.close();
      }
      svc = await startService(data);
      // Neither the record nor the image holds the size and checksums the upload computed: killed, not active.
      const shown = (await api(`${svc.imageUrl}/v2/images/${id}`, P)).body as { status: string; checksum: string | null };
      assert.deepEqual([shown.status, shown.checksum], ['killed', null]);
      // The complete image is deleted through the store once the dead uploader's watch times out.
      await waitFor(async () => (await Rbd.list(ioctx)).includes(id), (x) => !x, 150_000);
    } finally {
      await cluster.shutdown();
    }
    assert.equal((await api(`${svc.imageUrl}/v2/images/${id}`, P, { method: 'DELETE' })).status, 204);
  });

  const DIE_AT = path.join(__dirname, '..', 'helpers', 'serve-die-at.js');
  const inImagePool = async (id: string): Promise<boolean> => (await cli('rbd', ['ls', 'images'])).split('\n').includes(id);

  /** An active image of 1 MiB through the running service. */
  async function activeImage(name: string): Promise<string> {
    const url = `${svc!.imageUrl}/v2/images`;
    const created = await api(url, P, { method: 'POST', body: { name, disk_format: 'raw', container_format: 'bare' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as { id: string }).id;
    const put = await fetch(`${url}/${id}/file`, { method: 'PUT', headers: { 'x-auth-token': `u:${P}`, 'content-type': 'application/octet-stream' }, body: randomBytes(1024 * 1024) });
    assert.equal(put.status, 204, await put.text());
    assert.ok(await inImagePool(id));
    return id;
  }

  /**
   * The running service is stopped; one that SIGKILLs itself at `env`'s step
   * (test/helpers/serve-die-at.ts) on the same data directory is sent a DELETE
   * of image `id` and dies in it. Resolves the record the dead service left.
   */
  async function deleteDiesAt(id: string, env: NodeJS.ProcessEnv): Promise<{ status: string; claim: string | null } | undefined> {
    assert.equal(await svc!.stop(), 0, svc!.stderr());
    svc = undefined;
    const c = await startService(data, [], env, DIE_AT);
    const answered = await api(`${c.imageUrl}/v2/images/${id}`, P, { method: 'DELETE' }).then(
      (r) => r.status,
      () => undefined, // the connection drops with the process
    );
    const exited = c.proc.exitCode !== null || c.proc.signalCode !== null ? Promise.resolve() : new Promise((r) => c.proc.once('exit', r));
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    const died = c.proc.signalCode === 'SIGKILL';
    await c.kill(); // already dead, or it answered instead of dying
    if (!died || answered !== undefined) {
      svc = await startService(data); // for the tests that follow
      assert.fail(`the service did not die in the delete (it answered ${answered}); stderr:\n${c.stderr()}`);
    }
    const { db } = await openDatabase(undefined, data);
    try {
      return await db.selectFrom('images').select(['status', 'claim']).where('id', '=', id).executeTakeFirst();
    } finally {
      await db.destroy();
    }
  }

  for (const [step, env] of [
    ['after its record went pending_delete, before the store ran', (_id: string) => ({ SERVE_DIE_AT: '^delete image ' })],
    ['inside the store\'s delete (snapshot removed, image not)', (id: string) => ({ SERVE_DIE_AT_REMOVE: `^${id}$` })],
  ] as const) {
    it(`SIGKILL in an image delete ${step}, restart: the data is deleted from the pool and the record goes`, async () => {
      const id = await activeImage(`del-${step.slice(0, 5)}`);
      const left = await deleteDiesAt(id, env(id));
      const inPoolAtDeath = await inImagePool(id);
      svc = await startService(data);
      await waitFor(async () => (await api(`${svc!.imageUrl}/v2/images/${id}`, P)).status, (st) => st === 404, 150_000);
      assert.ok(!(await inImagePool(id)), `image ${id} left in the pool without a record`);
      // What the dead delete had left: its record pending_delete, its data in the pool.
      assert.deepEqual([left?.status, inPoolAtDeath], ['pending_delete', true]);
    });
  }

  it('SIGKILL inside the store\'s delete of an image, restart, DELETE again at once: it ends with neither data nor record', async () => {
    const id = await activeImage('del-again');
    await deleteDiesAt(id, { SERVE_DIE_AT_REMOVE: `^${id}$` });
    svc = await startService(data);
    // The restarted service runs the delete again (reconciliation); the second DELETE waits for it, or finds the record gone.
    const again = await api(`${svc.imageUrl}/v2/images/${id}`, P, { method: 'DELETE' });
    assert.ok(again.status === 204 || again.status === 404, `second DELETE: ${again.status} ${JSON.stringify(again.body)}`);
    assert.ok(!(await inImagePool(id)), `image ${id} left in the pool after the second DELETE answered ${again.status}`);
    assert.equal((await api(`${svc.imageUrl}/v2/images/${id}`, P)).status, 404);
  });
});
