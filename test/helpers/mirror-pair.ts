/**
 * A mirrored pair of micro clusters (scripts/mirror-pair.sh) for tests, and
 * the waits they need: polls with a deadline on the rbd-mirror status, never
 * fixed sleeps.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { Image, Rados, Rbd, mirrorReplayProgress, type IoCtx, type MirrorSiteStatus } from '../../lib';
import { repoRoot } from './cluster';

const run = promisify(execFile);
export const mirrorPairScript = path.join(repoRoot, 'scripts', 'mirror-pair.sh');

export interface MirrorPair {
  /** The sites' directories (DIR/ceph.conf, DIR/mirror/rbd-mirror.pid). */
  dirA: string;
  dirB: string;
  confA: string;
  confB: string;
  radosA: Rados;
  radosB: Rados;
  stop(): Promise<void>;
}

/** Starts a pair in new temp dirs with the given pools mirrored both ways, and connects to both sites. `memstoreBytes`: per OSD (the script's default is 1 GiB). */
export async function startMirrorPair(pools: string[], options: { memstoreBytes?: number } = {}): Promise<MirrorPair> {
  const base = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-mirror-'));
  const [dirA, dirB] = [path.join(base, 'a'), path.join(base, 'b')];
  const stopPair = async (): Promise<void> => {
    await run('bash', [mirrorPairScript, 'stop', dirA, dirB, '--purge']).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  };
  let radosA: Rados | undefined;
  try {
    const memstore = options.memstoreBytes === undefined ? [] : ['--memstore-bytes', String(options.memstoreBytes)];
    await run('bash', [mirrorPairScript, 'start', dirA, dirB, ...pools.flatMap((p) => ['--pool', p]), ...memstore], { maxBuffer: 16 << 20 });
    const confA = path.join(dirA, 'ceph.conf');
    const confB = path.join(dirB, 'ceph.conf');
    radosA = await Rados.connect({ confFile: confA, timeoutMs: 60_000 });
    const radosB = await Rados.connect({ confFile: confB, timeoutMs: 60_000 });
    const a = radosA;
    return {
      dirA,
      dirB,
      confA,
      confB,
      radosA: a,
      radosB,
      async stop() {
        await a.shutdown().catch(() => undefined);
        await radosB.shutdown().catch(() => undefined);
        await stopPair();
      },
    };
  } catch (err) {
    await radosA?.shutdown().catch(() => undefined);
    await stopPair();
    throw err;
  }
}


/** Polls `probe` until it returns a value other than undefined, or fails after `ms` with the last state seen. */
export async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** md5 of `rbd export` of pool/image (optionally @snap) on the cluster of `conf`. */
export function exportMd5(conf: string, pool: string, image: string, snap?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('md5');
    const child = spawn('rbd', ['--conf', conf, 'export', `${pool}/${image}${snap ? `@${snap}` : ''}`, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (d: Buffer) => hash.update(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(hash.digest('hex')) : reject(new Error(`rbd export ${image}: ${code} ${err}`))));
  });
}

/** This site's own status of an image (mirrorUuid ''), or undefined when the image is not there yet. */
export async function localStatus(ioctx: IoCtx, name: string): Promise<MirrorSiteStatus | undefined> {
  let image: Image;
  try {
    image = await Image.open(ioctx, name);
  } catch {
    return undefined;
  }
  try {
    return (await image.mirrorGetGlobalStatus()).siteStatuses.find((s) => s.mirrorUuid === '');
  } finally {
    await image.close();
  }
}

/** Waits until the non-primary copy on `ioctx` is up+replaying and has replayed everything. */
export function waitReplayed(ioctx: IoCtx, name: string, ms: number): Promise<MirrorSiteStatus> {
  return waitFor(`${name} replayed on ${ioctx.pool}`, ms, async () => {
    const s = await localStatus(ioctx, name);
    return s && s.up && s.state === 'replaying' && mirrorReplayProgress(s).caughtUp === true ? s : undefined;
  });
}

/**
 * Waits until `rbd export` of pool/image on `conf` has md5 `want`. The
 * replay status that says "caught up" can be one status refresh old, so a
 * test that needs the data checks the data.
 */
export async function waitExportMd5(conf: string, pool: string, image: string, want: string, ms: number): Promise<void> {
  await waitFor(`${pool}/${image} on ${conf} to have md5 ${want}`, ms, async () => ((await exportMd5(conf, pool, image)) === want ? true : undefined));
}

/**
 * Removes an image whatever its mirroring state (force-disables a
 * non-primary copy first). Retried: the site's rbd-mirror may be deleting
 * the same copy meanwhile.
 */
export async function removeMirrored(ioctx: IoCtx, name: string): Promise<void> {
  await waitFor(`removal of ${name} on ${ioctx.pool}`, 30_000, async () => {
    try {
      const image = await Image.open(ioctx, name);
      try {
        await image.mirrorDisable({ force: true });
      } finally {
        await image.close();
      }
      await Rbd.remove(ioctx, name);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
    return true;
  });
}
