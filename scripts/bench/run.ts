/**
 * `npm run bench [-- options]`: this library against its peers, in one run,
 * on one cluster and one input file (issues 6 and 17). Prints a table on stdout,
 * writes scripts/bench/results/<date>[-mode].json and .svg. Progress goes to stderr.
 *
 *   --quick            128 MiB, 8 MiB chunks at concurrency 1/4/8, 3 reps,
 *                      short small-I/O runs, 256 MiB memory run
 *   --smoke            the smallest case, for CI: 16 MiB, 1 rep
 *   --size MiB         input file size (default 1024)
 *   --reps N           repetitions per figure (default 3; the median is reported)
 *   --chunks 4,8,16    chunk sizes in MiB
 *   --concurrency 1,2,4,8,16
 *   --memory-size MiB  the streamed upload of part 4 (default 2048)
 *   --pool NAME        pool to use (default images)
 *   --only upload,download,smallio,overhead,memory,concurrent
 *   --concurrent-size MiB  each of the 8 concurrent uploads of part 5 (default 128; quick 32)
 *   --out DIR          where results go (default scripts/bench/results)
 *
 * The real peer, Debian's glance_store RBD driver (python3-glance-store),
 * runs in the upload and download parts when /usr/bin/python3 can import
 * it; when it cannot, the bench installs the package with apt-get (as
 * root). Smoke mode skips it (with the reason printed).
 *
 * Without CEPH_CONF it starts (and stops) its own micro cluster with enough
 * memstore for the run; with CEPH_CONF it uses that cluster.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { GlanceStore } from '../../lib';
import { openCluster, repoRoot, type BenchCluster } from './cluster';
import type { CpuUse } from './cpu';
import { dataMd5, runMemory, type MemoryRun } from './memory';
import { OverheadBench, type CallKind } from './overhead';
import { DownloadBench, type DownloadRun } from './download';
import { ensureGlanceStore, glanceStoreVersions, pythonPeerAvailable } from './peers';
import {
  bestAt,
  chart,
  judge,
  memoryTargetMiB,
  table,
  type BenchResults,
  type CallFigure,
  type CpuFigures,
  type DownloadFigure,
  type RealPeer,
  type StepFigures,
  type MemoryFigure,
  type SmallFigure,
  type UploadFigure,
} from './report';
import { concurrentLines, runConcurrent } from './concurrent';
import { SmallIoBench, type SmallOp, type SmallRun } from './smallio';
import { MiB, roundDeep, secondsSince, summarize } from './stats';
import { hashSpeed, makeInput, UploadBench, type InputFile, type UploadRun } from './upload';

type Phase = 'upload' | 'download' | 'smallio' | 'overhead' | 'memory' | 'concurrent';
const PHASES: Phase[] = ['upload', 'download', 'smallio', 'overhead', 'memory', 'concurrent'];

interface Options {
  mode: BenchResults['mode'];
  sizeMiB: number;
  reps: number;
  chunks: number[];
  concurrency: number[];
  memoryMiB: number;
  concurrentMiB: number;
  pool: string;
  phases: Phase[];
  outDir: string;
  smallImageMiB: number;
  smallOps: { qd1: number; qd32: number };
  callSeconds: number;
}

const USAGE = readFileSync(__filename, 'utf8').match(/\/\*\*([\s\S]*?)\*\//)?.[1].replace(/^ \* ?/gm, '') ?? '';

function parseArgs(argv: string[]): Options {
  const o: Options = {
    mode: 'full',
    sizeMiB: 1024,
    reps: 3,
    chunks: [4, 8, 16],
    concurrency: [1, 2, 4, 8, 16],
    memoryMiB: 2048,
    concurrentMiB: 128,
    pool: 'images',
    phases: [...PHASES],
    outDir: path.join(repoRoot, 'scripts', 'bench', 'results'),
    smallImageMiB: 256,
    smallOps: { qd1: 2000, qd32: 20000 },
    callSeconds: 1,
  };
  const set: Partial<Record<string, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === '--quick' || a === '--smoke') {
      set.mode = a.slice(2);
    } else if (['--size', '--reps', '--chunks', '--concurrency', '--memory-size', '--concurrent-size', '--pool', '--only', '--out'].includes(a)) {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      set[a.slice(2)] = v;
    } else {
      throw new Error(`unknown argument ${a} (see --help)`);
    }
  }
  if (set.mode === 'quick') {
    Object.assign(o, { mode: 'quick', sizeMiB: 128, chunks: [8], concurrency: [1, 4, 8], memoryMiB: 256, concurrentMiB: 32, smallImageMiB: 64, smallOps: { qd1: 300, qd32: 3000 }, callSeconds: 0.3 });
  } else if (set.mode === 'smoke') {
    Object.assign(o, { mode: 'smoke', sizeMiB: 16, reps: 1, chunks: [8], concurrency: [1, 4], memoryMiB: 32, concurrentMiB: 4, smallImageMiB: 16, smallOps: { qd1: 50, qd32: 500 }, callSeconds: 0.1 });
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${v}`);
    return n;
  };
  const list = (name: string, v: string) => v.split(',').map((x) => int(name, x.trim(), 1));
  if (set.size !== undefined) o.sizeMiB = int('size', set.size, 1);
  if (set.reps !== undefined) o.reps = int('reps', set.reps, 1);
  if (set.chunks !== undefined) o.chunks = list('chunks', set.chunks);
  if (set.concurrency !== undefined) o.concurrency = list('concurrency', set.concurrency);
  if (set['memory-size'] !== undefined) o.memoryMiB = int('memory-size', set['memory-size'], 1);
  if (set['concurrent-size'] !== undefined) o.concurrentMiB = int('concurrent-size', set['concurrent-size'], 1);
  if (set.pool !== undefined) o.pool = set.pool;
  if (set.out !== undefined) o.outDir = path.resolve(set.out);
  if (set.only !== undefined) {
    const ph = set.only.split(',').map((x) => x.trim());
    for (const p of ph) if (!PHASES.includes(p as Phase)) throw new Error(`--only: unknown phase ${p} (${PHASES.join(', ')})`);
    o.phases = ph as Phase[];
  }
  // A full run at another --size or --memory-size is still a full run (the
  // size is in the results); a changed sweep, fewer reps or phases are 'custom'.
  const fullShape = o.reps >= 3 && o.phases.length === PHASES.length && o.chunks.join() === '4,8,16' && o.concurrency.join() === '1,2,4,8,16';
  if (o.mode === 'full' && !fullShape) o.mode = 'custom';
  if (o.mode !== 'full' && [set.reps, set.chunks, set.concurrency, set.only].some((v) => v !== undefined)) o.mode = 'custom';
  o.smallImageMiB = Math.min(o.smallImageMiB, Math.max(16, o.sizeMiB));
  return o;
}

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function cpuFigures(cpus: CpuUse[]): CpuFigures {
  return {
    clientCpuS: summarize(cpus.map((c) => c.client)),
    clusterCpuS: summarize(cpus.map((c) => c.cluster)),
    machineCpuS: summarize(cpus.map((c) => c.machine)),
  };
}

function stepFigures(runs: UploadRun[]): StepFigures | undefined {
  if (runs.some((x) => x.steps === undefined)) return undefined;
  const pick = (k: 'connect' | 'setup' | 'data' | 'finish') => summarize(runs.map((x) => x.steps?.[k] ?? Number.NaN));
  return { connect: pick('connect'), setup: pick('setup'), data: pick('data'), finish: pick('finish') };
}

function uploadFigure(runs: UploadRun[]): UploadFigure {
  const f = runs[0];
  const steps = stepFigures(runs);
  const checks = runs.map((x) => x.checksumOk).filter((x) => x !== undefined);
  const reads = runs.map((x) => x.readbackOk).filter((x) => x !== undefined);
  return {
    kind: f.kind,
    chunkMiB: f.chunkMiB,
    ...(f.concurrency !== undefined ? { concurrency: f.concurrency } : {}),
    ...(f.hashOn !== undefined ? { hashOn: f.hashOn } : {}),
    mibps: summarize(runs.map((x) => x.mibps)),
    seconds: summarize(runs.map((x) => x.seconds)),
    ...(f.wallSeconds !== undefined ? { wallSeconds: summarize(runs.map((x) => x.wallSeconds ?? Number.NaN)) } : {}),
    ...(f.kind === 'rbd-import' ? { wallMibps: summarize(runs.map((x) => x.mibps * (x.seconds / (x.wallSeconds ?? x.seconds)))) } : {}),
    ...cpuFigures(runs.map((x) => x.cpu)),
    ...(checks.length > 0 ? { checksumsOk: checks.every(Boolean) } : {}),
    ...(reads.length > 0 ? { readbackOk: reads.every(Boolean) } : {}),
    ...(steps ? { steps } : {}),
  };
}

/** Ours and peers alternate (A B A B …); odd repetitions run the list backwards. */
function interleave<T>(ours: T[], peers: T[]): T[] {
  const out: T[] = [];
  const n = Math.max(ours.length, peers.length);
  for (let i = 0; i < n; i++) {
    if (i < ours.length) out.push(ours[i]);
    if (i < peers.length) out.push(peers[i]);
  }
  return out;
}

