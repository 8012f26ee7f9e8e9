/**
 * `ceph-rbd serve` refusing bad input: malformed JSON, wrong types, negative
 * and oversized sizes, unknown microversions, traversal in ids, over quota
 * (413 as cinder prints it) — each a 4xx in the OpenStack error shape, and
 * nothing created (no record, nothing in the pool).
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { cli } from '../helpers/cluster';
import { api, cinder, glance, prop, type Service, startService, waitFor } from '../helpers/serve';

describe('serve: bad input and quotas', function () {
  this.timeout(180_000);
  let dir: string;
  let svc: Service;
  const P = `p${randomBytes(4).toString('hex')}`;
  let poolAtStart: string[];

  const volumesOf = async (project: string): Promise<Array<{ id: string; status: string }>> =>
    ((await api(`${svc.volumeUrl}/${project}/volumes/detail`, project)).body as { volumes: Array<{ id: string; status: string }> }).volumes;
  const rbdLs = async (pool: string): Promise<string[]> => (await cli('rbd', ['ls', pool])).split('\n').filter((l) => l !== '');

  /** `{"<kind>": {"code": status, "message": …}}` and the status. */
  function fault(r: { status: number; body: unknown }, status: number, kind: string, message?: RegExp): void {
    assert.equal(r.status, status, JSON.stringify(r.body));
    const b = r.body as Record<string, { code: number; message: string }>;
    assert.deepEqual(Object.keys(b), [kind], JSON.stringify(b));
    assert.equal(b[kind].code, status);
    assert.equal(typeof b[kind].message, 'string');
    if (message) assert.match(b[kind].message, message);
  }

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'serve-input-'));
    svc = await startService(path.join(dir, 'data'));
    poolAtStart = await rbdLs('rbd');
  });
  after(async () => {
    if (svc) assert.equal(await svc.stop(), 0, svc.stderr());
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses malformed and mistyped volume requests with 400 badRequest, creating nothing', async () => {
    const url = `${svc.volumeUrl}/${P}/volumes`;
    fault(await api(url, P, { method: 'POST', body: '{"volume": {"size": 1' }), 400, 'badRequest', /Malformed request body/);
    fault(await api(url, P, { method: 'POST', body: { volume: { size: '1' } } }), 400, 'badRequest', /size/);
    fault(await api(url, P, { method: 'POST', body: { volume: { size: -1 } } }), 400, 'badRequest', /size/);
    fault(await api(url, P, { method: 'POST', body: { volume: { size: 0 } } }), 400, 'badRequest', /size/);
    fault(await api(url, P, { method: 'POST', body: { volume: { size: 2 ** 40 } } }), 400, 'badRequest', /size/);
    fault(await api(url, P, { method: 'POST', body: { volume: { size: 1.5 } } }), 400, 'badRequest', /size/);
    fault(await api(url, P, { method: 'POST', body: { volume: {} } }), 400, 'badRequest', /size is required/);
    fault(await api(url, P, { method: 'POST', body: { volumes: { size: 1 } } }), 400, 'badRequest', /volume/);
    fault(await api(url, P, { method: 'POST', body: [1, 2] }), 400, 'badRequest');
    fault(await api(url, P, { method: 'POST', body: { volume: { size: 1, name: 42 } } }), 400, 'badRequest', /name/);
    fault(await api(url, P, { method: 'POST', body: { volume: { size: 1, snapshot_id: '../../etc' } } }), 400, 'badRequest', /snapshot_id/);
    fault(await api(url, P, { method: 'POST', body: { volume: { size: 1, snapshot_id: '00000000-0000-4000-8000-000000000000' } } }), 404, 'itemNotFound');
    fault(await api(url, P, { method: 'POST', body: { volume: { size: 1, volume_type: 'no-such-type' } } }), 404, 'itemNotFound');
    fault(await api(`${url}?limit=x`, P), 400, 'badRequest', /limit/);
    fault(await api(`${url}?sort=size:sideways`, P), 400, 'badRequest', /sort/);
    fault(await api(`${svc.volumeUrl}/${P}/volumes/..%2F..%2Fetc`, P), 404, 'itemNotFound');
    fault(await api(`${svc.volumeUrl}/${encodeURIComponent('../x')}/volumes`, P), 403, 'forbidden');
    fault(await api(`${svc.volumeUrl}/${P}/snapshots`, P, { method: 'POST', body: { snapshot: { volume_id: 'x/../y' } } }), 400, 'badRequest');
    assert.deepEqual(await volumesOf(P), []);
    assert.deepEqual(await rbdLs('rbd'), poolAtStart);
  });

  it('answers unknown and malformed microversions with 406 / 400', async () => {
    const url = `${svc.volumeUrl}/${P}/volumes`;
    fault(await api(url, P, { headers: { 'openstack-api-version': 'volume 3.99' } }), 406, 'notAcceptable', /3\.99 is not supported/);
    fault(await api(url, P, { headers: { 'openstack-api-version': 'volume 2.0' } }), 406, 'notAcceptable');
    fault(await api(url, P, { headers: { 'openstack-api-version': 'volume three' } }), 400, 'badRequest', /invalid format/);
    const ok = await api(url, P, { headers: { 'openstack-api-version': 'volume 3.70' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('openstack-api-version'), 'volume 3.70');
  });

  it('refuses bad image requests in the same shape', async () => {
    const url = `${svc.imageUrl}/v2/images`;
    const f = (r: { status: number; body: unknown }, status: number, kind: string) => {
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal((r.body as Record<string, { code: number }>)[kind]?.code, status, JSON.stringify(r.body));
    };
    f(await api(url, P, { method: 'POST', body: '{"name": ' }), 400, 'badRequest');
    f(await api(url, P, { method: 'POST', body: { disk_format: 'exe' } }), 400, 'badRequest');
    f(await api(url, P, { method: 'POST', body: { min_disk: -1 } }), 400, 'badRequest');
    f(await api(url, P, { method: 'POST', body: { id: '../../../etc/passwd' } }), 400, 'badRequest');
    f(await api(url, P, { method: 'POST', body: { status: 'active' } }), 403, 'forbidden');
    f(await api(url, P, { method: 'POST', body: { custom: 5 } }), 400, 'badRequest');
    f(await api(`${url}/..%2F..%2Fetc`, P), 404, 'itemNotFound');
    f(await api(`${url}/00000000-0000-4000-8000-000000000000/file`, P, { method: 'PUT', body: 'x', headers: { 'content-type': 'application/octet-stream' } }), 404, 'itemNotFound');
    assert.deepEqual(((await api(url, P)).body as { images: unknown[] }).images, []);
    // An upload whose data is shorter than announced: 400, the image killed, nothing in the pool.
    const created = await api(url, P, { method: 'POST', body: { name: 'short', disk_format: 'raw', container_format: 'bare' } });
    const id = (created.body as { id: string }).id;
    const short = await api(`${url}/${id}/file`, P, { method: 'PUT', body: JSON.stringify({}), headers: { 'content-type': 'application/json' } });
    f(short, 415, 'badMediaType');
    assert.equal(((await api(`${url}/${id}`, P)).body as { status: string }).status, 'queued');
    // The client announces 5000 bytes, sends 1000 and goes away: the image is killed, nothing stays in the pool.
    await new Promise<void>((resolve) => {
      const req = request(`${url}/${id}/file`, { method: 'PUT', headers: { 'x-auth-token': `u:${P}`, 'content-type': 'application/octet-stream', 'content-length': '5000' } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(1000, 1), () => setTimeout(() => {
        req.destroy();
        resolve();
      }, 300));
    });
    await waitFor(async () => ((await api(`${url}/${id}`, P)).body as { status: string }).status, (s) => s === 'killed');
    assert.ok(!(await rbdLs('images')).includes(id));
    const del = await api(`${url}/${id}`, P, { method: 'DELETE' });
    assert.equal(del.status, 204);
  });

  it('413 overLimit when a project is over its quota, as cinder and glance print it; nothing created', async () => {
    const Q = `${P}q`;
    const admin = (args: string[]) => cinder(svc, 'admin', args, 'admin');
    const set = await admin(['quota-update', '--volumes', '1', '--gigabytes', '3', Q]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(prop(set.stdout, 'volumes'), '1');
    // Only admin changes quotas.
    assert.notEqual((await cinder(svc, Q, ['quota-update', '--volumes', '5', Q])).code, 0);

    const big = await cinder(svc, Q, ['create', '4']);
    assert.notEqual(big.code, 0);
    assert.match(big.stdout + big.stderr, /exceeds allowed gigabytes quota.*\(HTTP 413\)/);
    const first = await cinder(svc, Q, ['create', '1']);
    assert.equal(first.code, 0, first.stderr);
    const id = prop(first.stdout, 'id')!;
    const second = await cinder(svc, Q, ['create', '1']);
    assert.notEqual(second.code, 0);
    assert.match(second.stdout + second.stderr, /Maximum number of volumes allowed \(1\) exceeded.*\(HTTP 413\)/);
    const usage = await cinder(svc, Q, ['quota-usage', Q]);
    assert.match(usage.stdout, /\|\s*volumes\s*\|\s*1\s*\|\s*0\s*\|\s*1\s*\|/);
    assert.equal((await volumesOf(Q)).length, 1);

    await waitFor(async () => (await volumesOf(Q))[0]?.status, (s) => s === 'available');
    assert.equal((await cinder(svc, Q, ['delete', id])).code, 0);
    await waitFor(() => volumesOf(Q), (v) => v.length === 0);
    // Usage was given back with the record.
    const again = await cinder(svc, Q, ['create', '1']);
    assert.equal(again.code, 0, again.stderr);
    const id2 = prop(again.stdout, 'id')!;
    await waitFor(async () => (await volumesOf(Q))[0]?.status, (s) => s === 'available');
    assert.equal((await cinder(svc, Q, ['delete', id2])).code, 0);
    await waitFor(() => volumesOf(Q), (v) => v.length === 0);

    // Images: 413 from glance too.
    const R = `${P}r`;
    assert.equal((await api(`${svc.volumeUrl}/admin/os-quota-sets/${R}`, 'admin', { method: 'PUT', body: { quota_set: { images: 0 } } })).status, 200);
    const img = await glance(svc, R, ['image-create', '--name', 'x', '--disk-format', 'raw', '--container-format', 'bare']);
    assert.notEqual(img.code, 0);
    assert.match(img.stdout + img.stderr, /413|Maximum number of images allowed \(0\) exceeded/);
  });
});
