import { strict as assert } from 'node:assert';

import { Image, IoCtx, Rbd, RBD_FEATURE_LAYERING } from '../../lib';
import { uniqueName, withPool } from '../helpers/cluster';

const MiB = 1024 * 1024;
const ROUNDS = 20;
/** Long enough for a 2-object operation on the micro cluster to end while the JS thread is held. */
const HOLD_MS = 150;

interface Seen {
  /** What the listener had been called with when the await resumed. */
  atSettle: Array<[number, number]>;
  /** Everything it was called with, one more event-loop turn later. */
  all: Array<[number, number]>;
}

/**
 * Starts a long operation with a listener, then holds the JS thread (as a
 * busy process would) so that its last progress report and its completion
 * are both waiting when the event loop next looks: the two wake-ups then
 * reach JS in one loop turn, the completion's first (libuv's order).
 */
async function runHeld(start: (onProgress: (done: number, total: number) => void) => Promise<void>): Promise<Seen> {
  const all: Array<[number, number]> = [];
  const op = start((done, total) => all.push([done, total]));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, HOLD_MS);
  await op;
  const atSettle = [...all];
  await new Promise<void>((resolve) => setImmediate(resolve));
  return { atSettle, all };
}

/** The listener saw the operation's final report before it settled, and nothing after. */
function assertSettledAfterReports(seen: Seen, last: [number, number], what: string): void {
  assert.ok(seen.atSettle.length >= 1, `${what}: no onProgress call before the await resumed`);
  assert.deepEqual(seen.atSettle.at(-1), last, `${what}: the last report seen before the await resumed`);
  assert.deepEqual(seen.all, seen.atSettle, `${what}: a report delivered after the operation settled`);
}

describe('onProgress: every report comes before the operation settles (real cluster)', function () {
  this.timeout(300_000);
  let ioctx: IoCtx;
  withPool('rbd', (_c, io) => {
    ioctx = io;
  });

  it(`flatten and shrinking resize, ${ROUNDS} rounds each, with the JS thread busy while they run`, async () => {
    const parent = uniqueName('order-parent');
    await Rbd.create(ioctx, parent, 2 * MiB, { order: 20, features: RBD_FEATURE_LAYERING });
    const p = await Image.open(ioctx, parent);
    try {
      await p.write(Buffer.alloc(2 * MiB, 7), 0);
      await p.createSnap('base');
      await p.protectSnap('base');
      for (let round = 0; round < ROUNDS; round++) {
        const child = uniqueName('order-child');
        await Rbd.clone(ioctx, parent, 'base', ioctx, child, { features: RBD_FEATURE_LAYERING });
        const image = await Image.open(ioctx, child);
        try {
          // librbd reports (object, objects) as it starts each object: (1, 2) is the last.
          const flatten = await runHeld((onProgress) => image.flatten({ onProgress }));
          assertSettledAfterReports(flatten, [1, 2], `flatten, round ${round}`);
          // With a signal too (runLong's other path); this shrink trims both objects.
          const signal = new AbortController().signal;
          const resize = await runHeld((onProgress) => image.resize(0, { onProgress, signal }));
          assertSettledAfterReports(resize, [1, 2], `resize, round ${round}`);
        } finally {
          await image.close();
          await Rbd.remove(ioctx, child);
        }
      }
      await p.unprotectSnap('base');
      await p.removeSnap('base');
    } finally {
      await p.close();
      await Rbd.remove(ioctx, parent).catch(() => undefined);
    }
  });
});
