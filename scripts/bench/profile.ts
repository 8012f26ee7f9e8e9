/**
 * Where an upload's time goes: CPU seconds per GiB by thread, for the client
 * and for the OSD, and what hashing alone costs. A companion to run.ts for
 * docs/PERFORMANCE.md; run it under `node --cpu-prof` or `perf record` for
 * function-level detail.
 *
 *   node dist/scripts/bench/profile.js [--size MiB] [--chunk MiB] [--concurrency N]
 *        [--reps N] [--modes hash,ours,js,glance,import,smallio] [--ops N]
 *
 * Uses CEPH_CONF when set, else starts its own micro cluster.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { addon } from '../../lib/native';
import { openCluster } from './cluster';
import { threadCpu, threadDelta } from './cpu';
import { MiB, median, secondsSince } from './stats';
import { SmallIoBench } from './smallio';
import { makeInput, UploadBench } from './upload';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Single-thread node:crypto and native-hasher throughput over `mib` MiB. */
async function hashing(mib: number): Promise<void> {
  const buf = Buffer.alloc(8 * MiB, 7);
  const n = Math.max(1, Math.round(mib / 8));
  for (const algo of ['md5', 'sha512', 'sha256', 'sha1']) {
    const h = createHash(algo);
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) h.update(buf);
    h.digest();
    const s = secondsSince(t0);
    const c = process.cpuUsage(c0);
    say(`  node:crypto ${algo.padEnd(6)} ${(n * 8 / s).toFixed(0).padStart(5)} MiB/s  (${(((c.user + c.system) / 1e6 / (n * 8)) * 1024).toFixed(2)} CPU s/GiB)`);
  }
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const h = addon.createHasher(['md5', 'sha512']);
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) pending.push(h.update(buf));
  await Promise.all(pending);
  await h.digest();
  const s = secondsSince(t0);
  const c = process.cpuUsage(c0);
  say(`  native md5+sha512 (two lanes, worker threads) ${(n * 8 / s).toFixed(0)} MiB/s wall, ${(((c.user + c.system) / 1e6 / (n * 8)) * 1024).toFixed(2)} CPU s/GiB`);
}

function printThreads(title: string, delta: Map<string, number>, gib: number): void {
  const rows = [...delta].sort((a, b) => b[1] - a[1]).filter(([, v]) => v / gib >= 0.02);
  const total = [...delta.values()].reduce((a, b) => a + b, 0);
  say(`  ${title}: ${(total / gib).toFixed(2)} CPU s/GiB — ${rows.map(([k, v]) => `${k} ${(v / gib).toFixed(2)}`).join(', ')}`);
}

/** Runs `cmd` and polls its threads' CPU until it exits (the last sample counts). */
function runPolled(cmd: string, args: string[]): Promise<{ seconds: number; threads: Map<string, number> }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    let last = new Map<string, number>();
    const timer = setInterval(() => {
      const now = threadCpu(child.pid ?? 0);
      if (now.size > 0) last = now;
    }, 20);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) reject(new Error(`${cmd} exited with ${code}`));
      else resolve({ seconds: secondsSince(t0), threads: last });
    });
  });
}

