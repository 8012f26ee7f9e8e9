/**
 * CPU accounting for one measured run: the client (this process, all its
 * threads: JS, libuv workers, librados/librbd), the cluster's daemons (the
 * OSD above all: on a 2-core machine it competes with the client), and the
 * whole machine (others' work shows up there as noise).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux's USER_HZ: the unit of the times in /proc/<pid>/stat. */
const HZ = 100;

/** utime + stime of a process, in seconds; NaN when it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'latin1')).self;
  } catch {
    return Number.NaN;
  }
}

/**
 * From the text of /proc/<pid>/stat: the process's own CPU seconds and those
 * of the children it has waited for (cutime + cstime).
 */
export function statFields(stat: string): { self: number; children: number } {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime = field 14, stime 15, cutime 16, cstime 17.
  const n = (i: number) => Number(f[i - 3]);
  return { self: (n(14) + n(15)) / HZ, children: (n(16) + n(17)) / HZ };
}

/** Busy core-seconds of the whole machine so far (all CPUs, not idle or iowait). */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return (total - idle) / HZ;
}

export interface CpuUse {
  /** CPU seconds of this process (all threads) during the run. */
  client: number;
  /** CPU seconds of the cluster's daemons (OSDs, mon, mgr) during the run; NaN when unknown. */
  cluster: number;
  /** Busy core-seconds of the whole machine during the run. */
  machine: number;
}

/** Starts measuring; the returned function ends the measurement. */
export function cpuMeter(daemonPids: readonly number[]): () => CpuUse {
  const c0 = process.cpuUsage();
  const d0 = daemonPids.map(processCpuSeconds);
  const m0 = machineBusySeconds();
  return () => {
    const c = process.cpuUsage(c0);
    const d1 = daemonPids.map(processCpuSeconds);
    const cluster = daemonPids.length === 0 ? Number.NaN : d1.reduce((sum, v, i) => sum + (v - d0[i]), 0);
    return { client: (c.user + c.system) / 1e6, cluster, machine: machineBusySeconds() - m0 };
  };
}

/** CPU seconds per thread of a process, keyed "tid name" (from /proc/<pid>/task/<tid>/stat); the main thread is 'name(main)'. */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      // A process's main thread has tid = pid (for node: the JS thread; its
      // libuv workers carry the same name, 'node').
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const name = tid === String(pid) ? `${comm}(main)` : comm;
      out.set(`${tid} ${name}`, statFields(stat).self);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/**
 * Per thread-name CPU seconds between two threadCpu() snapshots, threads of
 * one name summed (e.g. all 'msgr-worker-*' under 'msgr-worker-#').
 */
export function threadDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, v] of after) {
    const d = v - (before.get(key) ?? 0);
    if (d <= 0) continue;
    const name = key.slice(key.indexOf(' ') + 1).replace(/\d+$/, '#');
    out.set(name, (out.get(name) ?? 0) + d);
  }
  return out;
}
