/**
 * What the Cinder driver's integration tests share: connections to both
 * pools, a driver, unique volume ids that are cleaned up after each test,
 * and small readers of the pool state. Call cinderHarness() inside a
 * describe(); it registers the hooks.
 */
import { randomUUID } from 'node:crypto';

import { Image, type IoCtx, Rados, Rbd, RbdVolumeDriver, type RbdVolumeDriverOptions, type Snapshot, type Volume } from '../../lib';
import { confFile, connect, purgeImages } from './cluster';

export interface CinderState {
  cluster: Rados;
  second: Rados;
  rbd: IoCtx;
  images: IoCtx;
  secondRbd: IoCtx;
  fsid: string;
  driver: RbdVolumeDriver;
}

export function cinderHarness() {
  let state: CinderState | undefined;
  const drivers: RbdVolumeDriver[] = [];
  /** Ids whose images (in rbd and images, trash included) each test removes afterwards. */
  let tracked = new Set<string>();
  const s = (): CinderState => {
    if (!state) throw new Error('cinderHarness: used before its before() hook ran');
    return state;
  };

  async function openDriver(options: RbdVolumeDriverOptions = {}): Promise<RbdVolumeDriver> {
    const logger = process.env.CINDER_TEST_LOG ? { debug: console.log, info: console.log, warn: console.log, error: console.log } : undefined;
    const d = await RbdVolumeDriver.open({ confFile: confFile(), connectionIntervalMs: 50, connectTimeoutMs: 60_000, logger, ...options });
    drivers.push(d);
    return d;
  }

  function track(id: string): void {
    tracked.add(id);
  }

  function vol(size = 1, extra: Partial<Volume> = {}): Required<Pick<Volume, 'id' | 'name' | 'size'>> & Volume {
    const id = randomUUID();
    tracked.add(id);
    return { id, name: `volume-${id}`, size, ...extra };
  }

  function snapOf(v: Volume & { name: string }): Snapshot & { name: string } {
    const id = randomUUID();
    return { id, name: `snapshot-${id}`, volumeName: v.name, volumeSize: v.size };
  }

  function mine(name: string): boolean {
    for (const id of tracked) if (name.includes(id)) return true;
    return false;
  }

  async function names(ioctx: IoCtx = s().rbd): Promise<string[]> {
    return (await Rbd.list(ioctx)).filter(mine).sort();
  }

  async function trashNames(ioctx: IoCtx = s().rbd): Promise<string[]> {
    return (await Rbd.trashList(ioctx)).filter((e) => mine(e.name)).map((e) => e.name).sort();
  }

  /** Snapshots as `name` or `name (protected)`. */
  async function snaps(name: string, ioctx: IoCtx = s().rbd): Promise<string[]> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      return (await img.listSnaps()).map((sn) => (sn.protected ? `${sn.name} (protected)` : sn.name)).sort();
    } finally {
      await img.close();
    }
  }

  /** `pool/image@snap` of a clone, null for a flat image. */
  async function parent(name: string, ioctx: IoCtx = s().rbd): Promise<string | null> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      const p = await img.parentInfo();
      return `${p.pool}/${p.image}@${p.snapshot}`;
    } catch {
      return null;
    } finally {
      await img.close();
    }
  }

  async function sizeOf(name: string, ioctx: IoCtx = s().rbd): Promise<number> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      return await img.size();
    } finally {
      await img.close();
    }
  }

  before(async () => {
    const cluster = await connect();
    const second = await connect();
    state = {
      cluster,
      second,
      rbd: await cluster.openIoctx('rbd'),
      images: await cluster.openIoctx('images'),
      secondRbd: await second.openIoctx('rbd'),
      fsid: cluster.clusterFsid,
      driver: await openDriver(),
    };
  });

  afterEach(async () => {
    // Every image (and trash entry) of this test, from both pools: snapshots, children first, trash.
    await purgeImages([s().rbd, s().images], mine, 12);
    tracked = new Set();
  });

  after(async () => {
    for (const d of drivers) await d.close();
    await state?.second.shutdown();
    await state?.cluster.shutdown();
  });

  return { state: s, openDriver, track, vol, snapOf, mine, names, trashNames, snaps, parent, sizeOf };
}
