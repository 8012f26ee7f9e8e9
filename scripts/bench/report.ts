/**
 * The bench's results: their JSON shape, the targets of issues 6 and 17
 * judged on them, the table printed on stdout, and the chart.
 */
import { lineChart, type Level, type Series } from './chart';
import type { ConcurrentFigure } from './concurrent';
import { fmt, fmtRatio, median, ratio, type Summary } from './stats';

export interface CpuFigures {
  /** CPU seconds of the client (the bench process, or the peer's process). */
  clientCpuS: Summary;
  /** CPU seconds of the cluster's daemons during the run. */
  clusterCpuS: Summary;
  /** Busy core-seconds of the whole machine during the run. */
  machineCpuS: Summary;
}

/** The fixed and streaming parts of an upload (see UploadSteps in upload.ts), in seconds. */
export interface StepFigures {
  connect: Summary;
  setup: Summary;
  data: Summary;
  finish: Summary;
}

export interface UploadFigure extends CpuFigures {
  kind: 'ours' | 'glance-store' | 'glance-way' | 'rbd-import' | 'rbd-bench' | 'python';
  chunkMiB: number;
  concurrency?: number;
  hashOn?: 'native' | 'js';
  mibps: Summary;
  seconds: Summary;
  /** CLI peers: the process's wall time (start and connect included). */
  wallSeconds?: Summary;
  /** rbd import: MiB/s over the whole process wall time. */
  wallMibps?: Summary;
  checksumsOk?: boolean;
  readbackOk?: boolean;
  /** Ours and the real glance_store: setup, data, finish (and connect). */
  steps?: StepFigures;
}

export interface DownloadFigure extends CpuFigures {
  kind: 'ours' | 'glance-store' | 'rbd-export';
  mibps: Summary;
  seconds: Summary;
  wallSeconds?: Summary;
  /** rbd export: MiB/s over the whole process wall time. */
  wallMibps?: Summary;
  /** glance_store: seconds in Rados.connect within the timed span. */
  connectSeconds?: Summary;
  /** ours: minor page faults of the bench process per run. */
  minorFaults?: Summary;
}

/** Whether the real peer (Debian's glance_store) ran, and its versions. */
export interface RealPeer {
  available: boolean;
  note?: string;
  /** `dpkg-query -W python3-glance-store`. */
  package?: string;
  glanceStore?: string;
  python?: string;
}

export interface SmallFigure {
  op: 'randwrite' | 'randread';
  qd: number;
  ops: number;
  ours: { iops: Summary } & CpuFigures;
  rbdBench: { iops: Summary } & CpuFigures;
  /** Python's rbd bindings, aio with the same queue depth (absent when python3-rbd is not there). */
  python?: { iops: Summary } & CpuFigures;
}

export interface CallFigure {
  call: 'size' | 'aioRead' | 'read';
  qd: number;
  callsPerSec: Summary;
}

export interface MemoryFigure {
  /** Which setting: the fastest of part 1, or GlanceStore's defaults. */
  setting: 'best' | 'defaults';
  chunkMiB: number;
  concurrency: number;
  /** (concurrency + 2) × chunk + 64 MiB. */
  targetMiB: number;
  known: boolean;
  growthMiB: Summary;
  peakMiB: Summary;
  baselineMiB: Summary;
  mibps: Summary;
  checksumsOk: boolean;
  peakReset: boolean;
}

export interface Target {
  id: string;
  label: string;
  value: number;
  unit: 'x' | 'MiB' | 'ms';
  op: '>=' | '<=';
  target: number;
  met: boolean;
  /** What the value was measured at / compared with. */
  detail: string;
}

