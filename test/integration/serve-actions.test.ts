/**
 * `ceph-rbd serve` volume actions and updates through the real clients:
 * extend, revert to snapshot, reset-state (admin only), cascade delete,
 * rename/metadata, list filters/sort/pagination, and Glance's JSON-patch
 * image update — each checked in the pool as well.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { cli } from '../helpers/cluster';
import { api, cinder, glance, prop, type Service, startService, waitFor } from '../helpers/serve';

describe('serve: volume actions, updates, lists and image patches', function () {
  this.timeout(240_000);
  let dir: string;
  let svc: Service;
  const P = `p${randomBytes(4).toString('hex')}`;

  const volume = async (id: string): Promise<{ status: string; size: number; name: string; metadata: Record<string, string> } | null> => {
    const r = await api(`${svc.volumeUrl}/${P}/volumes/${id}`, P);
    return r.status === 404 ? null : (r.body as { volume: { status: string; size: number; name: string; metadata: Record<string, string> } }).volume;
  };
  const status = (id: string, want: string | null) => waitFor(async () => (await volume(id))?.status ?? null, (s) => s === want);
  const create = async (args: string[]): Promise<string> => {
    const r = await cinder(svc, P, ['create', ...args]);
    assert.equal(r.code, 0, r.stderr);
    const id = prop(r.stdout, 'id')!;
    await status(id, 'available');
    return id;
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'serve-actions-'));
    svc = await startService(path.join(dir, 'data'));
  });
  after(async () => {
    if (svc) {
      const vols = ((await api(`${svc.volumeUrl}/${P}/volumes`, P)).body as { volumes: Array<{ id: string }> }).volumes;
      for (const v of vols) await api(`${svc.volumeUrl}/${P}/volumes/${v.id}?cascade=true`, P, { method: 'DELETE' });
      await waitFor(async () => ((await api(`${svc.volumeUrl}/${P}/volumes`, P)).body as { volumes: unknown[] }).volumes.length, (n) => n === 0).catch(() => undefined);
      assert.equal(await svc.stop(), 0, svc.stderr());
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('extend, revert to the latest snapshot, reset-state (admin only), rename and metadata', async () => {
    const id = await create(['--name', 'act', '1']);
    assert.equal((await cinder(svc, P, ['extend', id, '2'])).code, 0);
    await waitFor(async () => (await volume(id))?.size, (s) => s === 2);
    await status(id, 'available');
    assert.match(await cli('rbd', ['info', `rbd/volume-${id}`]), /size 2 GiB/);
    const shrink = await cinder(svc, P, ['extend', id, '1']);
    assert.notEqual(shrink.code, 0);
    assert.match(shrink.stdout + shrink.stderr, /must be greater than current size.*\(HTTP 400\)/);

    // Revert: data written after the snapshot is gone again.
    await cli('rbd', ['bench', '--io-type', 'write', '--io-size', '4096', '--io-total', '4096', '--io-pattern', 'seq', `rbd/volume-${id}`]);
    const before = await cli('rbd', ['du', `rbd/volume-${id}`]);
    const snap = await cinder(svc, P, ['snapshot-create', '--name', 'rev', id]);
    const sid = prop(snap.stdout, 'id')!;
    await waitFor(async () => ((await api(`${svc.volumeUrl}/${P}/snapshots/${sid}`, P)).body as { snapshot: { status: string } }).snapshot.status, (s) => s === 'available');
    await cli('rbd', ['bench', '--io-type', 'write', '--io-size', '4096', '--io-total', String(8 * 1024 * 1024), '--io-pattern', 'seq', `rbd/volume-${id}`]);
    const rev = await cinder(svc, P, ['--os-volume-api-version', '3.40', 'revert-to-snapshot', sid]);
    assert.equal(rev.code, 0, rev.stderr);
    await status(id, 'available');
    const afterRevert = await cli('rbd', ['du', `rbd/volume-${id}`]);
    assert.equal(afterRevert.split('\n').find((l) => l.startsWith(`volume-${id} `))?.split(/\s+/)[2], before.split('\n').find((l) => l.startsWith(`volume-${id} `))?.split(/\s+/)[2]);

    // reset-state: refused for a member, done for admin.
    const denied = await cinder(svc, P, ['reset-state', '--state', 'error', id]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stdout + denied.stderr, /HTTP 403/);
    assert.equal((await api(`${svc.volumeUrl}/${P}/volumes/${id}/action`, P, { method: 'POST', body: { 'os-reset_status': { status: 'error' } }, headers: { 'x-auth-token': `admin:${P}` } })).status, 202);
    assert.equal((await volume(id))?.status, 'error');
    assert.equal((await api(`${svc.volumeUrl}/${P}/volumes/${id}/action`, P, { method: 'POST', body: { 'os-reset_status': { status: 'available' } }, headers: { 'x-auth-token': `admin:${P}` } })).status, 202);

    assert.equal((await cinder(svc, P, ['rename', id, 'renamed'])).code, 0);
    assert.equal((await cinder(svc, P, ['metadata', id, 'set', 'k=v'])).code, 0);
    const v = await volume(id);
    assert.equal(v?.name, 'renamed');
    assert.deepEqual(v?.metadata, { k: 'v' });

    // Cascade: the volume and its snapshot go together.
    const del = await cinder(svc, P, ['delete', '--cascade', id]);
    assert.equal(del.code, 0, del.stderr);
    await status(id, null);
    assert.equal((await api(`${svc.volumeUrl}/${P}/snapshots/${sid}`, P)).status, 404);
    assert.ok(!(await cli('rbd', ['ls', 'rbd'])).split('\n').includes(`volume-${id}`));
  });

  it('volume types with extra specs and QoS specs (admin): a typed volume gets the back-end QoS on its image', async () => {
    const admin = (args: string[]) => cinder(svc, 'admin', args, 'admin');
    const T = `gold-${P}`;
    assert.equal((await admin(['type-create', T])).code, 0);
    assert.equal((await admin(['type-key', T, 'set', 'volume_backend_name=RBD'])).code, 0);
    const qos = await admin(['qos-create', `fast-${P}`, 'consumer=back-end', 'total_iops_sec=500']);
    assert.equal(qos.code, 0, qos.stderr);
    const qid = prop(qos.stdout, 'id')!;
    const tid = (await admin(['type-show', T])).stdout.match(/\|\s*id\s*\|\s*(\S+)/)![1];
    assert.equal((await admin(['qos-associate', qid, tid])).code, 0);
    assert.match((await admin(['extra-specs-list'])).stdout, new RegExp(`${T}\\s*\\|\\s*\\{'volume_backend_name': 'RBD'\\}`));
    // Members read types but do not make them.
    assert.match((await cinder(svc, P, ['type-list'])).stdout, new RegExp(T));
    const denied = await cinder(svc, P, ['type-create', `x-${P}`]);
    assert.match(denied.stdout + denied.stderr, /HTTP 403/);

    const id = await create(['--volume-type', T, '--name', 'typed', '1']);
    assert.equal(prop((await cinder(svc, P, ['show', id])).stdout, 'volume_type'), T);
    assert.match(await cli('rbd', ['config', 'image', 'list', `rbd/volume-${id}`]), /rbd_qos_iops_limit\s+500\s+image/);
    const inUse = await admin(['type-delete', T]);
    assert.match(inUse.stdout + inUse.stderr, /still in use/);
    await api(`${svc.volumeUrl}/${P}/volumes/${id}`, P, { method: 'DELETE' });
    await status(id, null);
    assert.equal((await admin(['qos-disassociate', qid, tid])).code, 0);
    assert.equal((await admin(['type-delete', T])).code, 0);
    assert.equal((await admin(['qos-delete', qid])).code, 0);
  });

  it('lists with filters, sort and marker/limit pagination', async () => {
    const ids = [];
    for (const n of ['pa', 'pb', 'pc']) ids.push(await create(['--name', n, '1']));
    const list = async (qs: string) => ((await api(`${svc.volumeUrl}/${P}/volumes?${qs}`, P)).body as { volumes: Array<{ id: string; name: string }>; volumes_links?: Array<{ href: string }> });
    assert.deepEqual((await list('name=pb')).volumes.map((v) => v.name), ['pb']);
    assert.deepEqual((await list('sort=name:asc')).volumes.map((v) => v.name).filter((n) => n.startsWith('p')), ['pa', 'pb', 'pc']);
    const page1 = await list('sort=name:asc&limit=2');
    assert.deepEqual(page1.volumes.map((v) => v.name), ['pa', 'pb']);
    assert.ok(page1.volumes_links?.[0].href.includes(`marker=${page1.volumes[1].id}`));
    assert.deepEqual((await list(`sort=name:asc&limit=2&marker=${page1.volumes[1].id}`)).volumes.map((v) => v.name), ['pc']);
    // The client follows the links itself.
    const all = await cinder(svc, P, ['list', '--sort', 'name:desc', '--limit', '2']);
    assert.equal(all.code, 0, all.stderr);
    assert.ok(all.stdout.indexOf('pc') < all.stdout.indexOf('pb'));
    for (const id of ids) await api(`${svc.volumeUrl}/${P}/volumes/${id}`, P, { method: 'DELETE' });
    for (const id of ids) await status(id, null);
  });

  it('glance image-update (JSON patch): properties added, replaced, removed; read-only attributes refused', async () => {
    const created = await glance(svc, P, ['image-create', '--name', 'patchme', '--disk-format', 'raw', '--container-format', 'bare', '--property', 'os_distro=debian']);
    assert.equal(created.code, 0, created.stdout + created.stderr);
    const id = prop(created.stdout, 'id')!;
    // glance uploads a non-TTY stdin as the data: here the empty one.
    assert.equal(prop(created.stdout, 'status'), 'active');
    assert.equal(prop(created.stdout, 'size'), '0');
    assert.equal(prop(created.stdout, 'os_distro'), 'debian');
    const upd = await glance(svc, P, ['image-update', '--name', 'patched', '--property', 'os_distro=ubuntu', '--property', 'extra=1', '--min-disk', '3', id]);
    assert.equal(upd.code, 0, upd.stderr);
    assert.equal(prop(upd.stdout, 'name'), 'patched');
    assert.equal(prop(upd.stdout, 'os_distro'), 'ubuntu');
    assert.equal(prop(upd.stdout, 'extra'), '1');
    assert.equal(prop(upd.stdout, 'min_disk'), '3');
    const rm = await glance(svc, P, ['image-update', '--remove-property', 'extra', id]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(prop(rm.stdout, 'extra'), undefined);
    const ro = await api(`${svc.imageUrl}/v2/images/${id}`, P, {
      method: 'PATCH',
      body: JSON.stringify([{ op: 'replace', path: '/status', value: 'active' }]),
      headers: { 'content-type': 'application/openstack-images-v2.1-json-patch' },
    });
    assert.equal(ro.status, 403);
    assert.equal((await glance(svc, P, ['image-delete', id])).code, 0);
  });
});
