/**
 * The benchmark's smallest case (`--smoke`: 16 MiB, one repetition of every
 * part) against the test cluster, so the bench cannot rot. It asserts that
 * the run completes and every checksum is right, never a speed.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Rbd } from '../../lib';
import { confFile, connect, repoRoot } from '../helpers/cluster';
import type { BenchResults } from '../../scripts/bench/report';

describe('bench (npm run bench -- --smoke)', function () {
  this.timeout(300_000);
  let out: string;
  let results: BenchResults;
  let stdout: string;

  before(async () => {
    out = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-bench-test-'));
    const script = path.join(repoRoot, 'dist', 'scripts', 'bench', 'run.js');
    stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [script, '--smoke', '--out', out, '--pool', 'images'],
        { env: { ...process.env, CEPH_CONF: confFile() }, maxBuffer: 16 << 20, timeout: 280_000 },
        (err, so, se) => (err ? reject(new Error(`bench failed: ${err.message}\n${se}`)) : resolve(so)),
      );
    });
    const json = readdirSync(out).find((f) => f.endsWith('-smoke.json'));
    assert.ok(json, `no results JSON in ${out}: ${readdirSync(out).join(', ')}`);
    results = JSON.parse(readFileSync(path.join(out, json), 'utf8')) as BenchResults;
  });

  after(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('measures every part and prints every ratio and target', () => {
    assert.equal(results.mode, 'smoke');
    assert.ok(results.upload && results.download && results.smallio && results.overhead && results.memory);
    for (const heading of ['1. Upload', '1b. Download', '2. Small I/O', '3. Per-call overhead', '4. Memory', 'Targets']) assert.ok(stdout.includes(heading), heading);
    const ids = results.targets.map((t) => t.id);
    for (const id of ['upload-vs-glance', 'upload-vs-import', 'download-vs-rbd-export', 'randwrite-qd32', 'rss-defaults-known', 'rss-defaults-unknown']) assert.ok(ids.includes(id), `no target ${id}: ${ids.join(', ')}`);
    for (const t of results.targets) assert.ok(Number.isFinite(t.value), `${t.id} has no value`);
    // Part 5: 8 uploads at once, in process and over HTTP, within the store's buffer budget.
    assert.ok(results.concurrent, 'no concurrent part');
    assert.ok(stdout.includes('5. 8 uploads at once'));
    for (const id of ['loop-delay-8-uploads', 'head-p99-8-http-uploads', 'store-buffers-in-budget']) assert.ok(ids.includes(id), `no target ${id}: ${ids.join(', ')}`);
    assert.equal(results.targets.find((t) => t.id === 'store-buffers-in-budget')?.met, true);
    assert.match(stdout, /\/Glance way \(JS\)/);
    assert.match(stdout, /^CPU: .*md5 \d+ MiB\/s, sha512 \d+ MiB\/s per CPU second$/m);
    assert.ok(readdirSync(out).some((f) => f.endsWith('-smoke.svg')));
  });

  it('verifies every upload against the input file', () => {
    const u = results.upload;
    assert.ok(u);
    const kinds = new Set([...u.ours, ...u.peers].map((f) => f.kind));
    for (const k of ['ours', 'glance-way', 'rbd-import', 'rbd-bench']) assert.ok(kinds.has(k as never), `no ${k} run`);
    assert.ok(u.ours.some((f) => f.hashOn === 'js'), 'no JS-hashing run');
    for (const f of [...u.ours, ...u.peers]) {
      if (f.kind !== 'rbd-import' && f.kind !== 'rbd-bench') assert.equal(f.checksumsOk, true, `${f.kind} ${f.chunkMiB} MiB c=${f.concurrency}`);
      assert.ok(f.mibps.median > 0);
    }
    // The first run of each kind was read back and compared with the file.
    assert.equal(u.ours.find((f) => f.readbackOk !== undefined)?.readbackOk, true);
    assert.equal(u.peers.find((f) => f.kind === 'glance-way')?.readbackOk, true);
    assert.equal(u.peers.find((f) => f.kind === 'rbd-import')?.readbackOk, true);
    assert.match(results.input.md5, /^[0-9a-f]{32}$/);
    for (const m of results.memory?.runs ?? []) assert.equal(m.checksumsOk, true);
  });

  it('skips the real glance_store peer in smoke mode, saying why', () => {
    assert.deepEqual(results.realPeer, { available: false, note: 'smoke mode' });
    assert.match(stdout, /real peer \(glance_store\): skipped: smoke mode/);
    assert.ok(!results.upload?.peers.some((f) => f.kind === 'glance-store'));
    assert.ok(!results.download?.runs.some((f) => f.kind === 'glance-store'));
    assert.ok(!results.targets.some((t) => t.id.endsWith('glance-store')));
  });

  it('times the fixed part of ours apart from the streaming part', () => {
    const d = results.defaults;
    const ours = results.upload?.ours.find((f) => f.chunkMiB === d.chunkMiB && f.concurrency === d.concurrency && f.hashOn === 'native');
    assert.ok(ours?.steps, 'no steps for ours at the defaults');
    for (const k of ['setup', 'data', 'finish'] as const) assert.ok(Number.isFinite(ours.steps[k].median) && ours.steps[k].median >= 0, `${k}: ${ours.steps[k].median}`);
    // data and finish come from the store's log line in whole milliseconds
    assert.ok(ours.steps.data.median + ours.steps.finish.median <= ours.seconds.median + 0.005);
    assert.match(stdout, /Fixed per-upload cost/);
  });

  it('reads the download with ours and rbd export', () => {
    const kinds = (results.download?.runs ?? []).map((f) => f.kind).sort();
    assert.deepEqual(kinds, ['ours', 'rbd-export']);
    for (const f of results.download?.runs ?? []) assert.ok(f.mibps.median > 0, f.kind);
  });

  it('leaves no image behind in the pool', async () => {
    await using cluster = await connect();
    await using ioctx = await cluster.openIoctx('images');
    const left = (await Rbd.list(ioctx)).filter((n) => n.startsWith('bench-'));
    assert.deepEqual(left, []);
  });
});