export interface BenchResults {
  version: 1;
  date: string;
  mode: 'full' | 'quick' | 'smoke' | 'custom';
  wallSeconds: number;
  host: { cpus: number; model: string; memMiB: number; node: string; ceph: string; loadBefore: number[]; loadAfter: number[] };
  options: { sizeMiB: number; reps: number; chunks: number[]; concurrency: number[]; memoryMiB: number; pool: string; phases: string[] };
  cluster: { own: boolean; startSeconds: number; memstoreBytes: number | null };
  input: { bytes: number; md5: string; sha512: string };
  /** Debian's glance_store RBD driver: run in the upload and download parts when importable (never in smoke mode). */
  realPeer?: RealPeer;
  /** GlanceStore's defaults (what add() does unless told otherwise). */
  defaults: { chunkMiB: number; concurrency: number };
  upload?: {
    ours: UploadFigure[];
    peers: UploadFigure[];
    /** `rbd ls` wall time: what a CLI call costs before it does anything. */
    rbdStartupS: Summary;
    /** md5 and sha512 alone on one core: no upload that hashes one stream in order can be faster than the slower. */
    hashing?: Array<{ algo: string; mibPerCpuSecond: Summary; mibps: Summary }>;
    python: { available: boolean; note?: string };
    best: { chunkMiB: number; concurrency: number; mibps: number };
  };
  download?: {
    /** glance_store reads with this (rbd_store_chunk_size); ours with the store's chunk size, the same. */
    chunkMiB: number;
    runs: DownloadFigure[];
    rbdStartupS: Summary;
  };
  smallio?: { imageMiB: number; runs: SmallFigure[] };
  /** Part 5: 8 uploads at once, in process and over HTTP (scripts/bench/concurrent.ts). */
  concurrent?: ConcurrentFigure;
  overhead?: { seconds: number; ours: CallFigure[]; python: { size: Summary; read4k: Summary } | null };
  memory?: { bytes: number; runs: MemoryFigure[] };
  targets: Target[];
}

// ---- lookups ------------------------------------------------------------------

export function oursAt(r: BenchResults, chunkMiB: number, concurrency: number, hashOn: 'native' | 'js' = 'native'): UploadFigure | undefined {
  return r.upload?.ours.find((f) => f.chunkMiB === chunkMiB && f.concurrency === concurrency && f.hashOn === hashOn);
}

export function peerAt(r: BenchResults, kind: UploadFigure['kind'], chunkMiB: number): UploadFigure | undefined {
  return r.upload?.peers.find((f) => f.kind === kind && f.chunkMiB === chunkMiB);
}

export function downloadOf(r: BenchResults, kind: DownloadFigure['kind']): DownloadFigure | undefined {
  return r.download?.runs.find((f) => f.kind === kind);
}

/** The fastest concurrency for a chunk size (native hashing). */
export function bestAt(r: BenchResults, chunkMiB: number): UploadFigure | undefined {
  let best: UploadFigure | undefined;
  for (const f of r.upload?.ours ?? []) {
    if (f.chunkMiB === chunkMiB && f.hashOn === 'native' && (!best || f.mibps.median > best.mibps.median)) best = f;
  }
  return best;
}

/** The target RSS growth: (concurrency + 2) × chunk + 64 MiB. */
export function memoryTargetMiB(chunkMiB: number, concurrency: number): number {
  return (concurrency + 2) * chunkMiB + 64;
}

