/**
 * `ceph-rbd serve` against the library it wraps, on one cluster:
 *   - image upload throughput: GlanceStore.add() directly vs PUT
 *     /v2/images/{id}/file to a running service (same bytes, same store options);
 *   - volume create+delete: N concurrent creates, each deleted when available,
 *     through the API; completed create+delete pairs per second, and API
 *     requests per second.
 *
 *   node dist/scripts/serve-bench.js [--mib 256] [--rounds 3] [--volumes 50]   (CEPH_CONF = the cluster; pools rbd and images)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';

import { GlanceStore } from '../lib/glance/store';

const MiB = 1024 * 1024;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : Number(process.argv[i + 1]);
}

/** `mib` MiB of incompressible data from one 4 MiB random block. */
function source(mib: number): Readable {
  const block = randomBytes(4 * MiB);
  let left = mib / 4;
  return new Readable({
    read() {
      this.push(left-- > 0 ? block : null);
    },
  });
}

async function startService(dataDir: string): Promise<{ volumeUrl: string; imageUrl: string; stop(): Promise<void> }> {
  const bin = path.join(__dirname, '..', 'lib', 'cli', 'main.js');
  const proc = spawn(process.execPath, [bin, 'serve', '--data-dir', dataDir, '--volume-port', '0', '--image-port', '0', '--volume-pool', 'rbd'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) resolve(out);
    });
    proc.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  const m = /volume=(\S+) image=(\S+)/.exec(line)!;
  return {
    volumeUrl: m[1],
    imageUrl: m[2],
    stop: () =>
      new Promise((resolve) => {
        proc.removeAllListeners('exit');
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

async function json(url: string, method = 'GET', body?: unknown, token = 'bench:bench'): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url, { method, headers: { 'x-auth-token': token, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function put(url: string, data: Readable, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'x-auth-token': 'bench:bench', 'content-type': 'application/octet-stream', 'content-length': String(size) } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    data.pipe(req);
  });
}

async function uploads(imageUrl: string, mib: number, rounds: number): Promise<{ library: number[]; api: number[] }> {
  const store = await GlanceStore.open({ pool: 'images', thinProvisioning: true });
  const out = { library: [] as number[], api: [] as number[] };
  try {
    for (let r = 0; r < rounds; r++) {
      const id = crypto.randomUUID();
      let t = process.hrtime.bigint();
      const added = await store.add(id, source(mib), mib * MiB);
      out.library.push(mib / (Number(process.hrtime.bigint() - t) / 1e9));
      await store.delete(added.location);

      const created = await json(`${imageUrl}/v2/images`, 'POST', { name: 'bench', disk_format: 'raw', container_format: 'bare' });
      const iid = created.body.id as string;
      t = process.hrtime.bigint();
      const status = await put(`${imageUrl}/v2/images/${iid}/file`, source(mib), mib * MiB);
      out.api.push(mib / (Number(process.hrtime.bigint() - t) / 1e9));
      if (status !== 204) throw new Error(`upload answered ${status}`);
      await json(`${imageUrl}/v2/images/${iid}`, 'DELETE');
    }
  } finally {
    await store.close();
  }
  return out;
}

async function volumes(volumeUrl: string, n: number): Promise<{ pairsPerSec: number; requestsPerSec: number }> {
  const q = await json(`${volumeUrl}/admin/os-quota-sets/bench`, 'PUT', { quota_set: { volumes: n * 2, gigabytes: n * 2 } }, 'admin:admin');
  if (q.status !== 200) throw new Error(`quota update answered ${q.status}`);
  let requests = 0;
  const t = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: n }, async () => {
      const c = await json(`${volumeUrl}/bench/volumes`, 'POST', { volume: { size: 1 } });
      requests++;
      const id = (c.body.volume as { id: string }).id;
      for (;;) {
        const s = await json(`${volumeUrl}/bench/volumes/${id}`);
        requests++;
        if ((s.body.volume as { status: string }).status !== 'creating') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await json(`${volumeUrl}/bench/volumes/${id}`, 'DELETE');
      requests++;
      for (;;) {
        const s = await json(`${volumeUrl}/bench/volumes/${id}`);
        requests++;
        if (s.status === 404) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }),
  );
  const sec = Number(process.hrtime.bigint() - t) / 1e9;
  return { pairsPerSec: n / sec, requestsPerSec: requests / sec };
}

async function main(): Promise<void> {
  const mib = arg('mib', 256);
  const rounds = arg('rounds', 3);
  const n = arg('volumes', 50);
  const dir = mkdtempSync(path.join(tmpdir(), 'serve-bench-'));
  const svc = await startService(dir);
  try {
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const up = await uploads(svc.imageUrl, mib, rounds);
    const lib = median(up.library);
    const viaApi = median(up.api);
    const vol = await volumes(svc.volumeUrl, n);
    const result = {
      uploadMiB: mib,
      rounds,
      libraryMiBps: Number(lib.toFixed(1)),
      apiMiBps: Number(viaApi.toFixed(1)),
      apiCostPercent: Number((((lib - viaApi) / lib) * 100).toFixed(1)),
      volumes: n,
      createDeletePairsPerSec: Number(vol.pairsPerSec.toFixed(1)),
      apiRequestsPerSec: Number(vol.requestsPerSec.toFixed(1)),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
