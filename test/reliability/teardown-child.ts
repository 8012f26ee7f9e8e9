/**
 * Child process of the teardown tests (teardown.ts): each mode ends an
 * environment with calls in flight, the way a crash-prone service would.
 * Prints `READY` once the calls are in flight (where the parent waits for
 * it), `RESULT {...}` at the end of the modes that report something.
 *
 * argv: confFile mode image [rounds]
 *   worker-terminate  a worker_thread opens the image (exclusive lock taken
 *                     by a write), keeps stat/aioWrite/createSnap/Rbd.list/
 *                     read/sparsify (with onProgress) calls in flight; the
 *                     main thread terminates it `rounds` times (a new
 *                     worker each round).
 *   worker-watches    the same, and the worker also holds a rados watch, an
 *                     rbd update watch and a quiesce watch whose callbacks
 *                     fire (notify, resize) while rados aio and compound
 *                     ops are in flight.
 *   exit-mid-call     opens the image, takes the exclusive lock, starts
 *                     blocking and aio calls, process.exit(0) while they run.
 *   detach-read       aioReadInto / readInto a Buffer, then transfers its
 *                     ArrayBuffer and collects the original while the read
 *                     is in flight.
 *   detach-write      the same with aioWrite / write.
 */
import { strict as assert } from 'node:assert';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

import { Image, type IoCtx, Rados, Rbd } from '../../lib';

interface Data {
  confFile: string;
  image: string;
  watches?: boolean;
}

async function open(confFile: string): Promise<{ cluster: Rados; ioctx: IoCtx }> {
  const cluster = await Rados.connect({ confFile, timeoutMs: 60_000 });
  return { cluster, ioctx: await cluster.openIoctx('rbd') };
}

/** Keeps a mix of calls in flight on `image` until the environment ends. */
function keepBusy(ioctx: IoCtx, image: Image, onStarted: () => void): void {
  let round = 0;
  const block = Buffer.alloc(64 * 1024, 7);
  const step = async (): Promise<void> => {
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 8; i++) {
      calls.push(image.stat());
      calls.push(image.aioWrite(block, i * block.length));
      calls.push(image.read(0, 4096));
      calls.push(Rbd.list(ioctx));
      calls.push(image.flush());
    }
    calls.push(image.createSnap(`busy-${round++}`));
    // A progress report and the completion that delivers it may be pending at teardown.
    calls.push(image.sparsify(4096, { onProgress: () => undefined }));
    if (round === 1) onStarted();
    await Promise.allSettled(calls);
  };
  const loop = (): void => {
    step().then(loop, loop);
  };
  loop();
}

/**
 * Watch callbacks (rados watch, rbd update and quiesce watch) firing while
 * rados aio and compound ops are in flight, until the environment ends.
 */
async function keepWatching(ioctx: IoCtx, image: Image, oid: string): Promise<void> {
  await ioctx.writeFull(oid, Buffer.from('watched'));
  await ioctx.watch(oid, () => 'ack');
  await image.watchUpdates(() => undefined);
  await image.watchQuiesce({ onQuiesce: () => undefined });
  const block = Buffer.alloc(4096, 3);
  let size = 4 * 1024 * 1024;
  const step = async (): Promise<void> => {
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 8; i++) {
      calls.push(ioctx.aioWrite(oid, block, i * block.length));
      calls.push(ioctx.aioRead(oid, 4096, 0));
      calls.push(ioctx.aioStat(oid));
      calls.push(ioctx.writeOp(oid).setXattr('k', Buffer.from(String(i))).write(block, 0).operate());
      calls.push(ioctx.readOp(oid).stat().read(0, 4096).operate());
    }
    calls.push(ioctx.notify(oid, 'ping', { timeoutMs: 5000 }));
    size += 4096;
    calls.push(image.resize(size)); // an update event for the watch
    await Promise.allSettled(calls);
  };
  const loop = (): void => {
    step().then(loop, loop);
  };
  loop();
}

async function workerMain(data: Data): Promise<void> {
  const { ioctx } = await open(data.confFile);
  const image = await Image.open(ioctx, data.image);
  await image.write(Buffer.from('worker'), 0); // takes the exclusive lock
  if (data.watches) await keepWatching(ioctx, image, `${data.image}.watched`);
  keepBusy(ioctx, image, () => parentPort?.postMessage('busy'));
}