/** Issue 6's and issue 17's targets, judged at GlanceStore's defaults (issue 17's only when the real peer ran). */
export function judge(r: BenchResults): Target[] {
  const out: Target[] = [];
  const d = r.defaults;
  const ours = oursAt(r, d.chunkMiB, d.concurrency);
  const at = `${d.chunkMiB} MiB, concurrency ${d.concurrency} (the defaults)`;
  if (r.upload && ours) {
    const glance = peerAt(r, 'glance-way', d.chunkMiB);
    const imp = peerAt(r, 'rbd-import', d.chunkMiB);
    const g = ratio(ours.mibps.median, glance?.mibps.median);
    const real = peerAt(r, 'glance-store', d.chunkMiB);
    if (real) {
      const v = ratio(ours.mibps.median, real.mibps.median);
      out.push({ id: 'upload-vs-glance-store', label: 'upload ≥ 1.6× glance_store add()', value: v, unit: 'x', op: '>=', target: 1.6, met: v >= 1.6, detail: `${at}; the real driver, whole add() call` });
    }
    out.push({ id: 'upload-vs-glance', label: 'upload ≥ 3.0× Glance way (JS)', value: g, unit: 'x', op: '>=', target: 3.0, met: g >= 3.0, detail: at });
    const i = ratio(ours.mibps.median, imp?.mibps.median);
    out.push({ id: 'upload-vs-import', label: 'upload ≥ 0.9× rbd import', value: i, unit: 'x', op: '>=', target: 0.9, met: i >= 0.9, detail: `${at}; rbd import minus its CLI start` });
  }
  const dOurs = downloadOf(r, 'ours');
  if (dOurs) {
    for (const [kind, goal, label] of [['glance-store', 1.3, 'glance_store get()'], ['rbd-export', 1.0, 'rbd export']] as const) {
      const peer = downloadOf(r, kind);
      if (!peer) continue;
      const v = ratio(dOurs.mibps.median, peer.mibps.median);
      out.push({ id: `download-vs-${kind}`, label: `download ≥ ${goal.toFixed(1)}× ${label}`, value: v, unit: 'x', op: '>=', target: goal, met: v >= goal, detail: `${(r.input.bytes / 2 ** 20).toFixed(0)} MiB, get() into a null sink${kind === 'rbd-export' ? '; rbd export minus its CLI start' : ''}` });
    }
  }
  for (const f of r.smallio?.runs ?? []) {
    const v = ratio(f.ours.iops.median, f.rbdBench.iops.median);
    const call = f.op === 'randwrite' ? 'aioWrite' : 'aioRead';
    out.push({ id: `${f.op}-qd${f.qd}`, label: `4K ${f.op} QD${f.qd} ≥ 0.95× rbd bench`, value: v, unit: 'x', op: '>=', target: 0.95, met: v >= 0.95, detail: `${call}, ${f.qd} in flight vs rbd bench --io-threads ${f.qd}` });
  }
  if (r.memory) {
    for (const m of r.memory.runs) {
      const v = m.growthMiB.median;
      out.push({
        id: `rss-${m.setting}-${m.known ? 'known' : 'unknown'}`,
        label: `RSS growth (${m.setting}), ${m.known ? 'known' : 'unknown'} size`,
        value: v,
        unit: 'MiB',
        op: '<=',
        target: m.targetMiB,
        met: v <= m.targetMiB,
        detail: `${r.memory.bytes / 2 ** 20} MiB stream, ${m.chunkMiB} MiB × concurrency ${m.concurrency}`,
      });
    }
  }
  const c = r.concurrent;
  if (c) {
    const at = `${c.uploads} uploads of ${c.uploadMiB} MiB at once`;
    const lag = c.inProcess.loopDelayP99Ms;
    out.push({ id: 'loop-delay-8-uploads', label: 'event-loop delay p99, 8 uploads', value: lag, unit: 'ms', op: '<=', target: 50, met: lag <= 50, detail: `${at}, monitorEventLoopDelay` });
    if (c.http) {
      const head = c.http.headP99Ms;
      out.push({ id: 'head-p99-8-http-uploads', label: 'HTTP HEAD p99, 8 HTTP uploads', value: head, unit: 'ms', op: '<=', target: 50, met: head <= 50, detail: `${at} over HTTP from a client process` });
    }
    const peak = Math.max(c.inProcess.bufferedPeakMiB, c.http?.bufferedPeakMiB ?? 0);
    out.push({ id: 'store-buffers-in-budget', label: 'store buffers within maxBufferedBytes', value: peak, unit: 'MiB', op: '<=', target: c.maxBufferedMiB, met: peak <= c.maxBufferedMiB, detail: `${at}, peak of the store's buffer count` });
  }
  return out;
}

// ---- the table ------------------------------------------------------------------

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function row(cells: Array<[string, number, boolean?]>): string {
  return cells.map(([s, n, right]) => pad(s, n, right)).join(' ').trimEnd();
}

/**
 * The share of the machine's CPU that neither the client nor the cluster
 * used during the upload runs (others' work: noise), median over the figures.
 */
export function othersShare(r: BenchResults): number {
  const figs = [...(r.upload?.ours ?? []), ...(r.upload?.peers ?? [])].filter((f) => f.kind !== 'rbd-bench' && f.kind !== 'rbd-import');
  const shares = figs.map((f) => {
    const seconds = f.wallSeconds?.median ?? f.seconds.median;
    return Math.max(0, f.machineCpuS.median - f.clientCpuS.median - f.clusterCpuS.median) / (seconds * r.host.cpus);
  });
  return median(shares.filter(Number.isFinite));
}

/** MiB/s at which the client and the cluster daemons together would keep every core busy. */
export function cpuCeiling(cpus: number, f: CpuFigures, bytes: number): number {
  const perMiB = (f.clientCpuS.median + f.clusterCpuS.median) / (bytes / 2 ** 20);
  return cpus / perMiB;
}

function perGiB(cpuS: number, bytes: number): string {
  return fmt(cpuS / (bytes / 2 ** 30), 2);
}

