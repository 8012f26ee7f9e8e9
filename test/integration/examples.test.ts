/**
 * The scripts in examples/, compiled (dist/examples/*.js), run as child
 * processes against the test cluster (CEPH_CONF), each checked for its
 * effect: what it prints, its exit status, what it leaves in the pools
 * (nothing), and for the sparse export, the same bytes as `rbd export`.
 */
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Image, Rbd } from '../../lib';
import { cli, cliBuffer, confFile, connect, repoRoot, uniqueName } from '../helpers/cluster';

const MiB = 1024 * 1024;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function example(name: string, args: string[] = [], env: NodeJS.ProcessEnv = { CEPH_CONF: confFile() }): Promise<Ran> {
  const script = path.join(repoRoot, 'dist', 'examples', `${name}.js`);
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env: { PATH: process.env.PATH, ...env }, maxBuffer: 16 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function field(out: string, key: string): string {
  const m = new RegExp(`^${key}\\s+(\\S+)`, 'm').exec(out);
  assert.ok(m, `no '${key}' line in:\n${out}`);
  return m[1];
}

describe('examples/', function () {
  this.timeout(180_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-examples-'));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('each example exits 2 with a message when CEPH_CONF is not set', async () => {
    for (const name of ['upload-image', 'clone-volume', 'sparse-export', 'http-service']) {
      const r = await example(name, [], {});
      assert.equal(r.code, 2, name);
      assert.match(r.stderr, /set CEPH_CONF/, name);
    }
  });

  describe('upload-image', () => {
    it('uploads a file as a Glance image, reads it back, and deletes it', async () => {
      const file = path.join(dir, 'upload.raw');
      const data = randomBytes(3 * MiB + 12345);
      writeFileSync(file, data);
      const r = await example('upload-image', [file]);
      assert.equal(r.code, 0, r.stderr);
      const location = field(r.stdout, 'location');
      assert.match(location, /^rbd:\/\/[0-9a-f-]{36}\/images\/[0-9a-f-]{36}\/snap$/);
      assert.equal(field(r.stdout, 'size'), String(data.length));
      assert.equal(field(r.stdout, 'checksum'), createHash('md5').update(data).digest('hex'));
      assert.equal(field(r.stdout, 'multihash'), createHash('sha512').update(data).digest('hex'));
      assert.match(r.stdout, /^read back matches$/m);
      assert.match(r.stdout, /^deleted /m);
      const id = location.split('/')[4];
      assert.ok(!(await cli('rbd', ['ls', 'images'])).split('\n').includes(id), 'the image was left behind');
    });

    it('with --keep leaves the image, with its protected snapshot, as Glance would', async () => {
      const file = path.join(dir, 'keep.raw');
      writeFileSync(file, randomBytes(MiB));
      const r = await example('upload-image', [file, '--keep']);
      assert.equal(r.code, 0, r.stderr);
      const id = field(r.stdout, 'location').split('/')[4];
      try {
        const snaps = JSON.parse(await cli('rbd', ['snap', 'ls', '--format', 'json', `images/${id}`])) as Array<{ name: string }>;
        assert.deepEqual(snaps.map((s) => s.name), ['snap']);
        assert.equal(await cliBuffer('rbd', ['export', `images/${id}@snap`, '-']).then((b) => b.equals(readFileSync(file))), true);
      } finally {
        await cli('rbd', ['snap', 'unprotect', `images/${id}@snap`]);
        await cli('rbd', ['snap', 'rm', `images/${id}@snap`]);
        await cli('rbd', ['rm', `images/${id}`]);
      }
    });
  });

  describe('clone-volume', () => {
    it('makes a volume from an image (COW clone) and a clone of it, then deletes all', async () => {
      const before = new Set([...(await cli('rbd', ['ls', 'rbd'])).split('\n'), ...(await cli('rbd', ['ls', 'images'])).split('\n')]);
      const r = await example('clone-volume');
      assert.equal(r.code, 0, r.stderr);
      const location = field(r.stdout, 'image');
      const imageId = location.split('/')[4];
      const volume = /^volume\s+rbd\/(volume-\S+) parent (\S+)$/m.exec(r.stdout);
      assert.ok(volume, r.stdout);
      assert.equal(volume[2], `images/${imageId}@snap`, 'the volume is a clone of the image snapshot');
      const clone = /^clone\s+rbd\/(volume-\S+) parent (\S+)$/m.exec(r.stdout);
      assert.ok(clone, r.stdout);
      assert.equal(clone[2], `rbd/${volume[1]}@${clone[1]}.clone_snap`, 'the clone hangs off <new>.clone_snap of the volume');
      const after = [...(await cli('rbd', ['ls', 'rbd'])).split('\n'), ...(await cli('rbd', ['ls', 'images'])).split('\n')];
      assert.deepEqual(after.filter((n) => !before.has(n) && (n.includes(imageId) || n.startsWith(volume[1]) || n.startsWith(clone[1]))), [], 'left behind');
    });
  });

  describe('sparse-export', () => {
    it('exports an image with holes to the same bytes as `rbd export`, as a sparse file', async () => {
      const name = uniqueName('sparse');
      await using cluster = await connect();
      await using ioctx = await cluster.openIoctx('rbd');
      await Rbd.create(ioctx, name, 32 * MiB, { order: 22 });
      try {
        {
          await using image = await Image.open(ioctx, name);
          await image.write(randomBytes(8192), 4096);
          await image.write(randomBytes(100_000), 9 * MiB + 7);
          await image.write(randomBytes(4096), 32 * MiB - 4096);
          await image.createSnap('s1');
          await image.write(randomBytes(4096), 20 * MiB); // after the snapshot: not in @s1
        }
        for (const spec of [`rbd/${name}`, `rbd/${name}@s1`]) {
          const out = path.join(dir, `${spec.replace(/[/@]/g, '_')}.raw`);
          const r = await example('sparse-export', [spec, out]);
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, new RegExp(`^exported ${spec} to `, 'm'));
          const ours = readFileSync(out);
          const theirs = await cliBuffer('rbd', ['export', spec, '-']);
          assert.equal(ours.length, 32 * MiB);
          assert.ok(ours.equals(theirs), `${spec}: the export differs from rbd export`);
          const st = statSync(out);
          assert.ok(st.blocks * 512 < 32 * MiB, `${spec}: the file is not sparse (${st.blocks * 512} bytes allocated)`);
        }
      } finally {
        const image = await Image.open(ioctx, name);
        await image.removeSnap('s1').finally(() => image.close());
        await Rbd.remove(ioctx, name);
      }
    });

    it('without arguments runs its self-check and removes its image', async () => {
      const r = await example('sparse-export');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^the export matches what was written$/m);
      const name = /^removed rbd\/(\S+)$/m.exec(r.stdout)?.[1];
      assert.ok(name, r.stdout);
      assert.ok(!(await cli('rbd', ['ls', 'rbd'])).split('\n').includes(name));
    });

    it('refuses a malformed image spec with exit status 2', async () => {
      const r = await example('sparse-export', ['no-pool-here', path.join(dir, 'x.raw')]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /usage: sparse-export/);
    });
  });

  it('http-service maps the error table to HTTP statuses over real requests (issue 19)', async () => {
    const script = path.join(repoRoot, 'dist', 'examples', 'http-service.js');
    const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH, CEPH_CONF: confFile() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const base = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        const m = /listening (http:\/\/\S+)/.exec(stdout);
        if (m) resolve(m[1]);
      });
      child.once('close', () => reject(new Error(`the service ended: ${stderr}`)));
    });
    const tag = uniqueName('http');
    const imageId = `${tag}-img`;
    const volId = `${tag}-vol`;
    const data = randomBytes(5000);
    type Answer = { status: number; headers: Headers; json: { error?: { code: string; retryable: boolean } } & Record<string, unknown>; body: Buffer };
    const call = async (method: string, p: string, body?: Buffer | object, headers: Record<string, string> = {}): Promise<Answer> => {
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      const r = await fetch(`${base}${p}`, { method, headers, ...(payload ? { body: payload } : {}) });
      const buf = Buffer.from(await r.arrayBuffer());
      let json = {};
      if ((r.headers.get('content-type') ?? '').includes('json')) json = JSON.parse(buf.toString()) as object;
      return { status: r.status, headers: r.headers, json: json as Answer['json'], body: buf };
    };
    const errCode = (a: Answer): string | undefined => a.json.error?.code;
    try {
      const put = await call('PUT', `/images/${imageId}`, data);
      assert.equal(put.status, 201, JSON.stringify(put.json));
      assert.equal(put.json.checksum, createHash('md5').update(data).digest('hex'));
      const dup = await call('PUT', `/images/${imageId}`, data);
      assert.deepEqual([dup.status, errCode(dup)], [409, 'ERR_GLANCE_DUPLICATE']);
      const bad = await call('PUT', `/images/${encodeURIComponent('a@b')}`, data);
      assert.deepEqual([bad.status, errCode(bad)], [400, 'ERR_INVALID_ARG_VALUE']);
      const wrongSum = await call('PUT', `/images/${imageId}-sum`, data, { 'x-checksum': '0'.repeat(32) });
      assert.deepEqual([wrongSum.status, errCode(wrongSum)], [400, 'ERR_GLANCE_INVALID']);
      const part = await call('GET', `/images/${imageId}`, undefined, { range: 'bytes=10-19' });
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(data.subarray(10, 20)));
      assert.equal(part.headers.get('content-range'), `bytes 10-19/${data.length}`);
      const missing = await call('GET', `/images/${tag}-nope`);
      assert.deepEqual([missing.status, errCode(missing)], [404, 'ERR_GLANCE_NOT_FOUND']);

      const vol = await call('POST', '/volumes', { id: volId, size: 1, imageId });
      assert.equal(vol.status, 201, JSON.stringify(vol.json));
      assert.equal(vol.json.parent, `images/${imageId}@snap`);
      const again = await call('POST', '/volumes', { id: volId, size: 1 });
      assert.deepEqual([again.status, errCode(again)], [409, 'ERR_CINDER_VOLUME_EXISTS']);
      const badVol = await call('POST', '/volumes', { id: 'bad/id', size: 1 });
      assert.deepEqual([badVol.status, errCode(badVol)], [400, 'ERR_INVALID_ARG_VALUE']);
      assert.equal((await call('GET', `/volumes/${tag}-none`)).status, 404);
      const snap = await call('POST', `/volumes/${volId}/snapshots`, { id: 's1' });
      assert.equal(snap.status, 201, JSON.stringify(snap.json));
      assert.equal(snap.json.protected, true);
      const refused = await call('DELETE', `/volumes/${volId}`);
      assert.deepEqual([refused.status, errCode(refused)], [409, 'ERR_CINDER_VOLUME_HAS_SNAPSHOTS']);
      const inUse = await call('DELETE', `/images/${imageId}`);
      assert.deepEqual([inUse.status, errCode(inUse), inUse.json.error?.retryable, inUse.headers.get('retry-after')], [409, 'ERR_GLANCE_IN_USE_BY_STORE', true, '30']);

      assert.equal((await call('DELETE', `/volumes/${volId}/snapshots/s1`)).status, 204);
      assert.equal((await call('DELETE', `/volumes/${volId}`)).status, 204);
      assert.equal((await call('DELETE', `/images/${imageId}`)).status, 204);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    }
    const cluster = await connect();
    try {
      for (const pool of ['images', 'rbd']) {
        await using io = await cluster.openIoctx(pool);
        assert.deepEqual((await Rbd.list(io)).filter((n) => n.includes(tag)), [], pool);
      }
    } finally {
      await cluster.shutdown();
    }
  });
});
