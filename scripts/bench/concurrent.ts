/**
 * Part 5 of the bench: responsiveness with 8 uploads at once (issue 17,
 * part 3), on one store with a store-wide buffer budget (maxBufferedBytes).
 *
 * - in process: 8 concurrent GlanceStore.add() of the same file (each its
 *   own image), the JS thread's event-loop delay sampled meanwhile
 *   (perf_hooks.monitorEventLoopDelay, 10 ms resolution): p99 and max;
 * - over HTTP: a small server on the library in this process (PUT
 *   /<name> streams the request into add(), HEAD / answers at once), a
 *   client process making 8 PUTs of the file at once and a HEAD every
 *   20 ms while they run: the HEAD round-trip p99 as the client sees it.
 *
 * Every image is deleted afterwards. Figures are wall-clock, from one run each.
 */
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { GlanceStore } from '../../lib';
import type { BenchCluster } from './cluster';
import { MiB, secondsSince } from './stats';
import type { InputFile } from './upload';

export interface ConcurrentFigure {
  uploads: number;
  /** Bytes of each upload (a prefix of the input file). */
  uploadMiB: number;
  maxBufferedMiB: number;
  inProcess: { loopDelayP99Ms: number; loopDelayMaxMs: number; totalMibps: number; bufferedPeakMiB: number };
  http: { headP99Ms: number; headMedianMs: number; headMaxMs: number; heads: number; idleHeadP99Ms: number; totalMibps: number; bufferedPeakMiB: number } | null;
}

const UPLOADS = 8;
/** The budget: two chunks per upload at 8 MiB chunks (without it, 8 × (4 + 1) chunks). */
const BUDGET_MIB = 128;

/** The client side of the HTTP scenario, run as its own process: prints JSON. */
const CLIENT = String.raw`
const http = require('node:http');
const fs = require('node:fs');
const [port, file, bytes, uploads, idleMs] = process.argv.slice(1).map((v, i) => (i === 1 ? v : Number(v)));
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function head() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ port, method: 'HEAD', path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
    });
    req.on('error', reject);
    req.end();
  });
}
function put(name) {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, method: 'PUT', path: '/' + name, agent, headers: { 'content-length': bytes } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => (res.statusCode === 201 ? resolve(JSON.parse(body)) : reject(new Error(res.statusCode + ' ' + body))));
    });
    req.on('error', reject);
    fs.createReadStream(file, { end: bytes - 1, highWaterMark: 64 * 1024 }).pipe(req);
  });
}
async function probe(untilDone) {
  const out = [];
  while (!untilDone()) {
    out.push(await head());
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}
(async () => {
  const idleEnd = Date.now() + idleMs;
  const idle = await probe(() => Date.now() > idleEnd);
  let done = false;
  const t0 = process.hrtime.bigint();
  const puts = Promise.all(Array.from({ length: uploads }, (_, i) => put('bench-http-' + process.pid + '-' + i))).finally(() => (done = true));
  const busy = await probe(() => done);
  const results = await puts;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ idle, busy, seconds, locations: results.map((r) => r.location) }));
  agent.destroy();
})().catch((e) => { console.error(e); process.exit(1); });
`;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function openStore(cluster: BenchCluster): Promise<GlanceStore> {
  return GlanceStore.open({ pool: cluster.pool, confFile: cluster.confFile, connectTimeoutMs: 120_000, maxBufferedBytes: BUDGET_MIB * MiB });
}

async function inProcess(cluster: BenchCluster, input: InputFile, bytes: number): Promise<ConcurrentFigure['inProcess']> {
  const store = await openStore(cluster);
  const { createReadStream } = await import('node:fs');
  const h = monitorEventLoopDelay({ resolution: 10 });
  try {
    const t0 = process.hrtime.bigint();
    h.enable();
    const names = Array.from({ length: UPLOADS }, (_, i) => `bench-${process.pid}-conc-${i}`);
    // A path is read to its end: a prefix of the input goes as a file stream of that length.
    const results = await Promise.all(names.map((n) => store.add(n, bytes === input.bytes ? input.path : createReadStream(input.path, { end: bytes - 1 }), bytes)));
    h.disable();
    const seconds = secondsSince(t0);
    for (const r of results) await store.delete(r.location);
    return { loopDelayP99Ms: h.percentile(99) / 1e6, loopDelayMaxMs: h.max / 1e6, totalMibps: (UPLOADS * bytes) / MiB / seconds, bufferedPeakMiB: store.bufferedBytes.peak / MiB };
  } finally {
    await store.close();
  }
}