async function uploadPhase(o: Options, cluster: BenchCluster, bench: UploadBench, defaults: { chunkMiB: number; concurrency: number }, real: boolean): Promise<NonNullable<BenchResults['upload']>> {
  const py = pythonPeerAvailable();
  if (!py.ok) log(`python peer skipped: ${py.reason}`);
  // What hashing alone costs here: the bound of any upload that hashes one stream.
  const hashing = [0, 1, 2].map(() => hashSpeed(Math.min(256, o.sizeMiB * 2)));
  const hashFig = ['md5', 'sha512'].map((algo) => ({
    algo,
    mibPerCpuSecond: summarize(hashing.map((h) => h.find((x) => x.algo === algo)?.mibPerCpuSecond ?? Number.NaN)),
    mibps: summarize(hashing.map((h) => h.find((x) => x.algo === algo)?.mibps ?? Number.NaN)),
  }));
  log(`hashing alone: ${hashFig.map((h) => `${h.algo} ${h.mibPerCpuSecond.median.toFixed(0)} MiB per CPU second`).join(', ')}`);
  const runs = new Map<string, UploadRun[]>();
  const startup: number[] = [];
  const record = (key: string, r: UploadRun) => {
    if (!runs.has(key)) runs.set(key, []);
    runs.get(key)?.push(r);
  };
  // JS hashing (as Glance does) at the default chunk size: lowest, default and highest concurrency.
  const jsChunk = o.chunks.includes(defaults.chunkMiB) ? defaults.chunkMiB : o.chunks[0];
  const jsConc = [o.concurrency[0], defaults.concurrency, o.concurrency[o.concurrency.length - 1]];
  const readbackDone = new Set<string>();
  const readback = (kind: string) => {
    if (readbackDone.has(kind)) return false;
    readbackDone.add(kind);
    return true;
  };
  for (let rep = 0; rep < o.reps; rep++) {
    type Case = { key: string; label: string; run: () => Promise<UploadRun> };
    const cases: Case[] = [];
    cases.push({
      key: 'startup',
      label: 'rbd ls (CLI start)',
      run: async () => {
        startup.push(await bench.rbdStartup());
        return null as unknown as UploadRun;
      },
    });
    const medianStartup = () => [...startup].sort((a, b) => a - b)[startup.length >> 1] ?? 0;
    for (const chunk of o.chunks) {
      const ours: Case[] = [];
      for (const c of o.concurrency) {
        ours.push({ key: `ours/${chunk}/${c}/native`, label: `ours ${chunk} MiB c=${c} native`, run: () => bench.ours(chunk, c, 'native', readback('ours')) });
        if (chunk === jsChunk && jsConc.includes(c)) ours.push({ key: `ours/${chunk}/${c}/js`, label: `ours ${chunk} MiB c=${c} js`, run: () => bench.ours(chunk, c, 'js', false) });
      }
      const peers: Case[] = [
        { key: `glance-way/${chunk}`, label: `glance-way ${chunk} MiB`, run: () => bench.glanceWay(chunk, readback('glance-way')) },
        { key: `rbd-import/${chunk}`, label: `rbd import ${chunk} MiB`, run: () => bench.rbdImport(chunk, medianStartup(), readback('rbd-import')) },
        { key: `rbd-bench/${chunk}`, label: `rbd bench ${chunk} MiB`, run: () => bench.rbdBench(chunk) },
      ];
      if (py.ok) peers.push({ key: `python/${chunk}`, label: `python ${chunk} MiB`, run: () => bench.python(chunk, readback('python')) });
      if (real) {
        // The real glance_store runs right after ours at the defaults (the headline pair).
        const at = Math.max(0, ours.findIndex((x) => x.key === `ours/${chunk}/${defaults.concurrency}/native`));
        peers.splice(Math.min(at, peers.length), 0, { key: `glance-store/${chunk}`, label: `glance_store add() ${chunk} MiB`, run: () => bench.glanceStore(chunk, readback('glance-store')) });
      }
      cases.push(...interleave(ours, peers));
    }
    const order = rep % 2 === 0 ? cases : [cases[0], ...cases.slice(1).reverse()];
    for (const c of order) {
      const r = await c.run();
      if (c.key === 'startup') continue;
      record(c.key, r);
      log(`upload ${rep + 1}/${o.reps}: ${c.label}: ${r.mibps.toFixed(0)} MiB/s${r.checksumOk ? ', checksums ok' : ''}${r.readbackOk ? ', read back ok' : ''}`);
    }
  }
  const ours: UploadFigure[] = [];
  const peers: UploadFigure[] = [];
  for (const [key, list] of runs) (key.startsWith('ours/') ? ours : peers).push(uploadFigure(list));
  const result = {
    ours,
    peers,
    rbdStartupS: summarize(startup),
    hashing: hashFig,
    python: py.ok ? { available: true } : { available: false, note: py.reason },
    best: { chunkMiB: 0, concurrency: 0, mibps: 0 },
  };
  for (const chunk of o.chunks) {
    const b = bestAt({ upload: result } as BenchResults, chunk);
    if (b && b.mibps.median > result.best.mibps) result.best = { chunkMiB: chunk, concurrency: b.concurrency ?? 0, mibps: b.mibps.median };
  }
  return result;
}