async function main(): Promise<void> {
  const sizeMiB = Number(arg('size', '512'));
  const chunk = Number(arg('chunk', '8'));
  const conc = Number(arg('concurrency', '8'));
  const reps = Number(arg('reps', '3'));
  const modes = arg('modes', 'hash,ours,js,glance,import').split(',');
  say(`profile: ${sizeMiB} MiB, ${chunk} MiB chunks, concurrency ${conc}, ${reps} reps; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (modes.includes('hash')) {
    say('hashing alone (one core):');
    await hashing(Math.min(sizeMiB, 512));
  }
  const work = mkdtempSync(path.join(os.tmpdir(), 'ceph-rbd-profile-'));
  const cluster = await openCluster({ dir: path.join(work, 'cluster'), memstoreBytes: Math.ceil(sizeMiB / 0.8 + 512) * MiB, pool: 'images', log: (l) => say(`  ${l}`) });
  const bench = new UploadBench(cluster, await makeInput(path.join(work, 'input.bin'), sizeMiB * MiB));
  const gib = sizeMiB / 1024;
  try {
    const osd = cluster.daemonPids().filter((pid) => threadCpu(pid).size > 0);
    const measure = async (label: string, fn: () => Promise<{ mibps: number; clientThreads?: Map<string, number> }>) => {
      const rates: number[] = [];
      let client = new Map<string, number>();
      let daemons = new Map<string, number>();
      for (let r = 0; r < reps; r++) {
        const c0 = threadCpu(process.pid);
        const d0 = osd.map(threadCpu);
        const res = await fn();
        rates.push(res.mibps);
        if (r === reps - 1) {
          client = res.clientThreads ?? threadDelta(c0, threadCpu(process.pid));
          daemons = new Map();
          osd.forEach((pid, i) => {
            for (const [k, v] of threadDelta(d0[i], threadCpu(pid))) daemons.set(k, (daemons.get(k) ?? 0) + v);
          });
        }
      }
      say(`${label}: ${median(rates).toFixed(0)} MiB/s (median of ${reps}: ${rates.map((x) => x.toFixed(0)).join(' ')})`);
      printThreads('client', client, gib);
      printThreads('cluster daemons', daemons, gib);
    };
    if (modes.includes('ours')) await measure(`ours native c=${conc}`, async () => bench.ours(chunk, conc, 'native', false));
    if (modes.includes('js')) await measure(`ours js c=${conc}`, async () => bench.ours(chunk, conc, 'js', false));
    if (modes.includes('glance')) await measure('glance-way', async () => bench.glanceWay(chunk, false));
    if (modes.includes('import')) {
      await measure('rbd import', async () => {
        const name = `profile-import-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
        const r = await runPolled('rbd', ['--conf', cluster.confFile, '--rbd_cache=false', 'import', '--no-progress', '--image-format', '2', '--object-size', String(chunk * MiB), path.join(work, 'input.bin'), `${cluster.pool}/${name}`]);
        await runPolled('rbd', ['--conf', cluster.confFile, 'rm', '--no-progress', `${cluster.pool}/${name}`]);
        return { mibps: sizeMiB / r.seconds, clientThreads: threadDelta(new Map(), r.threads) };
      });
    }
    if (modes.includes('smallio')) {
      const ops = Number(arg('ops', '20000'));
      const small = new SmallIoBench(cluster, 256 * MiB);
      await small.prepare();
      try {
        const perOp = (label: string, d: Map<string, number>) => {
          const rows = [...d].sort((a, b) => b[1] - a[1]).filter(([, v]) => (v / ops) * 1e6 >= 2);
          const total = [...d.values()].reduce((a, b) => a + b, 0);
          say(`  ${label}: ${((total / ops) * 1e6).toFixed(0)} CPU µs/op — ${rows.map(([k, v]) => `${k} ${((v / ops) * 1e6).toFixed(0)}`).join(', ')}`);
        };
        for (let r = 0; r < reps; r++) {
          for (const who of ['ours', 'rbd bench'] as const) {
            await small.fresh();
            const c0 = threadCpu(process.pid);
            const d0 = osd.map(threadCpu);
            let iops: number;
            let client: Map<string, number>;
            if (who === 'ours') {
              iops = (await small.ours('randwrite', 32, ops)).iops;
              client = threadDelta(c0, threadCpu(process.pid));
            } else {
              const t = await runPolled('rbd', ['--conf', cluster.confFile, '--rbd_cache=false', 'bench', '--io-type', 'write', '--io-size', '4096', '--io-threads', '32', '--io-pattern', 'rand', '--io-total', String(ops * 4096), `${cluster.pool}/${small.name}`]);
              iops = ops / t.seconds;
              client = threadDelta(new Map(), t.threads);
            }
            const daemons = new Map<string, number>();
            osd.forEach((pid, i) => {
              for (const [k, v] of threadDelta(d0[i], threadCpu(pid))) daemons.set(k, (daemons.get(k) ?? 0) + v);
            });
            say(`4K randwrite QD32 ${who}: ${iops.toFixed(0)} IOPS${who === 'rbd bench' ? ' (whole process time)' : ''}`);
            perOp('client', client);
            perOp('cluster daemons', daemons);
          }
        }
      } finally {
        await small.close();
      }
    }
  } finally {
    await bench.close();
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