function headerLines(r: BenchResults): string[] {
  const L: string[] = [];
  const reps = r.options.reps;
  L.push(`ceph-rbd bench, ${r.date}, mode ${r.mode}: ${r.host.cpus} CPUs (${r.host.model}), node ${r.host.node}, ${r.host.ceph}`);
  L.push(`cluster: ${r.cluster.own ? `own micro cluster (memstore ${fmt((r.cluster.memstoreBytes ?? 0) / 2 ** 30, 2)} GiB, up in ${fmt(r.cluster.startSeconds, 1)} s)` : 'given by CEPH_CONF'}; load before ${r.host.loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${r.host.loadAfter.map((x) => x.toFixed(2)).join(' ')}`);
  L.push(`figures are medians of ${reps} run(s); peers interleaved with ours; every client with rbd_cache=false`);
  const p = r.realPeer;
  if (p) L.push(p.available ? `real peer: ${p.package ?? '?'} (glance_store ${p.glanceStore ?? '?'}), /usr/bin/python3 ${p.python ?? '?'}` : `real peer (glance_store): skipped: ${p.note ?? 'not available'}`);
  const noise = othersShare(r);
  if (Number.isFinite(noise)) L.push(`other processes used ${fmt(noise * 100, 0)}% of the machine's CPU during the uploads (median; 0% = a quiet machine)`);
  return L;
}

function uploadRateLines(r: BenchResults, u: NonNullable<BenchResults['upload']>): string[] {
  const L: string[] = [];
  const size = r.input.bytes;
  L.push('');
  L.push(`== 1. Upload of ${size / 2 ** 20} MiB with MD5 + sha512 (MiB/s) ==`);
  const h = (algo: string) => u.hashing?.find((x) => x.algo === algo)?.mibPerCpuSecond.median;
  L.push(`CPU: ${r.host.model}; hashing alone (node:crypto, one core): md5 ${fmt(h('md5'))} MiB/s, sha512 ${fmt(h('sha512'))} MiB/s per CPU second`);
  const conc = r.options.concurrency;
  const real = r.realPeer?.available === true;
  const head: Array<[string, number, boolean?]> = [['chunk', 7], ['hashing', 8], ...conc.map((c): [string, number, boolean] => [`c=${c}`, 7, true])];
  L.push(row([...head, ['|', 1], ['glance_store', 12, true], ['Glance way (JS)', 16, true], ['rbd import', 11, true], ['(wall)', 8, true], ['rbd bench', 10, true], ['python', 8, true]]));
  for (const chunk of r.options.chunks) {
    for (const hashOn of ['native', 'js'] as const) {
      const figs = conc.map((c) => oursAt(r, chunk, c, hashOn));
      if (figs.every((f) => f === undefined)) continue;
      const peers = hashOn === 'native'
        ? [
            ['|', 1],
            [real ? fmt(peerAt(r, 'glance-store', chunk)?.mibps.median) : 'skipped', 12, true],
            [fmt(peerAt(r, 'glance-way', chunk)?.mibps.median), 16, true],
            [fmt(peerAt(r, 'rbd-import', chunk)?.mibps.median), 11, true],
            [`(${fmt(peerAt(r, 'rbd-import', chunk)?.wallMibps?.median)})`, 8, true],
            [fmt(peerAt(r, 'rbd-bench', chunk)?.mibps.median), 10, true],
            [u.python.available ? fmt(peerAt(r, 'python', chunk)?.mibps.median) : 'skipped', 8, true],
          ] as Array<[string, number, boolean?]>
        : [['|', 1]] as Array<[string, number, boolean?]>;
      L.push(row([[`${chunk} MiB`, 7], [hashOn, 8], ...figs.map((f): [string, number, boolean] => [fmt(f?.mibps.median), 7, true]), ...peers]));
    }
  }
  L.push(`glance_store: Debian's real driver, Store.add(…, hashing_algo='sha512'), rbd_store_chunk_size = chunk; the whole call (it connects per add()).`);
  L.push(`Glance way (JS): a re-creation of glance_store's loop on this library (one chunk at a time, hashing on the JS thread), an extra.`);
  L.push(`rbd import: its wall time minus the ${fmt(u.rbdStartupS.median * 1000, 0)} ms an \`rbd ls\` takes (CLI start + connect); (wall) = the whole process.`);
  L.push(`rbd bench: --io-type write --io-size <chunk> --io-threads 16 --io-pattern seq (the cluster's ceiling; no hashing).`);
  if (!real) L.push(`glance_store: skipped (${r.realPeer?.note ?? 'not available'})`);
  if (!u.python.available) L.push(`python: skipped (${u.python.note ?? 'not available'})`);
  return L;
}

