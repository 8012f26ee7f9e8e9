/**
 * RBD mirroring, the long version: replay lag of 64 MiB from site A to site B
 * in journal and snapshot mode, an orderly failover (demote A + promote B),
 * and what the two rbd-mirror daemons cost (RSS, idle CPU). Figures go to
 * docs/RELIABILITY.md through recordFigure.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { Image, Rbd, RBD_FEATURE_EXCLUSIVE_LOCK, RBD_FEATURE_LAYERING, SnapNamespaceType, type IoCtx } from '../../lib';
import { uniqueName } from '../helpers/cluster';
import { type MirrorPair, localStatus, removeMirrored, startMirrorPair, waitExportMd5, waitFor, waitReplayed } from '../helpers/mirror-pair';
import { recordFigure, seconds } from './support';

const POOL = 'volumes';
const SIZE = 64 << 20;

/** utime + stime (clock ticks) and VmRSS (KiB) of a pid. */
function usage(pid: number): { ticks: number; rssKiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { ticks: Number(fields[11]) + Number(fields[12]), rssKiB: rss ? Number(rss[1]) : 0 };
}

async function writeAll(image: Image, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; off += 8 << 20) await image.write(data.subarray(off, off + (8 << 20)), off);
  await image.flush();
}

describe('RBD mirroring: replay lag and daemon cost (mirrored pair)', function () {
  this.timeout(300_000);
  let pair: MirrorPair | undefined;
  let ioA: IoCtx;
  let ioB: IoCtx;

  before(async function () {
    this.timeout(240_000);
    pair = await startMirrorPair([POOL]);
    ioA = await pair.radosA.openIoctx(POOL);
    ioB = await pair.radosB.openIoctx(POOL);
  });

  after(async function () {
    this.timeout(120_000);
    await pair?.stop();
  });

  it('rbd-mirror daemons: RSS and idle CPU', async function () {
    this.timeout(60_000);
    const p = pair as MirrorPair;
    const pids = [p.dirA, p.dirB].map((d) => Number(readFileSync(path.join(d, 'mirror', 'rbd-mirror.pid'), 'utf8').trim()));
    const before = pids.map(usage);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 20_000)); // the idle window measured
    const after = pids.map(usage);
    const wallS = (Date.now() - t0) / 1000;
    const cpuPct = after.map((u, i) => ((u.ticks - before[i].ticks) / 100 / wallS) * 100);
    for (const u of after) assert.ok(u.rssKiB > 0);
    recordFigure({
      suite: 'long',
      test: 'mirror: rbd-mirror daemon cost',
      tried: 'two rbd-mirror daemons of a mirrored pair, idle for 20 s (one pool, no images)',
      held: 'measured',
      figures: {
        rssMiB: after.map((u) => (u.rssKiB / 1024).toFixed(0)).join('+'),
        idleCpuPct: cpuPct.map((c) => c.toFixed(1)).join('+'),
      },
    });
  });

  it('journal mode: 64 MiB replayed A -> B, orderly failover and the way back', async () => {
    const name = uniqueName('lag-journal');
    await Rbd.create(ioA, name, SIZE, { features: RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK });
    const a = await Image.open(ioA, name);
    try {
      let t = Date.now();
      await a.mirrorEnable('journal');
      await waitFor('up+replaying on B', 120_000, async () => {
        const s = await localStatus(ioB, name);
        return s?.up && s.state === 'replaying' ? s : undefined;
      });
      const startMs = Date.now() - t;
      const data = randomBytes(SIZE);
      t = Date.now();
      await writeAll(a, data);
      const writeMs = Date.now() - t;
      t = Date.now();
      await waitReplayed(ioB, name, 240_000);
      const want = createHash('md5').update(data).digest('hex');
      await waitExportMd5((pair as MirrorPair).confB, POOL, name, want, 120_000);
      const lagMs = Date.now() - t;

      const b = await Image.open(ioB, name);
      let failoverMs = 0;
      let backMs = 0;
      try {
        t = Date.now();
        await a.mirrorDemote();
        await waitFor('promote on B', 60_000, async () => {
          await b.mirrorPromote();
          return true;
        });
        failoverMs = Date.now() - t;
        const patch = randomBytes(1 << 20);
        await b.write(patch, 0);
        await b.flush();
        t = Date.now();
        await waitReplayed(ioA, name, 120_000);
        backMs = Date.now() - t;
        await b.mirrorDisable();
      } finally {
        await b.close();
      }
      recordFigure({
        suite: 'long',
        test: 'mirror: journal replay lag (64 MiB)',
        tried: 'journal-mode image: 64 MiB of random data written on A; demote A + promote B; 1 MiB written on B',
        held: 'B replayed it (md5 of rbd export equal); B promoted; A replayed B\'s write',
        figures: { enableToReplayingS: seconds(startMs), write64MiBS: seconds(writeMs), lag64MiBS: seconds(lagMs), failoverMs, backLag1MiBS: seconds(backMs) },
      });
    } finally {
      await a.close();
      await removeMirrored(ioB, name);
      await removeMirrored(ioA, name);
    }
  });

  it('snapshot mode: 64 MiB copied A -> B by one mirror snapshot', async () => {
    const name = uniqueName('lag-snap');
    await Rbd.create(ioA, name, SIZE, { features: RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK });
    const a = await Image.open(ioA, name);
    try {
      let t = Date.now();
      await a.mirrorEnable('snapshot');
      await waitReplayed(ioB, name, 120_000);
      const startMs = Date.now() - t;
      const data = randomBytes(SIZE);
      await writeAll(a, data);
      t = Date.now();
      const id = await a.mirrorCreateSnapshot();
      // Copied when B holds a complete non-primary snapshot of primary snapshot `id`.
      await waitFor('mirror snapshot copied to B', 240_000, async () => {
        const b = await Image.open(ioB, name, { readOnly: true });
        try {
          for (const s of await b.listSnaps()) {
            if (s.namespaceType !== SnapNamespaceType.MIRROR) continue;
            const ns = await b.snapGetMirrorNamespace(s.id);
            if (ns.primarySnapId === id && ns.complete) return true;
          }
          return undefined;
        } finally {
          await b.close();
        }
      });
      await waitExportMd5((pair as MirrorPair).confB, POOL, name, createHash('md5').update(data).digest('hex'), 120_000);
      const lagMs = Date.now() - t;
      recordFigure({
        suite: 'long',
        test: 'mirror: snapshot replay lag (64 MiB)',
        tried: 'snapshot-mode image: 64 MiB written on A, then one mirror snapshot',
        held: 'B holds the complete snapshot; md5 of rbd export equal',
        figures: { enableToReplayingS: seconds(startMs), lag64MiBS: seconds(lagMs) },
      });
      await a.mirrorDisable();
    } finally {
      await a.close();
      await removeMirrored(ioA, name);
      await removeMirrored(ioB, name);
    }
  });
});
