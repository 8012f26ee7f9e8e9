/**
 * `ceph-rbd serve` driven by Debian's real OpenStack clients (cinder 9.1.0,
 * glance 4.1.0, openstack 6.0.0) as subprocesses: volumes, snapshots,
 * clones, images with their data, volume ↔ image, the errors as the clients
 * print them, and projects isolated from each other. Each test checks the
 * pool too (rbd), not only what the API says.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { cli } from '../helpers/cluster';
import { api, cinder, glance, prop, run, type Service, startService, waitFor } from '../helpers/serve';

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

describe('serve: the real cinder/glance/openstack clients', function () {
  this.timeout(240_000);
  let dir: string;
  let svc: Service;
  const P = `p${randomBytes(4).toString('hex')}`;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'serve-clients-'));
    svc = await startService(path.join(dir, 'data'));
  });
  after(async () => {
    // Clean the pools of what these tests left (cascade deletes), then stop.
    if (svc) {
      const vols = (await api(`${svc.volumeUrl}/${P}/volumes`, P)).body as { volumes?: Array<{ id: string }> };
      for (const v of vols.volumes ?? []) await api(`${svc.volumeUrl}/${P}/volumes/${v.id}?cascade=true`, P, { method: 'DELETE' });
      await waitFor(async () => ((await api(`${svc.volumeUrl}/${P}/volumes`, P)).body as { volumes: unknown[] }).volumes.length, (n) => n === 0).catch(() => undefined);
      const imgs = (await api(`${svc.imageUrl}/v2/images`, P)).body as { images?: Array<{ id: string }> };
      for (const i of imgs.images ?? []) await api(`${svc.imageUrl}/v2/images/${i.id}`, P, { method: 'DELETE' });
      assert.equal(await svc.stop(), 0, svc.stderr());
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const volume = async (id: string): Promise<{ status: string; size: number; bootable: string } | null> => {
    const r = await api(`${svc.volumeUrl}/${P}/volumes/${id}`, P);
    return r.status === 404 ? null : (r.body as { volume: { status: string; size: number; bootable: string } }).volume;
  };
  const volumeStatus = (id: string, want: string | null) => waitFor(async () => (await volume(id))?.status ?? null, (s) => s === want);
  const snapStatus = (id: string, want: string | null) =>
    waitFor(
      async () => {
        const r = await api(`${svc.volumeUrl}/${P}/snapshots/${id}`, P);
        return r.status === 404 ? null : (r.body as { snapshot: { status: string } }).snapshot.status;
      },
      (s) => s === want,
    );
  const rbdLs = async (pool: string): Promise<string[]> => (await cli('rbd', ['ls', pool])).split('\n').filter((l) => l !== '');

  it('serves the version documents the clients discover first', async () => {
    const v = await fetch(svc.volumeUrl.replace(/\/v3$/, '/'));
    assert.equal(v.status, 300);
    const doc = (await v.json()) as { versions: Array<{ id: string; version: string; min_version: string }> };
    assert.deepEqual(doc.versions.map((x) => [x.id, x.min_version, x.version]), [['v3.0', '3.0', '3.70']]);
    const g = await fetch(`${svc.imageUrl}/versions`);
    assert.equal(g.status, 200);
    assert.ok(((await g.json()) as { versions: Array<{ id: string }> }).versions.some((x) => x.id === 'v2.9'));
  });

  it('cinder: create, list, show, snapshot, volume from snapshot and from volume, delete; errors as the client prints them', async () => {
    const created = await cinder(svc, P, ['create', '--name', 'first', '1']);
    assert.equal(created.code, 0, created.stderr);
    const id = prop(created.stdout, 'id')!;
    assert.equal(prop(created.stdout, 'status'), 'creating');
    await volumeStatus(id, 'available');
    assert.ok((await rbdLs('rbd')).includes(`volume-${id}`));

    const list = await cinder(svc, P, ['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${id}\\s*\\|\\s*available\\s*\\|\\s*first\\s*\\|\\s*1\\s*\\|`));
    const show = await cinder(svc, P, ['show', id]);
    assert.equal(prop(show.stdout, 'name'), 'first');
    assert.equal(prop(show.stdout, 'size'), '1');

    const snap = await cinder(svc, P, ['snapshot-create', '--name', 's1', id]);
    assert.equal(snap.code, 0, snap.stderr);
    const sid = prop(snap.stdout, 'id')!;
    await snapStatus(sid, 'available');
    assert.match(await cli('rbd', ['snap', 'ls', `rbd/volume-${id}`]), new RegExp(`snapshot-${sid}`));
    assert.match((await cinder(svc, P, ['snapshot-list'])).stdout, new RegExp(`${sid}\\s*\\|\\s*${id}\\s*\\|\\s*available\\s*\\|\\s*s1`));

    // 409: a volume with snapshots is not deleted (and stays available).
    const refused = await cinder(svc, P, ['delete', id]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /still has 1 dependent snapshots\. \(HTTP 409\)/);
    assert.equal((await volume(id))?.status, 'available');

    const fromSnap = await cinder(svc, P, ['create', '--snapshot-id', sid, '--name', 'from-snap', '2']);
    const fromVol = await cinder(svc, P, ['create', '--source-volid', id, '--name', 'from-vol', '1']);
    const fsId = prop(fromSnap.stdout, 'id')!;
    const fvId = prop(fromVol.stdout, 'id')!;
    await volumeStatus(fsId, 'available');
    await volumeStatus(fvId, 'available');
    assert.match(await cli('rbd', ['info', `rbd/volume-${fsId}`]), new RegExp(`parent: rbd/volume-${id}@snapshot-${sid}`));
    assert.match(await cli('rbd', ['info', `rbd/volume-${fsId}`]), /size 2 GiB/);
    assert.match(await cli('rbd', ['info', `rbd/volume-${fvId}`]), new RegExp(`parent: rbd/volume-${id}@volume-${fvId}\\.clone_snap`));

    // 404 as cinder prints it.
    const missing = await cinder(svc, P, ['snapshot-delete', '00000000-0000-4000-8000-000000000000']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stdout + missing.stderr, /could not be found|No snapshot with a name or ID/);
    const missingVol = await api(`${svc.volumeUrl}/${P}/volumes/00000000-0000-4000-8000-000000000000`, P, { method: 'DELETE' });
    assert.deepEqual(missingVol.body, { itemNotFound: { code: 404, message: 'Volume 00000000-0000-4000-8000-000000000000 could not be found.' } });

    for (const v of [fsId, fvId]) assert.equal((await cinder(svc, P, ['delete', v])).code, 0);
    assert.equal((await cinder(svc, P, ['snapshot-delete', sid])).code, 0);
    await snapStatus(sid, null);
    assert.equal((await cinder(svc, P, ['delete', id])).code, 0);
    for (const v of [fsId, fvId, id]) await volumeStatus(v, null);
    const left = await rbdLs('rbd');
    for (const v of [fsId, fvId, id]) assert.ok(!left.some((n) => n.startsWith(`volume-${v}`)), `volume-${v} left in the pool: ${left.join(' ')}`);
  });

  it('openstack volume create/show/delete works too', async () => {
    // admin_token: a fixed endpoint and token (no Keystone); the project-less /v3 URLs take the project from the token.
    const os = (args: string[]) =>
      run('openstack', ['--os-auth-type', 'admin_token', '--os-endpoint', svc.volumeUrl, '--os-token', `u-${P}:${P}`, '--os-volume-api-version', '3', ...args]);
    const created = await os(['volume', 'create', '--size', '1', '-f', 'json', 'osc-vol']);
    assert.equal(created.code, 0, created.stderr);
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    await volumeStatus(id, 'available');
    const shown = await os(['volume', 'show', '-f', 'json', id]);
    assert.equal((JSON.parse(shown.stdout) as { name: string }).name, 'osc-vol');
    const del = await os(['volume', 'delete', id]);
    assert.equal(del.code, 0, del.stderr);
    await volumeStatus(id, null);
  });

  it('glance: image-create --file, image-download with checksum check, Range; volume from image is a COW clone; upload-to-image', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 12345);
    const file = path.join(dir, 'img.raw');
    writeFileSync(file, data);
    const created = await glance(svc, P, ['image-create', '--name', 'img', '--disk-format', 'raw', '--container-format', 'bare', '--file', file]);
    assert.equal(created.code, 0, created.stderr);
    const iid = prop(created.stdout, 'id')!;
    assert.equal(prop(created.stdout, 'status'), 'active');
    assert.equal(prop(created.stdout, 'size'), String(data.length));
    assert.equal(prop(created.stdout, 'checksum'), md5(data));
    assert.match(await cli('rbd', ['snap', 'ls', `images/${iid}`]), /\bsnap\b/);

    const out = path.join(dir, 'out.raw');
    const dl = await glance(svc, P, ['image-download', '--file', out, iid]);
    assert.equal(dl.code, 0, dl.stderr);
    assert.ok(readFileSync(out).equals(data));

    const range = await fetch(`${svc.imageUrl}/v2/images/${iid}/file`, { headers: { 'x-auth-token': `u:${P}`, range: 'bytes=1000-1999' } });
    assert.equal(range.status, 206);
    assert.equal(range.headers.get('content-range'), `bytes 1000-1999/${data.length}`);
    assert.ok(Buffer.from(await range.arrayBuffer()).equals(data.subarray(1000, 2000)));
    const bad = await fetch(`${svc.imageUrl}/v2/images/${iid}/file`, { headers: { 'x-auth-token': `u:${P}`, range: `bytes=${data.length}-` } });
    assert.equal(bad.status, 416);

    const vol = await cinder(svc, P, ['create', '--image-id', iid, '--name', 'from-image', '1']);
    assert.equal(vol.code, 0, vol.stderr);
    const vid = prop(vol.stdout, 'id')!;
    await volumeStatus(vid, 'available');
    assert.match(await cli('rbd', ['info', `rbd/volume-${vid}`]), new RegExp(`parent: images/${iid}@snap`));
    assert.equal((await volume(vid))?.bootable, 'true');

    // The image is in use by the clone: glance image-delete is refused (409), the image stays.
    const inUse = await glance(svc, P, ['image-delete', iid]);
    assert.notEqual(inUse.code, 0);
    assert.match(inUse.stdout + inUse.stderr, /409|in use/i);

    const up = await cinder(svc, P, ['upload-to-image', vid, 'uploaded']);
    assert.equal(up.code, 0, up.stderr);
    const upId = prop(up.stdout, 'image_id')!;
    await waitFor(async () => ((await api(`${svc.imageUrl}/v2/images/${upId}`, P)).body as { status: string }).status, (s) => s === 'active', 120_000);
    await volumeStatus(vid, 'available');
    const shown = await glance(svc, P, ['image-show', upId]);
    assert.equal(prop(shown.stdout, 'size'), String(1024 ** 3));
    const head = await fetch(`${svc.imageUrl}/v2/images/${upId}/file`, { headers: { 'x-auth-token': `u:${P}`, range: `bytes=0-${data.length - 1}` } });
    assert.ok(Buffer.from(await head.arrayBuffer()).equals(data));

    assert.equal((await cinder(svc, P, ['delete', vid])).code, 0);
    await volumeStatus(vid, null);
    for (const i of [upId, iid]) assert.equal((await glance(svc, P, ['image-delete', i])).code, 0);
    const images = await rbdLs('images');
    assert.ok(!images.includes(iid) && !images.includes(upId));
    const gone = await glance(svc, P, ['image-show', iid]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stdout + gone.stderr, /No image found with ID/);
  });

  it('keeps projects apart', async () => {
    const Q = `${P}q`;
    const created = await cinder(svc, P, ['create', '--name', 'mine', '1']);
    const id = prop(created.stdout, 'id')!;
    await volumeStatus(id, 'available');
    assert.doesNotMatch((await cinder(svc, Q, ['list'])).stdout, new RegExp(id));
    assert.equal((await api(`${svc.volumeUrl}/${Q}/volumes/${id}`, Q)).status, 404);
    // Another project's URL with this project's token: refused.
    assert.equal((await api(`${svc.volumeUrl}/${Q}/volumes`, P)).status, 403);
    assert.equal((await cinder(svc, Q, ['delete', id])).code !== 0, true);
    assert.equal((await volume(id))?.status, 'available');
    assert.equal((await cinder(svc, P, ['delete', id])).code, 0);
    await volumeStatus(id, null);
  });
});