async function downloadPhase(o: Options, cluster: BenchCluster, input: InputFile, real: boolean): Promise<NonNullable<BenchResults['download']>> {
  const bench = new DownloadBench(cluster, input);
  try {
    await bench.prepare();
    log(`download: ${o.sizeMiB} MiB image stored by ours; checking each reader's md5 once (untimed)`);
    await bench.verify(real);
    const runs = new Map<DownloadRun['kind'], DownloadRun[]>();
    for (let rep = 0; rep < o.reps; rep++) {
      await bench.startup();
      // ours, peer, ours, peer; odd repetitions backwards.
      const cases: Array<() => Promise<DownloadRun>> = [() => bench.ours(), ...(real ? [() => bench.glanceStore(), () => bench.ours()] : []), () => bench.rbdExport()];
      for (const c of rep % 2 === 0 ? cases : [...cases].reverse()) {
        const r = await c();
        runs.set(r.kind, [...(runs.get(r.kind) ?? []), r]);
        log(`download ${rep + 1}/${o.reps}: ${r.kind}: ${r.mibps.toFixed(0)} MiB/s (${r.seconds.toFixed(3)} s)`);
      }
    }
    const figs: DownloadFigure[] = [...runs].map(([kind, list]) => ({
      kind,
      mibps: summarize(list.map((x) => x.mibps)),
      seconds: summarize(list.map((x) => x.seconds)),
      ...(list[0].wallSeconds !== undefined ? { wallSeconds: summarize(list.map((x) => x.wallSeconds ?? Number.NaN)) } : {}),
      ...(kind === 'rbd-export' ? { wallMibps: summarize(list.map((x) => x.mibps * (x.seconds / (x.wallSeconds ?? x.seconds)))) } : {}),
      ...(list[0].connectSeconds !== undefined ? { connectSeconds: summarize(list.map((x) => x.connectSeconds ?? Number.NaN)) } : {}),
      ...(list[0].minorFaults !== undefined ? { minorFaults: summarize(list.map((x) => x.minorFaults ?? Number.NaN)) } : {}),
      ...cpuFigures(list.map((x) => x.cpu)),
    }));
    return { chunkMiB: bench.chunkMiB, runs: figs, rbdStartupS: summarize(bench.startupSamples) };
  } finally {
    await bench.close();
  }
}

