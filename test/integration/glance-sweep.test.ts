/**
 * GlanceStore.sweep() / `ceph-rbd image sweep`: what a killed upload leaves
 * behind is found and removed; a live upload, a completed image and an image
 * the store did not create are never touched.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { GLANCE_UPLOAD_MARK, GlanceStore, Image, type IoCtx, Rbd } from '../../lib';
import { confFile, connect, uniqueName } from '../helpers/cluster';

const repoRoot = path.join(__dirname, '..', '..', '..');
const uploadChild = path.join(__dirname, '..', 'helpers', 'upload-child.js');
const cliBin = path.join(repoRoot, 'dist', 'lib', 'cli', 'main.js');
const POOL = 'images';

/** Starts an upload of `name` in a child process and SIGKILLs it once data is in. */
async function killMidUpload(name: string): Promise<void> {
  const child = spawn(process.execPath, [uploadChild, confFile(), POOL, name], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) resolve();
    });
    child.once('close', (code) => reject(new Error(`upload child exited (${code}) before READY: ${err}`)));
  });
  child.kill('SIGKILL');
  await exited;
}

/** The killed client's watch lingers until the OSD times it out (osd_client_watch_timeout, 30 s). */
async function waitNoWatchers(ioctx: IoCtx, name: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const probe = await Image.open(ioctx, name, { readOnly: true });
    const watchers = await probe.listWatchers().finally(() => probe.close());
    if (watchers.length === 0) return;
    assert.ok(Date.now() < deadline, `the killed upload's watch of ${name} never expired`);
    await sleep(1000);
  }
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cliBin, ...args], { env: { ...process.env, CEPH_CONF: confFile() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('GlanceStore.sweep (abandoned uploads)', function () {
  this.timeout(300_000);

  it('removes an upload killed mid-way; leaves live uploads, completed and foreign images alone', async () => {
    await using cluster = await connect();
    await using ioctx = await cluster.openIoctx(POOL);
    await using store = await GlanceStore.open({ confFile: confFile(), pool: POOL, chunkSizeMiB: 1 });
    const killed = uniqueName('sweep-killed');
    const live = uniqueName('sweep-live');
    const foreign = uniqueName('sweep-foreign');

    // A completed image: its mark is gone once the snapshot is protected.
    const done = await store.add(uniqueName('sweep-done'), Buffer.alloc(3 * 1024 * 1024, 7), 3 * 1024 * 1024);
    const doneName = done.location.split('/')[4];
    // An image without a snapshot that no GlanceStore created.
    await Rbd.create(ioctx, foreign, 1024 * 1024);
    // A process killed in the middle of add().
    await killMidUpload(killed);
    await withImageRO(ioctx, killed, async (image) => {
      assert.deepEqual(await image.listSnaps(), [], 'the killed upload left an image without its snapshot');
      assert.ok(!Number.isNaN(Date.parse(await image.metadataGet(GLANCE_UPLOAD_MARK))), 'marked as an upload in progress');
    });
    // A live upload by another client (its source has not ended).
    const abort = new AbortController();
    let fed = 0;
    const src = new Readable({
      read() {
        if (fed++ === 0) this.push(Buffer.alloc(1024 * 1024, 1));
      },
    });
    const liveAdd = store.add(live, src, 0, { signal: abort.signal });
    const liveSettled = liveAdd.catch((e: unknown) => e);
    await waitMarked(ioctx, live);

    try {
      // While the killed client's watch lingers, its image counts as in use.
      const early = await store.sweep({ olderThanMs: 0, dryRun: true });
      assert.ok(early.busy.includes(live), 'a live upload is reported in use');
      await waitNoWatchers(ioctx, killed);

      const dry = await store.sweep({ olderThanMs: 0, dryRun: true });
      assert.equal(dry.dryRun, true);
      const found = dry.images.find((i) => i.image === killed);
      assert.ok(found, `dry run reports the killed upload: ${JSON.stringify(dry)}`);
      assert.equal(found.removed, false);
      for (const name of [live, foreign, doneName]) assert.ok(!dry.images.some((i) => i.image === name), `${name} is not reported`);
      assert.ok((await Rbd.list(ioctx)).includes(killed), 'dry run removes nothing');

      // Too recent for the age bound: left alone.
      const young = await store.sweep({ olderThanMs: 3_600_000 });
      assert.ok(!young.images.some((i) => i.image === killed));

      // The CLI reports it in a dry run too.
      const ran = await cli(['image', 'sweep', '--pool', POOL, '--older-than', '0', '--dry-run', '--json']);
      assert.equal(ran.code, 0, ran.stderr);
      const cliResult = JSON.parse(ran.stdout) as { images: Array<{ image: string; removed: boolean }> };
      assert.ok(cliResult.images.some((i) => i.image === killed && !i.removed), ran.stdout);

      const swept = await store.sweep({ olderThanMs: 0 });
      assert.ok(swept.images.some((i) => i.image === killed && i.removed), JSON.stringify(swept));
      const left = await Rbd.list(ioctx);
      assert.ok(!left.includes(killed), 'the killed upload is gone');
      for (const name of [live, foreign, doneName]) assert.ok(left.includes(name), `${name} is untouched`);
      assert.equal(await store.getSize(done.location), 3 * 1024 * 1024);
    } finally {
      abort.abort();
      await liveSettled;
      await Rbd.remove(ioctx, foreign).catch(() => undefined);
      await store.delete(done.location).catch(() => undefined);
      await Rbd.remove(ioctx, killed).catch(() => undefined);
    }
    assert.ok(!(await Rbd.list(ioctx)).includes(live), 'the aborted live upload removed itself');
  });

  it('checks its options', async () => {
    await using store = await GlanceStore.open({ confFile: confFile(), pool: POOL });
    await assert.rejects(store.sweep({ olderThanMs: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(store.sweep({ olderThanMs: Number.NaN }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(store.sweep({ dryRun: 'yes' as unknown as boolean }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const ran = await cli(['image', 'sweep', '--older-than', '-5']);
    assert.notEqual(ran.code, 0);
  });
});

async function withImageRO(ioctx: IoCtx, name: string, fn: (image: Image) => Promise<void>): Promise<void> {
  const image = await Image.open(ioctx, name, { readOnly: true });
  try {
    await fn(image);
  } finally {
    await image.close();
  }
}

async function waitMarked(ioctx: IoCtx, name: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      let marked = false;
      await withImageRO(ioctx, name, async (image) => {
        marked = (await image.metadataGet(GLANCE_UPLOAD_MARK)) !== '';
      });
      if (marked) return;
    } catch {
      // not created yet
    }
    await sleep(50);
  }
  assert.fail(`${name} was never marked`);
}