async function workerTerminate(confFile: string, name: string, rounds: number, watches = false): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const worker = new Worker(__filename, { workerData: { confFile, image: name, watches } satisfies Data });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was busy`)));
    });
    // Let the calls pile up a little, then end the worker in the middle of them.
    await new Promise((r) => setTimeout(r, 20 + 10 * i));
    const code = await worker.terminate();
    assert.equal(code, 1, 'terminate() reports exit code 1');
  }
  console.log(`RESULT ${JSON.stringify({ rounds })}`);
}

async function exitMidCall(confFile: string, name: string): Promise<void> {
  const { ioctx } = await open(confFile);
  const image = await Image.open(ioctx, name);
  await image.write(Buffer.from('exit'), 0); // takes the exclusive lock
  keepBusy(ioctx, image, () => {
    console.log('READY');
    // Every call above is in flight (none settled yet): exit now.
    process.exit(0);
  });
}

function transfer(buffer: Buffer): ArrayBuffer {
  const ab = buffer.buffer as ArrayBuffer;
  return structuredClone(ab, { transfer: [ab] });
}

/**
 * The buffer's ArrayBuffer transferred (and the original collected) while a
 * read or write uses it: the memory stays valid until the call settles, the
 * call completes in full, a read's bytes land in the transferred buffer.
 */
async function detach(confFile: string, name: string, write: boolean): Promise<void> {
  const { cluster, ioctx } = await open(confFile);
  const image = await Image.open(ioctx, name);
  const size = 64 * 1024 * 1024; // large enough for the allocator to unmap it when freed
  await image.write(Buffer.alloc(size, 0x5a), 0);
  const results: boolean[] = [];
  for (const aio of [true, false]) {
    for (let round = 0; round < 2; round++) {
      let buffer: Buffer | null = Buffer.alloc(size, write ? 0x5a : 1);
      let op: Promise<number>;
      if (write) op = aio ? image.aioWrite(buffer, 0) : image.write(buffer, 0);
      else op = aio ? image.aioReadInto(0, buffer) : image.readInto(0, buffer);
      // Odd rounds keep the transferred memory (to check the bytes read),
      // even ones drop it at once: then only the call's Pin keeps it alive.
      const keep = round % 2 === 1;
      // (Not bound to a local when dropped: an async function keeps its locals alive across awaits.)
      const moved = keep ? new Uint8Array(transfer(buffer)) : (transfer(buffer), null);
      assert.equal(buffer.length, 0, 'detached');
      buffer = null;
      // Collect (and let V8's ArrayBuffer sweeper free) whatever is garbage
      // while the call runs, and allocate what would reuse freed memory.
      let settled = false;
      void op.finally(() => (settled = true)).catch(() => undefined);
      const fillers: Buffer[] = [];
      while (!settled) {
        globalThis.gc?.();
        if (fillers.length < 2) fillers.push(Buffer.alloc(size, 0xee));
        await new Promise((r) => setTimeout(r, 1));
      }
      const n = await op;
      // Had the call's memory been freed and reused, librbd wrote into these.
      for (const f of fillers) assert.ok(f.every((b) => b === 0xee), 'no write into memory the call did not own');
      assert.equal(n, size, 'the call used the whole buffer');
      if (!write && moved) assert.ok(moved.every((b) => b === 0x5a), 'the bytes read are in the transferred buffer');
      results.push(true);
    }
  }
  assert.deepEqual(await image.read(0, 16), Buffer.alloc(16, 0x5a));
  globalThis.gc?.();
  await image.close();
  await cluster.shutdown();
  console.log(`RESULT ${JSON.stringify({ calls: results.length })}`);
}

async function main(): Promise<void> {
  const [confFile, mode, name, rounds] = process.argv.slice(2);
  if (mode === 'worker-terminate') return workerTerminate(confFile, name, Number(rounds ?? 1));
  if (mode === 'worker-watches') return workerTerminate(confFile, name, Number(rounds ?? 1), true);
  if (mode === 'exit-mid-call') return exitMidCall(confFile, name);
  if (mode === 'detach-read') return detach(confFile, name, false);
  if (mode === 'detach-write') return detach(confFile, name, true);
  throw new Error(`unknown mode ${mode}`);
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  workerMain(workerData as Data).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