async function smallPhase(o: Options, cluster: BenchCluster): Promise<NonNullable<BenchResults['smallio']>> {
  const bench = new SmallIoBench(cluster, o.smallImageMiB * MiB);
  try {
    log(`small I/O: ${o.smallImageMiB} MiB images, written in full before each write run and each repetition's reads`);
    await bench.prepare();
    const py = pythonPeerAvailable();
    if (!py.ok) log(`small I/O: python peer skipped: ${py.reason}`);
    const ours = new Map<string, SmallRun[]>();
    const peer = new Map<string, SmallRun[]>();
    const python = new Map<string, SmallRun[]>();
    const push = (m: Map<string, SmallRun[]>, k: string, r: SmallRun) => m.set(k, [...(m.get(k) ?? []), r]);
    for (let rep = 0; rep < o.reps; rep++) {
      for (const op of ['randwrite', 'randread'] as SmallOp[]) {
        for (const qd of [1, 32]) {
          const ops = qd === 1 ? o.smallOps.qd1 : o.smallOps.qd32;
          const k = `${op}/${qd}`;
          // Writes: each run on a fresh image (see smallio.ts); reads: one fresh image per repetition.
          const before = async (first: boolean) => {
            if (op === 'randwrite' || (first && qd === 1)) await bench.fresh();
          };
          const runs = [
            (first: boolean) => before(first).then(() => bench.ours(op, qd, ops)).then((r) => push(ours, k, r)),
            (first: boolean) => before(first).then(() => bench.rbdBench(op, qd, ops)).then((r) => push(peer, k, r)),
            ...(py.ok ? [(first: boolean) => before(first).then(() => bench.python(op, qd, ops)).then((r) => push(python, k, r))] : []),
          ];
          // Each repetition starts with another side (interleaved; see smallio.ts on fresh images).
          for (let i = 0; i < runs.length; i++) await runs[(rep + i) % runs.length](i === 0);
          const pyNote = py.ok ? `, python aio ${python.get(k)?.at(-1)?.iops.toFixed(0)} IOPS` : '';
          log(`small I/O ${rep + 1}/${o.reps}: ${op} QD${qd}: ours ${ours.get(k)?.at(-1)?.iops.toFixed(0)} IOPS, rbd bench ${peer.get(k)?.at(-1)?.iops.toFixed(0)} IOPS${pyNote}`);
        }
      }
    }
    const runs: SmallFigure[] = [];
    for (const [k, list] of ours) {
      const p = peer.get(k) ?? [];
      const pyRuns = python.get(k) ?? [];
      runs.push({
        op: list[0].op,
        qd: list[0].qd,
        ops: list[0].ops,
        ours: { iops: summarize(list.map((x) => x.iops)), ...cpuFigures(list.map((x) => x.cpu)) },
        rbdBench: { iops: summarize(p.map((x) => x.iops)), ...cpuFigures(p.map((x) => x.cpu)) },
        ...(pyRuns.length ? { python: { iops: summarize(pyRuns.map((x) => x.iops)), ...cpuFigures(pyRuns.map((x) => x.cpu)) } } : {}),
      });
    }
    return { imageMiB: o.smallImageMiB, runs };
  } finally {
    await bench.close();
  }
}