function uploadRatioLines(r: BenchResults, u: NonNullable<BenchResults['upload']>): string[] {
  const L: string[] = [];
  L.push('');
  L.push('Ratios ours / peer (× ; ≥ 1 means ours is faster):');
  L.push(row([['setting', 30], ['MiB/s', 7, true], ['/glance_store', 14, true], ['/Glance way (JS)', 17, true], ['/rbd import', 12, true], ['/import wall', 12, true], ['/rbd bench', 11, true], ['/python', 8, true]]));
  const settings: Array<[string, UploadFigure | undefined]> = [[`defaults ${r.defaults.chunkMiB} MiB c=${r.defaults.concurrency}`, oursAt(r, r.defaults.chunkMiB, r.defaults.concurrency)]];
  for (const chunk of r.options.chunks) {
    const b = bestAt(r, chunk);
    if (b) settings.push([`best ${chunk} MiB (c=${b.concurrency})`, b]);
  }
  const js = oursAt(r, r.defaults.chunkMiB, r.defaults.concurrency, 'js');
  if (js) settings.push([`js hashing ${r.defaults.chunkMiB} MiB c=${r.defaults.concurrency}`, js]);
  for (const [label, f] of settings) {
    if (!f) continue;
    const v = f.mibps.median;
    const p = (k: UploadFigure['kind']) => fmtRatio(ratio(v, peerAt(r, k, f.chunkMiB)?.mibps.median));
    L.push(row([[label, 30], [fmt(v), 7, true], [p('glance-store'), 14, true], [p('glance-way'), 17, true], [p('rbd-import'), 12, true], [fmtRatio(ratio(v, peerAt(r, 'rbd-import', f.chunkMiB)?.wallMibps?.median)), 12, true], [p('rbd-bench'), 11, true], [u.python.available ? p('python') : '-', 8, true]]));
  }
  return L;
}

/** The fixed per-upload cost apart from the streaming rate, ours at the defaults and the real glance_store. */
function uploadStepLines(r: BenchResults): string[] {
  const L: string[] = [];
  const d = r.defaults;
  const rows: Array<[string, UploadFigure | undefined]> = [
    [`ours ${d.chunkMiB} MiB c=${d.concurrency}`, oursAt(r, d.chunkMiB, d.concurrency)],
    [`glance_store ${d.chunkMiB} MiB`, peerAt(r, 'glance-store', d.chunkMiB)],
  ];
  if (rows.every(([, f]) => f?.steps === undefined)) return L;
  const mib = r.input.bytes / 2 ** 20;
  L.push('');
  L.push('Fixed per-upload cost and streaming (seconds, medians): connect (inside the call), setup = create → first write,');
  L.push('data = the writes and hashing, finish = last write → snapshot protected; streaming rate = size ÷ data:');
  L.push(row([['', 24], ['whole', 7, true], ['connect', 8, true], ['setup', 7, true], ['data', 7, true], ['finish', 7, true], ['fixed', 7, true], ['MiB/s', 7, true], ['streaming', 10, true]]));
  for (const [label, f] of rows) {
    const s = f?.steps;
    if (!f || !s) continue;
    const fixed = s.connect.median + s.setup.median + s.finish.median;
    L.push(row([[`  ${label}`, 24], [fmt(f.seconds.median, 3), 7, true], [fmt(s.connect.median, 3), 8, true], [fmt(s.setup.median, 3), 7, true], [fmt(s.data.median, 3), 7, true], [fmt(s.finish.median, 3), 7, true], [fmt(fixed, 3), 7, true], [fmt(f.mibps.median), 7, true], [fmt(mib / s.data.median), 10, true]]));
  }
  L.push('ours: from the store\'s log line (data = upload loop start → last write; finish includes removing the upload mark and closing);');
  L.push('glance_store: timestamps around its rados/rbd calls (glance_store_peer.py; its data span ends at create_snap, so it includes the last chunk\'s hashing).');
  return L;
}

