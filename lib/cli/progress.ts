/**
 * Progress bars (cli-progress) on stderr, only when stderr is a terminal
 * (or with --progress); stdout stays clean for data and --json.
 */
import { SingleBar } from 'cli-progress';

import { type CommonOptions, MiB } from './common';

export interface Progress {
  /** Reports progress: `done` out of `total` (bytes or librbd's units). */
  update(done: number, total?: number): void;
  /** Draws the final state (full when `completed`) and releases the terminal line. Idempotent. */
  stop(completed?: boolean): void;
}

const none: Progress = { update: () => undefined, stop: () => undefined };

function enabled(o: CommonOptions): boolean {
  if (o.progress === false) return false;
  if (o.progress === true) return true;
  return process.stderr.isTTY === true;
}

/** One cli-progress bar on stderr with the look every bar of the CLI shares. */
function newBar(format: string, extra: { etaBuffer?: number } = {}): SingleBar {
  return new SingleBar({
    format,
    stream: process.stderr,
    barsize: 30,
    hideCursor: true,
    noTTYOutput: process.stderr.isTTY !== true,
    notTTYSchedule: 1000,
    fps: 10,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    ...extra,
  });
}

/**
 * A byte-counting bar: `upload  [████░░░░] 42% | 108/256 MiB | 95 MiB/s | ETA 2s`.
 * `total` undefined (a stream of unknown length): bytes and rate only.
 */
export function bytesBar(o: CommonOptions, label: string, total: number | undefined): Progress {
  if (!enabled(o)) return none;
  const known = total !== undefined && total > 0;
  const format = known
    ? `${label.padEnd(8)} [{bar}] {percentage}% | {doneMiB}/{totalMiB} MiB | {rate} MiB/s | ETA {eta_formatted}`
    : `${label.padEnd(8)} {doneMiB} MiB | {rate} MiB/s | {duration_formatted}`;
  const bar = newBar(format, { etaBuffer: 20 });
  const t0 = Date.now();
  const payload = (done: number, all: number | undefined) => {
    const secs = (Date.now() - t0) / 1000;
    return {
      doneMiB: (done / MiB).toFixed(done >= 100 * MiB ? 0 : 1),
      totalMiB: all !== undefined ? (all / MiB).toFixed(all >= 100 * MiB ? 0 : 1) : '?',
      rate: secs > 0 ? (done / MiB / secs).toFixed(0) : '0',
    };
  };
  bar.start(known ? total : 0, 0, payload(0, total));
  let stopped = false;
  return {
    update(done, all) {
      if (stopped) return;
      const t = all !== undefined && all > 0 ? all : total;
      if (t !== undefined && known && t !== bar.getTotal()) bar.setTotal(t);
      bar.update(done, payload(done, t));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      // Draws the last update as it was (the rate of the data, not of what came after).
      bar.stop();
    },
  };
}

/** A bar for librbd's long operations (flatten, copy, remove), in its own units (objects). */
export function opsBar(o: CommonOptions, label: string): Progress {
  if (!enabled(o)) return none;
  const bar = newBar(`${label.padEnd(8)} [{bar}] {percentage}% | {value}/{total} objects | {duration_formatted}`);
  let started = false;
  let stopped = false;
  return {
    update(done, total) {
      if (stopped) return;
      if (!started) {
        started = true;
        bar.start(total ?? 0, done);
        return;
      }
      if (total !== undefined && total !== bar.getTotal()) bar.setTotal(total);
      bar.update(done);
    },
    stop(completed = false) {
      if (stopped) return;
      stopped = true;
      if (!started) return;
      // librbd's last report can be one object short of the total.
      if (completed) bar.update(bar.getTotal());
      bar.stop();
    },
  };
}

/** A percent bar with a free-text suffix, e.g. `sync     [████░░░░] 42% | 3/5 images replaying`. */
export function percentBar(o: CommonOptions, label: string): Progress & { note(text: string): void } {
  if (!enabled(o)) return { ...none, note: () => undefined };
  const bar = newBar(`${label.padEnd(8)} [{bar}] {percentage}% | {note}`);
  let note = '';
  bar.start(100, 0, { note });
  let stopped = false;
  return {
    note(text) {
      note = text;
    },
    update(done) {
      if (stopped) return;
      bar.update(Math.max(0, Math.min(100, Math.round(done))), { note });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