async function overheadPhase(o: Options, cluster: BenchCluster): Promise<NonNullable<BenchResults['overhead']>> {
  const bench = new OverheadBench(cluster);
  const py = pythonPeerAvailable().ok;
  try {
    await bench.prepare();
    const ours = new Map<string, number[]>();
    const pySize: number[] = [];
    const pyRead: number[] = [];
    for (let rep = 0; rep < o.reps; rep++) {
      const python = async () => {
        if (!py) return;
        const r = await bench.python(o.callSeconds);
        pySize.push(r.size);
        pyRead.push(r.read4k);
      };
      if (rep % 2 === 1) await python();
      for (const call of ['size', 'aioRead', 'read'] as CallKind[]) {
        for (const qd of [1, 32]) {
          const r = await bench.ours(call, qd, o.callSeconds);
          ours.set(`${call}/${qd}`, [...(ours.get(`${call}/${qd}`) ?? []), r.callsPerSec]);
        }
      }
      if (rep % 2 === 0) await python();
      log(`overhead ${rep + 1}/${o.reps}: size() ${ours.get('size/1')?.at(-1)?.toFixed(0)}/s, aioRead ${ours.get('aioRead/1')?.at(-1)?.toFixed(0)}/s, read ${ours.get('read/1')?.at(-1)?.toFixed(0)}/s${py ? `; python size ${pySize.at(-1)?.toFixed(0)}/s read ${pyRead.at(-1)?.toFixed(0)}/s` : ''}`);
    }
    const figs: CallFigure[] = [...ours].map(([k, v]) => {
      const [call, qd] = k.split('/');
      return { call: call as CallKind, qd: Number(qd), callsPerSec: summarize(v) };
    });
    return { seconds: o.callSeconds, ours: figs, python: py ? { size: summarize(pySize), read4k: summarize(pyRead) } : null };
  } finally {
    await bench.close();
  }
}