function uploadCpuLines(r: BenchResults, u: NonNullable<BenchResults['upload']>): string[] {
  const L: string[] = [];
  const size = r.input.bytes;
  const js = oursAt(r, r.defaults.chunkMiB, r.defaults.concurrency, 'js');
  L.push('');
  L.push(`CPU seconds per GiB uploaded (client / cluster daemons / whole machine), ${r.defaults.chunkMiB} MiB chunks;`);
  L.push(`ceiling = the rate at which client + daemons would use all ${r.host.cpus} cores; % = share of it reached (whole call; streaming part):`);
  const cpuRows: Array<[string, UploadFigure | undefined]> = [
    [`ours c=${r.defaults.concurrency} native`, oursAt(r, r.defaults.chunkMiB, r.defaults.concurrency)],
    [`ours c=${r.defaults.concurrency} js`, js],
    ['glance_store', peerAt(r, 'glance-store', r.defaults.chunkMiB)],
    ['Glance way (JS)', peerAt(r, 'glance-way', r.defaults.chunkMiB)],
    ['rbd import', peerAt(r, 'rbd-import', r.defaults.chunkMiB)],
    ['rbd bench', peerAt(r, 'rbd-bench', r.defaults.chunkMiB)],
    ['python', peerAt(r, 'python', r.defaults.chunkMiB)],
  ];
  for (const [label, f] of cpuRows) {
    if (!f) continue;
    const ceiling = cpuCeiling(r.host.cpus, f, size);
    const stream = f.steps ? (size / 2 ** 20 / f.steps.data.median / ceiling) * 100 : Number.NaN;
    L.push(`  ${pad(label, 22)} ${pad(perGiB(f.clientCpuS.median, size), 6, true)} / ${pad(perGiB(f.clusterCpuS.median, size), 6, true)} / ${pad(perGiB(f.machineCpuS.median, size), 6, true)}   ${pad(fmt(f.mibps.median), 5, true)} MiB/s, ceiling ${pad(fmt(ceiling), 5, true)} (${fmt((f.mibps.median / ceiling) * 100, 0)}%${Number.isFinite(stream) ? `; streaming ${fmt(stream, 0)}%` : ''})`);
  }
  const h = (algo: string) => u.hashing?.find((x) => x.algo === algo)?.mibPerCpuSecond.median ?? Number.NaN;
  const hashCpu = 1024 / h('md5') + 1024 / h('sha512');
  if (u.hashing) L.push(`hashing alone, one core: md5 ${fmt(h('md5'))} MiB/s, sha512 ${fmt(h('sha512'))} MiB/s (per CPU second) = ${fmt(hashCpu, 2)} CPU s/GiB for both;`);
  if (u.hashing) L.push(`  no upload that hashes the stream can beat ${fmt(Math.min(h('md5'), h('sha512')))} MiB/s here (${fmtRatio(ratio(Math.min(h('md5'), h('sha512')), peerAt(r, 'glance-way', r.defaults.chunkMiB)?.mibps.median))} the Glance way, ${fmtRatio(ratio(Math.min(h('md5'), h('sha512')), peerAt(r, 'rbd-import', r.defaults.chunkMiB)?.mibps.median))} rbd import)`);
  const all = [...u.ours, ...u.peers];
  const bad = all.filter((f) => f.checksumsOk === false || f.readbackOk === false);
  L.push(`checksums: ${bad.length === 0 ? `all ${all.filter((f) => f.checksumsOk).length} verified (md5 + sha512 = the file's)${all.some((f) => f.readbackOk) ? '; read-back md5 verified' : ''}` : `MISMATCH in ${bad.map((f) => f.kind).join(', ')}`}`);
  return L;
}

function downloadLines(r: BenchResults): string[] {
  const L: string[] = [];
  const d = r.download;
  if (!d) return L;
  const size = r.input.bytes;
  const ours = downloadOf(r, 'ours');
  L.push('');
  L.push(`== 1b. Download of the ${size / 2 ** 20} MiB image (snapshot), ${d.chunkMiB} MiB reads, into a null sink ==`);
  L.push(row([['reader', 34], ['MiB/s', 7, true], ['seconds', 8, true], ['(wall)', 8, true], ['ours / it', 10, true], ['client/cluster CPU s/GiB', 26, true]]));
  const names: Record<DownloadFigure['kind'], string> = { ours: 'ours: GlanceStore.get() piped', 'glance-store': 'glance_store Store.get() drained', 'rbd-export': 'rbd export … - > /dev/null' };
  for (const kind of ['ours', 'glance-store', 'rbd-export'] as const) {
    const f = downloadOf(r, kind);
    if (!f) {
      L.push(row([[names[kind], 34], ['skipped', 7, true]]));
      continue;
    }
    L.push(row([[names[kind], 34], [fmt(f.mibps.median), 7, true], [fmt(f.seconds.median, 3), 8, true], [f.wallSeconds ? `(${fmt(f.wallSeconds.median, 3)})` : '', 8, true], [kind === 'ours' ? '' : fmtRatio(ratio(ours?.mibps.median, f.mibps.median)), 10, true], [`${perGiB(f.clientCpuS.median, size)} / ${perGiB(f.clusterCpuS.median, size)}`, 26, true]]));
  }
  const gs = downloadOf(r, 'glance-store');
  if (gs?.connectSeconds) L.push(`glance_store: get() connects twice (size, then data): ${fmt(gs.connectSeconds.median * 1000, 0)} ms of its time is Rados.connect; (wall) = the whole Python process.`);
  L.push(`rbd export: its wall time minus the ${fmt(d.rbdStartupS.median * 1000, 0)} ms an \`rbd ls\` takes; every reader's md5 was checked once before the timed runs.`);
  if (r.realPeer?.available !== true) L.push(`glance_store: skipped (${r.realPeer?.note ?? 'not available'})`);
  return L;
}

function smallIoLines(r: BenchResults): string[] {
  const L: string[] = [];
  const s = r.smallio;
  if (s) {
    L.push('');
    L.push(`== 2. Small I/O: 4 KiB random on a ${s.imageMiB} MiB preallocated image (IOPS) ==`);
    L.push(row([['op', 10], ['QD', 3, true], ['ops', 6, true], ['ours (aio)', 11, true], ['rbd bench', 10, true], ['ours/rbd bench', 15, true], ['python aio', 11, true], ['ours/python', 12, true], ['client CPU µs/op ours / rbd / py', 33, true]]));
    for (const f of s.runs) {
      const us = (cpu: number | undefined) => (cpu === undefined ? '-' : fmt((cpu / f.ops) * 1e6, 0));
      const py = f.python?.iops.median;
      L.push(row([[f.op, 10], [String(f.qd), 3, true], [String(f.ops), 6, true], [fmt(f.ours.iops.median), 11, true], [fmt(f.rbdBench.iops.median), 10, true], [fmtRatio(ratio(f.ours.iops.median, f.rbdBench.iops.median)), 15, true], [py === undefined ? '-' : fmt(py), 11, true], [py === undefined ? '-' : fmtRatio(ratio(f.ours.iops.median, py)), 12, true], [`${us(f.ours.clientCpuS.median)} / ${us(f.rbdBench.clientCpuS.median)} / ${us(f.python?.clientCpuS.median)}`, 33, true]]));
    }
    L.push(`rbd bench and python: their own rate (start and connect excluded); their CPU figure includes them. Write runs start on a fresh image.`);
  }
  return L;
}

function overheadLines(r: BenchResults): string[] {
  const L: string[] = [];
  const o = r.overhead;
  if (o) {
    L.push('');
    L.push('== 3. Per-call overhead, no cluster round trip (calls/s) ==');
    const get = (call: CallFigure['call'], qd: number) => o.ours.find((f) => f.call === call && f.qd === qd)?.callsPerSec.median;
    L.push(row([['call', 34], ['QD1', 9, true], ['QD32', 9, true], ['python', 9, true], ['QD1/python', 11, true]]));
    const py = { size: o.python?.size.median, aioRead: o.python?.read4k.median, read: o.python?.read4k.median };
    const names: Record<CallFigure['call'], string> = { size: 'image.size() (worker hop)', aioRead: 'aioRead 4 KiB cached (no hop)', read: 'read 4 KiB cached (worker hop)' };
    for (const call of ['size', 'aioRead', 'read'] as const) {
      L.push(row([[names[call], 34], [fmt(get(call, 1)), 9, true], [fmt(get(call, 32)), 9, true], [fmt(py[call]), 9, true], [fmtRatio(ratio(get(call, 1), py[call])), 11, true]]));
    }
    L.push(row([['aioRead / read (cost of the hop)', 34], [fmtRatio(ratio(get('aioRead', 1), get('read', 1))), 9, true], [fmtRatio(ratio(get('aioRead', 32), get('read', 32))), 9, true]]));
    L.push(`python: the bindings' synchronous calls (no thread hop), one at a time${o.python ? '' : ' — skipped'}`);
  }
  return L;
}

function memoryLines(r: BenchResults): string[] {
  const L: string[] = [];
  const m = r.memory;
  if (m) {
    L.push('');
    L.push(`== 4. Memory: ${m.bytes / 2 ** 20} MiB streamed upload, peak RSS growth in a child process (MiB) ==`);
    for (const f of m.runs) {
      const setting = pad(`${f.setting} ${f.chunkMiB} MiB × ${f.concurrency}`, 20);
      L.push(`  ${setting} size ${f.known ? 'known  ' : 'unknown'}  growth ${pad(fmt(f.growthMiB.median), 5, true)} (max ${fmt(f.growthMiB.max)})  peak ${fmt(f.peakMiB.median)}  ${pad(fmt(f.mibps.median), 4, true)} MiB/s  target ≤ ${f.targetMiB} = (${f.concurrency} + 2) × ${f.chunkMiB} + 64  ${f.growthMiB.median <= f.targetMiB ? 'met' : 'MISSED'}${f.peakReset ? '' : ' (peak since process start)'}`);
    }
  }
  return L;
}

function targetLines(r: BenchResults): string[] {
  const L: string[] = [];
  L.push('');
  L.push('== Targets (issues 6 and 17) ==');
  for (const t of r.targets) {
    const v = t.unit === 'x' ? fmtRatio(t.value) : `${fmt(t.value)} ${t.unit}`;
    const goal = t.unit === 'x' ? `${t.op} ${String(t.target)}×` : `${t.op} ${t.target} ${t.unit}`;
    L.push(`  ${pad(t.label, 40)} ${pad(v, 10, true)}  ${pad(goal, 10)} ${t.met ? 'met' : 'MISSED'}   [${t.detail}]`);
  }
  L.push(`wall time ${fmt(r.wallSeconds, 1)} s`);
  return L;
}

export function table(r: BenchResults): string {
  const L = headerLines(r);
  const u = r.upload;
  if (u) L.push(...uploadRateLines(r, u), ...uploadRatioLines(r, u), ...uploadStepLines(r), ...uploadCpuLines(r, u));
  L.push(...downloadLines(r));
  L.push(...smallIoLines(r), ...overheadLines(r), ...memoryLines(r), ...targetLines(r));
  return `${L.join('\n')}\n`;
}

// ---- the chart --------------------------------------------------------------------

export function chart(r: BenchResults): string | null {
  const u = r.upload;
  if (!u) return null;
  const series: Series[] = [];
  for (const chunk of r.options.chunks) {
    for (const hashOn of ['native', 'js'] as const) {
      const pts = r.options.concurrency.map((c) => ({ x: c, y: oursAt(r, chunk, c, hashOn)?.mibps.median ?? Number.NaN })).filter((p) => Number.isFinite(p.y));
      if (pts.length > 0) series.push({ label: `ours, ${chunk} MiB chunks${hashOn === 'js' ? ', JS hashing' : ''}`, points: pts, dashed: hashOn === 'js' });
    }
  }
  const d = r.defaults.chunkMiB;
  const levels: Level[] = [];
  const add = (kind: UploadFigure['kind'], label: string) => {
    const f = peerAt(r, kind, d);
    if (f) levels.push({ label, y: f.mibps.median });
  };
  add('glance-store', 'glance_store add() (Debian, real)');
  add('rbd-bench', 'rbd bench seq, 16 threads');
  add('rbd-import', 'rbd import');
  add('python', 'Python rbd + hashlib');
  add('glance-way', 'Glance way (JS re-creation)');
  const sha = u.hashing?.find((x) => x.algo === 'sha512')?.mibPerCpuSecond.median;
  if (sha !== undefined && Number.isFinite(sha)) levels.push({ label: 'sha512 alone, one core', y: sha });
  return lineChart({
    title: `Upload with MD5 + sha512: ${r.input.bytes / 2 ** 20} MiB, ${r.host.cpus} cores, memstore micro cluster`,
    subtitle: `${r.date}; median of ${r.options.reps}; peers (dashed) at ${d} MiB chunks / objects`,
    xLabel: 'chunks in flight (concurrency)',
    yLabel: 'MiB/s',
    xTicks: r.options.concurrency,
    series,
    levels,
  });
}
