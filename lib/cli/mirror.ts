/**
 * `ceph-rbd mirror status`: a pool's RBD mirroring as this site sees it
 * (mode, site name, peers, per image: role, this site's replay state and
 * the peers'), with a progress bar of the initial sync of the non-primary
 * copies (`--watch` polls until every one is replaying and caught up).
 */
import type { Command } from 'commander';

import { ImageNotFound } from '../errors';
import { withImage } from '../internal/image';
import { sleep } from '../internal/retry';
import { Rados, type IoCtx } from '../rados';
import { RbdMirror, mirrorReplayProgress, mirrorSyncPercent, type MirrorSiteStatus } from '../rbd-mirror';
import { addCommonOptions, collect, type CommonOptions, commonOptions, connectOptions, interruptSignal, output, parseInteger, table, target } from './common';
import { percentBar } from './progress';

interface StatusOpts {
  pool: string;
  watch?: boolean;
  interval: number;
  maxWait: number;
  image?: string[];
}

export interface SiteView {
  /** 'local' or the peer's site name. */
  site: string;
  up: boolean;
  state: string;
  description: string;
}

export interface ImageView {
  name: string;
  id: string;
  /** Mirroring state of the image ('enabled', 'disabling', …). */
  mirroring: string;
  /** 'primary' or 'non-primary' on this site (null when the image could not be opened). */
  role: 'primary' | 'non-primary' | null;
  local: SiteView | null;
  peers: SiteView[];
  /** Initial-sync progress of a non-primary copy in percent (100 once replaying), null when not known. */
  syncPercent: number | null;
  /** A non-primary copy that replays and has replayed everything the primary reported. */
  caughtUp: boolean | null;
}

export interface PoolMirrorView {
  pool: string;
  mode: string;
  siteName: string;
  peers: Array<{ siteName: string; direction: string; uuid: string }>;
  summary: Record<string, number>;
  images: ImageView[];
}

function site(name: string, s: MirrorSiteStatus): SiteView {
  return { site: name, up: s.up, state: s.state, description: s.description };
}

async function roleOf(ioctx: IoCtx, name: string): Promise<ImageView['role']> {
  try {
    return await withImage(ioctx, name, { readOnly: true }, async (img) => ((await img.mirrorGetInfo()).primary ? 'primary' : 'non-primary'));
  } catch (err) {
    if (err instanceof ImageNotFound) return null;
    throw err;
  }
}

/** Everything `mirror status` shows, read once; `only`: just these images. */
export async function poolMirrorView(rados: Rados, ioctx: IoCtx, pool: string, only?: ReadonlySet<string>): Promise<PoolMirrorView> {
  const mode = await RbdMirror.getMode(ioctx);
  const peers = mode === 'disabled' ? [] : await RbdMirror.listPeers(ioctx);
  const siteOf = new Map(peers.map((p) => [p.mirrorUuid, p.siteName]));
  const images: ImageView[] = [];
  if (mode !== 'disabled') {
    for await (const { id, status } of RbdMirror.imageStatuses(ioctx)) {
      if (only && !only.has(status.name)) continue;
      const local = status.siteStatuses.find((s) => s.mirrorUuid === '');
      const role = await roleOf(ioctx, status.name);
      const nonPrimary = role === 'non-primary' && local !== undefined;
      images.push({
        name: status.name,
        id,
        mirroring: status.info.state,
        role,
        local: local ? site('local', local) : null,
        peers: status.siteStatuses.filter((s) => s.mirrorUuid !== '').map((s) => site(siteOf.get(s.mirrorUuid) ?? s.mirrorUuid, s)),
        syncPercent: nonPrimary ? mirrorSyncPercent(local) : null,
        caughtUp: nonPrimary ? mirrorReplayProgress(local).caughtUp : null,
      });
    }
  }
  return {
    pool,
    mode,
    siteName: await RbdMirror.getSiteName(rados),
    peers: peers.map((p) => ({ siteName: p.siteName, direction: p.direction, uuid: p.uuid })),
    summary: mode === 'disabled' ? {} : (await RbdMirror.imageStatusSummary(ioctx)) as Record<string, number>,
    images,
  };
}

/**
 * The non-primary copies' overall initial-sync progress (the mean of their
 * percents, unknown = 0) and how many are caught up; `expected` images
 * (named with --image) that are not there yet count as replicas at 0%.
 */