async function memoryPhase(
  o: Options,
  cluster: BenchCluster,
  settings: Array<{ setting: 'best' | 'defaults'; chunkMiB: number; concurrency: number }>,
): Promise<NonNullable<BenchResults['memory']>> {
  const bytes = o.memoryMiB * MiB;
  log(`memory: computing the md5 of the ${o.memoryMiB} MiB stream`);
  const expected = await dataMd5(bytes);
  const runs = new Map<string, MemoryRun[]>();
  for (let rep = 0; rep < o.reps; rep++) {
    const order = rep % 2 === 0 ? settings : [...settings].reverse();
    for (const s of order) {
      for (const known of rep % 2 === 0 ? [true, false] : [false, true]) {
        const r = await runMemory({ confFile: cluster.confFile, pool: cluster.pool, chunkMiB: s.chunkMiB, concurrency: s.concurrency, bytes, known, name: `bench-${process.pid}-mem-${rep}-${s.setting}-${known ? 'k' : 'u'}` });
        if (r.checksum !== expected) throw new Error(`memory run: checksum mismatch: ${r.checksum} (expected ${expected})`);
        const key = `${s.setting}/${known}`;
        runs.set(key, [...(runs.get(key) ?? []), r]);
        log(`memory ${rep + 1}/${o.reps}: ${s.setting} ${s.chunkMiB} MiB × ${s.concurrency}, size ${known ? 'known' : 'unknown'}: RSS growth ${r.growthMiB.toFixed(0)} MiB (peak ${r.peakMiB.toFixed(0)}), ${r.mibps.toFixed(0)} MiB/s`);
      }
    }
  }
  const figs: MemoryFigure[] = [];
  for (const s of settings) {
    for (const known of [true, false]) {
      const list = runs.get(`${s.setting}/${known}`) ?? [];
      figs.push({
        ...s,
        targetMiB: memoryTargetMiB(s.chunkMiB, s.concurrency),
        known,
        growthMiB: summarize(list.map((r) => r.growthMiB)),
        peakMiB: summarize(list.map((r) => r.peakMiB)),
        baselineMiB: summarize(list.map((r) => r.baselineMiB)),
        mibps: summarize(list.map((r) => r.mibps)),
        checksumsOk: true,
        peakReset: list.every((r) => r.peakReset),
      });
    }
  }
  return { bytes, runs: figs };
}

/** GlanceStore's own defaults, read from a store opened without options. */
async function storeDefaults(cluster: BenchCluster): Promise<{ chunkMiB: number; concurrency: number }> {
  const store = await GlanceStore.open({ pool: cluster.pool, confFile: cluster.confFile, connectTimeoutMs: 60_000 });
  try {
    return { chunkMiB: store.chunkSize / MiB, concurrency: store.concurrency };
  } finally {
    await store.close();
  }
}

/** Whether the real glance_store runs (installing it when missing); never in smoke mode. */
function realPeerFor(o: Options, needed: boolean): RealPeer {
  if (!needed) return { available: false, note: 'no upload or download part in this run' };
  if (o.mode === 'smoke') {
    log('real glance_store peer skipped: smoke mode (CI) runs only the quick peers');
    return { available: false, note: 'smoke mode' };
  }
  const a = ensureGlanceStore(log);
  if (!a.ok) {
    log(`real glance_store peer skipped: ${a.reason}`);
    return { available: false, note: a.reason };
  }
  const v = glanceStoreVersions();
  log(`real peer: ${v.package}, glance_store ${v.glanceStore}, python ${v.python}`);
  return { available: true, package: v.package, glanceStore: v.glanceStore, python: v.python };
}

function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function cephVersion(): string {
  try {
    return execFileSync('rbd', ['--version'], { encoding: 'utf8' }).trim().replace(/^ceph version /, 'ceph ').replace(/\s*\([0-9a-f]{20,}\)/, '');
  } catch {
    return 'ceph ?';
  }
}