async function overHttp(cluster: BenchCluster, input: InputFile, bytes: number): Promise<NonNullable<ConcurrentFigure['http']>> {
  const store = await openStore(cluster);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    if (req.method !== 'PUT') {
      res.writeHead(405);
      res.end();
      return;
    }
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    store.add(name, req, Number(req.headers['content-length'] ?? 0)).then(
      (r) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify(r));
      },
      (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['-e', CLIENT, String(port), input.path, String(bytes), String(UPLOADS), '1000'], { maxBuffer: 16 * MiB }, (err, out, errOut) =>
        err ? reject(new Error(`http client: ${err.message} ${errOut}`)) : resolve(out),
      );
    });
    const r = JSON.parse(stdout) as { idle: number[]; busy: number[]; seconds: number; locations: string[] };
    for (const loc of r.locations) await store.delete(loc);
    return {
      headP99Ms: percentile(r.busy, 99),
      headMedianMs: percentile(r.busy, 50),
      headMaxMs: Math.max(...r.busy),
      heads: r.busy.length,
      idleHeadP99Ms: percentile(r.idle, 99),
      totalMibps: (UPLOADS * bytes) / MiB / r.seconds,
      bufferedPeakMiB: store.bufferedBytes.peak / MiB,
    };
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await store.close();
  }
}

/** Both scenarios; each upload sends `uploadMiB` (at most the input's size). */
export async function runConcurrent(cluster: BenchCluster, input: InputFile, uploadMiB: number, log: (line: string) => void): Promise<ConcurrentFigure> {
  const bytes = Math.min(input.bytes, uploadMiB * MiB);
  log(`concurrent: ${UPLOADS} uploads of ${bytes / MiB} MiB at once in this process (maxBufferedBytes ${BUDGET_MIB} MiB)`);
  const ip = await inProcess(cluster, input, bytes);
  log(`concurrent: event-loop delay p99 ${ip.loopDelayP99Ms.toFixed(1)} ms, max ${ip.loopDelayMaxMs.toFixed(1)} ms; ${ip.totalMibps.toFixed(0)} MiB/s in total`);
  log(`concurrent: ${UPLOADS} HTTP uploads from a client process, HEAD probes every 20 ms`);
  let http: ConcurrentFigure['http'] = null;
  try {
    http = await overHttp(cluster, input, bytes);
    log(`concurrent: HEAD p99 ${http.headP99Ms.toFixed(1)} ms under load (${http.heads} probes), ${http.idleHeadP99Ms.toFixed(1)} ms idle`);
  } catch (err) {
    log(`concurrent: HTTP scenario failed: ${(err as Error).message}`);
  }
  return { uploads: UPLOADS, uploadMiB: bytes / MiB, maxBufferedMiB: BUDGET_MIB, inProcess: ip, http };
}

/** The report's section. */
export function concurrentLines(c: ConcurrentFigure | undefined): string[] {
  if (!c) return [];
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const L = ['', `== 5. ${c.uploads} uploads at once (${c.uploadMiB} MiB each), one store, maxBufferedBytes ${c.maxBufferedMiB} MiB ==`];
  const ip = c.inProcess;
  L.push(`in process: event-loop delay p99 ${f(ip.loopDelayP99Ms)} ms, max ${f(ip.loopDelayMaxMs)} ms; ${f(ip.totalMibps)} MiB/s in total; buffers peak ${f(ip.bufferedPeakMiB)} MiB`);
  if (c.http) {
    const h = c.http;
    L.push(`over HTTP: HEAD p99 ${f(h.headP99Ms)} ms (median ${f(h.headMedianMs)}, max ${f(h.headMaxMs)}, ${h.heads} probes; idle p99 ${f(h.idleHeadP99Ms)} ms); ${f(h.totalMibps)} MiB/s in total; buffers peak ${f(h.bufferedPeakMiB)} MiB`);
  } else {
    L.push('over HTTP: not measured (see the log)');
  }
  L.push('wall-clock figures from one run of each scenario (not medians).');
  return L;
}