export function overallSync(view: PoolMirrorView, expected = 0): { percent: number; replicas: number; caughtUp: number } {
  const replicas = view.images.filter((i) => i.role === 'non-primary');
  const total = Math.max(replicas.length, expected);
  if (total === 0) return { percent: 100, replicas: 0, caughtUp: 0 };
  const sum = replicas.reduce((acc, i) => acc + (i.syncPercent ?? 0), 0);
  return { percent: sum / total, replicas: total, caughtUp: replicas.filter((i) => i.caughtUp === true).length };
}

function lines(v: PoolMirrorView): string[] {
  const out = [
    `pool       ${v.pool} (mirror mode ${v.mode}), this site ${v.siteName}`,
    `peers      ${v.peers.map((p) => `${p.siteName} (${p.direction})`).join(', ') || '-'}`,
    `summary    ${Object.entries(v.summary).map(([k, n]) => `${k} ${n}`).join(', ') || '-'}`,
  ];
  if (v.images.length === 0) return [...out, 'no mirrored images'];
  const state = (s: SiteView | null) => (s ? `${s.up ? 'up' : 'down'}+${s.state}` : '-');
  const sync = (i: ImageView) => {
    if (i.role !== 'non-primary') return '-';
    if (i.caughtUp) return 'caught up';
    if (i.syncPercent === 100) return 'behind';
    return i.syncPercent === null ? '-' : `${i.syncPercent}%`;
  };
  return [
    ...out,
    ...table(
      ['IMAGE', 'ROLE', 'LOCAL', 'SYNC', 'PEERS', 'DESCRIPTION'],
      v.images.map((i) => [i.name, i.role ?? '-', state(i.local), sync(i), i.peers.map((p) => `${p.site}:${state(p)}`).join(' ') || '-', i.local?.description ?? '-']),
    ),
  ];
}

async function status(o: CommonOptions, opts: StatusOpts): Promise<void> {
  const rados = await Rados.connect(connectOptions(target(o)));
  try {
    const ioctx = await rados.openIoctx(opts.pool);
    const only = opts.image ? new Set(opts.image) : undefined;
    let view = await poolMirrorView(rados, ioctx, opts.pool, only);
    if (opts.watch) {
      const signal = interruptSignal();
      const bar = percentBar(o, 'sync');
      const deadline = Date.now() + opts.maxWait * 1000;
      try {
        for (;;) {
          const s = overallSync(view, only?.size);
          bar.note(`${s.caughtUp}/${s.replicas} replicas caught up`);
          bar.update(s.percent);
          if (s.caughtUp === s.replicas || signal.aborted || (opts.maxWait > 0 && Date.now() > deadline)) break;
          await sleep(opts.interval * 1000);
          view = await poolMirrorView(rados, ioctx, opts.pool, only);
        }
      } finally {
        bar.stop();
      }
      signal.throwIfAborted();
    }
    const sync = overallSync(view, only?.size);
    output(o, { ...view, sync }, () => lines(view));
    if (opts.watch && sync.caughtUp !== sync.replicas) {
      process.stderr.write(`ceph-rbd: not every replica caught up within ${opts.maxWait} s\n`);
      process.exitCode = 1;
    }
  } finally {
    await rados.shutdown();
  }
}

export function registerMirror(program: Command): void {
  const mirror = program.command('mirror').description('RBD mirroring between clusters (rbd-mirror daemons replicate; see scripts/mirror-pair.sh)');
  addCommonOptions(mirror.command('status'))
    .description("a pool's mirroring as this site sees it: peers, per image role and replay state, initial sync progress")
    .option('--pool <pool>', 'mirrored pool', 'rbd')
    .option('--image <name>', 'only this image (repeatable)', collect)
    .option('--watch', 'poll (with a progress bar on stderr) until every non-primary copy is replaying and caught up; exit 1 if --max-wait ran out')
    .option('--interval <seconds>', 'seconds between polls with --watch', parseInteger(1, 3600), 2)
    .option('--max-wait <seconds>', 'give up watching after this long; 0 = until interrupted', parseInteger(0, 86400 * 7), 600)
    .action((opts: StatusOpts, cmd: Command) => status(commonOptions(cmd), opts));
}