async function main(): Promise<void> {
  const t0 = process.hrtime.bigint();
  const o = parseArgs(process.argv.slice(2));
  const loadBefore = os.loadavg();
  log(`mode ${o.mode}: ${o.sizeMiB} MiB input, chunks ${o.chunks.join('/')} MiB, concurrency ${o.concurrency.join('/')}, ${o.reps} rep(s), phases ${o.phases.join(',')}; load ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  const work = mkdtempSync(path.join(os.tmpdir(), 'ceph-rbd-bench-'));
  let cluster: BenchCluster | undefined;
  let uploads: UploadBench | undefined;
  let stopping = false;
  const cleanup = async () => {
    if (stopping) return;
    stopping = true;
    await uploads?.close().catch(() => undefined);
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`writing ${o.sizeMiB} MiB of random input`);
    const input = await makeInput(path.join(work, 'input.bin'), o.sizeMiB * MiB);
    log(`input md5 ${input.md5}`);
    const wants = (p: Phase) => o.phases.includes(p);
    const smallMiB = wants('smallio') ? o.smallImageMiB : 0;
    const dataMiB = Math.max(wants('upload') || wants('download') ? o.sizeMiB : 0, wants('memory') ? o.memoryMiB : 0, wants('concurrent') ? 8 * Math.min(o.sizeMiB, o.concurrentMiB) : 0) + smallMiB + 64;
    const memstoreBytes = Math.ceil(dataMiB / 0.8 + 256) * MiB;
    cluster = await openCluster({ dir: path.join(work, 'cluster'), memstoreBytes, pool: o.pool, log });
    const defaults = await storeDefaults(cluster);
    const realPeer = realPeerFor(o, wants('upload') || wants('download'));
    if (!o.concurrency.includes(defaults.concurrency) && o.chunks.includes(defaults.chunkMiB)) o.concurrency = [...o.concurrency, defaults.concurrency].sort((a, b) => a - b);

    const results: BenchResults = {
      version: 1,
      date: today(),
      mode: o.mode,
      wallSeconds: 0,
      host: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model.trim() ?? '?',
        memMiB: Math.round(os.totalmem() / MiB),
        node: process.version,
        ceph: cephVersion(),
        loadBefore,
        loadAfter: [],
      },
      options: { sizeMiB: o.sizeMiB, reps: o.reps, chunks: o.chunks, concurrency: o.concurrency, memoryMiB: o.memoryMiB, pool: o.pool, phases: o.phases },
      cluster: { own: cluster.own, startSeconds: cluster.startSeconds, memstoreBytes: cluster.memstoreBytes },
      input: { bytes: input.bytes, md5: input.md5, sha512: input.sha512 },
      realPeer,
      defaults,
      targets: [],
    };

    if (wants('upload')) {
      uploads = new UploadBench(cluster, input);
      results.upload = await uploadPhase(o, cluster, uploads, defaults, realPeer.available);
      await uploads.close();
      uploads = undefined;
    }
    if (wants('download')) results.download = await downloadPhase(o, cluster, input, realPeer.available);
    if (wants('smallio')) results.smallio = await smallPhase(o, cluster);
    if (wants('overhead')) results.overhead = await overheadPhase(o, cluster);
    if (wants('concurrent')) results.concurrent = await runConcurrent(cluster, input, o.concurrentMiB, log);
    if (wants('memory')) {
      // The fastest setting of part 1 and the defaults (once if they are the same).
      const best = results.upload?.best;
      const settings: Array<{ setting: 'best' | 'defaults'; chunkMiB: number; concurrency: number }> = [{ setting: 'defaults', ...defaults }];
      if (best && best.mibps > 0 && (best.chunkMiB !== defaults.chunkMiB || best.concurrency !== defaults.concurrency)) {
        settings.unshift({ setting: 'best', chunkMiB: best.chunkMiB, concurrency: best.concurrency });
      }
      results.memory = await memoryPhase(o, cluster, settings);
    }

    results.host.loadAfter = os.loadavg();
    results.targets = judge(results);
    results.wallSeconds = secondsSince(t0);
    const rounded = roundDeep(results);
    process.stdout.write(table(rounded));
    const conc = concurrentLines(rounded.concurrent);
    if (conc.length > 0) process.stdout.write(`${conc.join('\n')}\n`);
    mkdirSync(o.outDir, { recursive: true });
    const base = path.join(o.outDir, o.mode === 'full' ? results.date : `${results.date}-${o.mode}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(rounded, null, 2)}\n`);
    const svg = chart(rounded);
    if (svg) writeFileSync(`${base}.svg`, svg);
    log(`wrote ${path.relative(process.cwd(), `${base}.json`)}${svg ? ` and ${path.basename(base)}.svg` : ''}`);
  } finally {
    await cleanup();
    log(`done in ${secondsSince(t0).toFixed(1)} s (cluster stopped and input removed)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
