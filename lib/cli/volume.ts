/**
 * `ceph-rbd volume …`: Cinder-style volumes (RbdVolumeDriver). Volumes and
 * snapshots are named by id as Cinder names them: volume ID is the image
 * `volume-ID` in the volume pool, snapshot ID is `snapshot-ID` on it.
 */
import { Transform } from 'node:stream';

import type { Command } from 'commander';

import { RbdVolumeDriver, snapshotName, volumeName, type VolumeInfo } from '../cinder/driver';
import { VolumeNotFound } from '../cinder/errors';
import type { ImageStoreLike, RbdVolumeDriverOptions, Snapshot, Volume, VolumeStats } from '../cinder/types';
import { parseLocation } from '../glance/location';
import { GlanceStore, type GlanceStoreOptions } from '../glance/store';
import { withImage, withImageReadOnly } from '../internal/image';
import { Rados } from '../rados';
import {
  addCommonOptions,
  type CommonOptions,
  commonOptions,
  connectOptions,
  GiB,
  humanBytes,
  interruptSignal,
  output,
  parseInteger,
  table,
  type Target,
  target,
} from './common';
import { storeOptions } from './image';
import { bytesBar, opsBar } from './progress';
import { registerFailover } from './volume-failover';

interface VolumeOpts {
  pool: string;
}

function driverOptions(t: Target, pool: string): RbdVolumeDriverOptions {
  return {
    pool,
    ...(t.confFile !== undefined ? { confFile: t.confFile } : {}),
    ...(t.clientId !== undefined ? { user: t.clientId } : {}),
    ...(t.clusterName !== undefined ? { clusterName: t.clusterName } : {}),
    ...(t.timeoutMs !== undefined ? { connectTimeoutMs: t.timeoutMs } : {}),
  };
}

/** The volume's size in GiB, or null when it does not exist (any more). */
async function sizeOrNull(driver: RbdVolumeDriver, id: string): Promise<number | null> {
  try {
    return (await driver.getVolume(id)).size;
  } catch (err) {
    if (err instanceof VolumeNotFound) return null;
    throw err;
  }
}

/** Runs `fn` with a driver on the volume pool, closed afterwards. */
async function withDriver<T>(o: CommonOptions, pool: string, fn: (driver: RbdVolumeDriver, t: Target) => Promise<T>): Promise<T> {
  const t = target(o);
  const driver = await RbdVolumeDriver.open(driverOptions(t, pool));
  try {
    return await fn(driver, t);
  } finally {
    await driver.close();
  }
}

/** Size in bytes of pool/name (at snapshot); ImageNotFound when it does not exist. */
async function imageSize(t: Target, pool: string, name: string, snapshot?: string): Promise<number> {
  await using cluster = await Rados.connect(connectOptions(t));
  await using ioctx = await cluster.openIoctx(pool);
  return await withImageReadOnly(ioctx, name, snapshot, (image) => image.size());
}

/** Flattens pool/name with a progress bar (librbd reports objects). */
async function flatten(t: Target, o: CommonOptions, pool: string, name: string): Promise<void> {
  await using cluster = await Rados.connect(connectOptions(t));
  await using ioctx = await cluster.openIoctx(pool);
  const bar = opsBar(o, 'flatten');
  try {
    await withImage(ioctx, name, {}, (image) => image.flatten({ onProgress: (done, total) => bar.update(done, total), signal: interruptSignal() }));
    bar.stop(true);
  } finally {
    bar.stop();
  }
}

const ceilGiB = (bytes: number): number => Math.max(1, Math.ceil(bytes / GiB));

function describe(pool: string, id: string, size: number | null): { id: string; name: string; pool: string; size: number | null } {
  return { id, name: volumeName(id), pool, size };
}

/**
 * An ImageStoreLike over a GlanceStore opened on first use, with progress
 * bars on the bytes it serves (copy into a volume) or stores (volume to image).
 */
class StoreWithProgress implements ImageStoreLike {
  #store: GlanceStore | undefined;
  constructor(
    private readonly t: Target,
    private readonly o: CommonOptions,
    private readonly pool: string,
    private readonly extra: GlanceStoreOptions = {},
  ) {}

  async #open(): Promise<GlanceStore> {
    this.#store ??= await GlanceStore.open(storeOptions(this.t, this.pool, this.extra));
    return this.#store;
  }

  async add(imageId: string, source: Parameters<ImageStoreLike['add']>[1], sizeBytes: number): ReturnType<ImageStoreLike['add']> {
    const store = await this.#open();
    const bar = bytesBar(this.o, 'copy', sizeBytes > 0 ? sizeBytes : undefined);
    try {
      return await store.add(imageId, source, sizeBytes, { onProgress: (done) => bar.update(done), signal: interruptSignal() });
    } finally {
      bar.stop();
    }
  }

  async get(location: string, options?: { offset?: number; length?: number; chunkSize?: number }): ReturnType<ImageStoreLike['get']> {
    const store = await this.#open();
    const got = await store.get(location, options);
    const bar = bytesBar(this.o, 'copy', got.length);
    let n = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        bar.update(n);
        cb(null, chunk);
      },
      flush(cb) {
        bar.stop();
        cb();
      },
    });
    counted.once('close', () => bar.stop());
    got.stream.once('error', (err) => counted.destroy(err));
    counted.once('close', () => got.stream.destroy());
    return { stream: got.stream.pipe(counted), size: got.size };
  }

  async close(): Promise<void> {
    await this.#store?.close();
  }
}

function statsLines(s: VolumeStats): string[] {
  return [
    `backend     ${s.volume_backend_name} (${s.backend_state}), driver ${s.driver_version}`,
    `capacity    total ${s.total_capacity_gb} GiB, free ${s.free_capacity_gb} GiB${s.provisioned_capacity_gb !== undefined ? `, provisioned ${s.provisioned_capacity_gb} GiB` : ''}`,
    `location    ${s.location_info}`,
  ];
}

/** `volume from-image`: a COW clone of the image when it can, else a copy through the store. */
async function fromImage(driver: RbdVolumeDriver, t: Target, o: CommonOptions, id: string, location: string, opts: VolumeOpts & { size?: number; flatten?: boolean; diskFormat?: string }): Promise<void> {
  const loc = parseLocation(location);
  const imagePool = loc.pool ?? 'images';
  const bytes = await imageSize(t, imagePool, loc.image, loc.snapshot ?? undefined);
  const size = opts.size ?? ceilGiB(bytes);
  const v: Volume = { id, size };
  // No --disk-format: the bytes must be proven raw. cloneImage inspects the bytes itself and clones raw only.
  const meta = opts.diskFormat ? { disk_format: opts.diskFormat } : {};
  let method: 'clone' | 'copy' = 'clone';
  const attempt = await driver.cloneImage(v, location, { disk_format: opts.diskFormat ?? 'raw' });
  let modelUpdate = attempt.modelUpdate;
  if (!attempt.cloned) {
    method = 'copy';
    const store = new StoreWithProgress(t, o, imagePool);
    try {
      modelUpdate = await driver.copyImageToVolume(v, store, location, meta);
    } finally {
      await store.close();
    }
  } else if (opts.flatten) {
    await flatten(t, o, opts.pool, volumeName(id));
  }
  output(o, { volume: describe(opts.pool, id, size), location, method, flattened: method === 'clone' && opts.flatten === true, modelUpdate }, () =>
    `created ${opts.pool}/${volumeName(id)} (${size} GiB) from ${location} (${method === 'clone' ? `copy-on-write clone${opts.flatten ? ', flattened' : ''}` : `copied ${humanBytes(bytes)}`})`,
  );
}

type Leaf = (name: string, description: string) => Command;

export function registerVolume(program: Command): void {
  const volume = addCommonOptions(
    program
      .command('volume')
      .description("Cinder-style volumes (RbdVolumeDriver): image 'volume-ID', snapshot 'snapshot-ID'")
      .option('--pool <pool>', 'volume pool (rbd_pool) for the commands below'),
  );
  // `volume --pool p stats`: the group's --pool unless the command got its own.
  volume.hook('preAction', (_cmd, action) => {
    const groupPool = volume.opts().pool as string | undefined;
    if (groupPool !== undefined && action.getOptionValueSource('pool') === 'default') action.setOptionValue('pool', groupPool);
  });
  const leaf: Leaf = (name, description) =>
    addCommonOptions(volume.command(name).description(description).option('--pool <pool>', 'volume pool (rbd_pool)', 'rbd'));
  registerLifecycle(leaf);
  registerCopies(leaf);
  registerMaintenance(leaf);
  registerInventory(leaf);
  registerFailover(leaf, driverOptions);
}

function infoLines(v: VolumeInfo): string[] {
  return [
    `volume     ${v.pool}/${v.name} (${v.size} GiB, ${v.sizeBytes} bytes)`,
    `parent     ${v.parent ?? '-'}`,
    `snapshots  ${v.snapshots.map((s) => `${s.name}${s.protected ? ' (protected)' : ''}${s.children.length > 0 ? ` → ${s.children.join(', ')}` : ''}`).join(', ') || '-'}`,
    `watchers   ${v.watchers.map((w) => w.address).join(', ') || '-'}`,
    `features   ${v.features}`,
  ];
}

/** ls, info. */
function registerInventory(leaf: Leaf): void {
  leaf('ls', 'the Cinder volumes of the pool (volume-ID images), with size, parent and snapshot count').action((opts: VolumeOpts, cmd: Command) =>
    withDriver(commonOptions(cmd), opts.pool, async (driver) => {
      const volumes = await driver.listVolumes();
      output(commonOptions(cmd), { pool: opts.pool, volumes }, () =>
        volumes.length === 0
          ? [`no volumes in pool ${opts.pool}`]
          : table(['ID', 'SIZE', 'PARENT', 'SNAPSHOTS'], volumes.map((v) => [v.id, `${v.size} GiB`, v.parent ?? '-', String(v.snapshots.length)])),
      );
    }),
  );

  leaf('info', 'size, parent, snapshots, watchers and features of a volume')
    .argument('<volume-id>')
    .action((id: string, opts: VolumeOpts, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver) => {
        const v = await driver.getVolume(id);
        output(commonOptions(cmd), v, () => infoLines(v));
      }),
    );
}

/** create, delete, snapshot, unsnapshot. */
function registerLifecycle(leaf: Leaf): void {
  const gib = parseInteger(1, 1 << 20);

  leaf('create', 'create an empty volume of --size GiB')
    .argument('<volume-id>')
    .requiredOption('--size <GiB>', 'size in GiB', gib)
    .action((id: string, opts: VolumeOpts & { size: number }, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver) => {
        const modelUpdate = await driver.createVolume({ id, size: opts.size });
        output(commonOptions(cmd), { volume: describe(opts.pool, id, opts.size), modelUpdate }, () => `created ${opts.pool}/${volumeName(id)} (${opts.size} GiB)`);
      }),
    );

  leaf('delete', 'delete a volume (its children are flattened first; hidden as .deleted while it has clones)')
    .argument('<volume-id>')
    .action((id: string, opts: VolumeOpts, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver) => {
        const size = await sizeOrNull(driver, id);
        await driver.deleteVolume(id);
        output(commonOptions(cmd), { volume: describe(opts.pool, id, size), deleted: true }, () => `deleted ${opts.pool}/${volumeName(id)}`);
      }),
    );

  leaf('snapshot', 'create (and protect) snapshot SNAPSHOT_ID of a volume')
    .argument('<volume-id>')
    .argument('<snapshot-id>')
    .action((id: string, snapId: string, opts: VolumeOpts, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver) => {
        await driver.createSnapshot({ id: snapId, volumeId: id });
        const snap = await driver.getSnapshot(id, snapId);
        const size = await sizeOrNull(driver, id);
        output(commonOptions(cmd), { volume: describe(opts.pool, id, size), snapshot: { id: snapId, name: snapshotName(snapId), size: snap.sizeBytes, protected: snap.protected } }, () =>
          `created snapshot ${opts.pool}/${volumeName(id)}@${snapshotName(snapId)} (protected)`,
        );
      }),
    );

  leaf('unsnapshot', 'delete snapshot SNAPSHOT_ID of a volume (its clones are flattened first)')
    .argument('<volume-id>')
    .argument('<snapshot-id>')
    .action((id: string, snapId: string, opts: VolumeOpts, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver) => {
        await driver.deleteSnapshot({ id: snapId, volumeId: id });
        output(commonOptions(cmd), { volume: describe(opts.pool, id, await sizeOrNull(driver, id)), snapshot: { id: snapId, name: snapshotName(snapId) }, deleted: true }, () =>
          `deleted snapshot ${opts.pool}/${volumeName(id)}@${snapshotName(snapId)}`,
        );
      }),
    );
}

/** clone, from-snapshot, from-image, to-image. */
function registerCopies(leaf: Leaf): void {
  const gib = parseInteger(1, 1 << 20);

  leaf('clone', 'a new volume NEW_VOLUME_ID cloned from SOURCE_VOLUME_ID (copy-on-write, through <new>.clone_snap)')
    .argument('<source-volume-id>')
    .argument('<new-volume-id>')
    .option('--size <GiB>', 'size in GiB (default: the source size)', gib)
    .action((srcId: string, id: string, opts: VolumeOpts & { size?: number }, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver, t) => {
        const srcSize = ceilGiB(await imageSize(t, opts.pool, volumeName(srcId)));
        const size = opts.size ?? srcSize;
        const modelUpdate = await driver.createClonedVolume({ id, size }, { id: srcId, size: srcSize });
        output(commonOptions(cmd), { volume: describe(opts.pool, id, size), source: describe(opts.pool, srcId, srcSize), modelUpdate }, () =>
          `cloned ${opts.pool}/${volumeName(srcId)} to ${opts.pool}/${volumeName(id)} (${size} GiB)`,
        );
      }),
    );

  leaf('from-snapshot', 'a new volume NEW_VOLUME_ID cloned from snapshot SNAPSHOT_ID of VOLUME_ID')
    .argument('<volume-id>')
    .argument('<snapshot-id>')
    .argument('<new-volume-id>')
    .option('--size <GiB>', 'size in GiB (default: the source volume size)', gib)
    .option('--flatten', 'flatten the new volume (copy the data; with a progress bar)')
    .action((srcId: string, snapId: string, id: string, opts: VolumeOpts & { size?: number; flatten?: boolean }, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver, t) => {
        const o = commonOptions(cmd);
        const srcSize = ceilGiB(await imageSize(t, opts.pool, volumeName(srcId), snapshotName(snapId)));
        const size = opts.size ?? srcSize;
        const snap: Snapshot = { id: snapId, volumeName: volumeName(srcId), volumeSize: srcSize };
        const modelUpdate = await driver.createVolumeFromSnapshot({ id, size }, snap);
        if (opts.flatten) await flatten(t, o, opts.pool, volumeName(id));
        output(o, { volume: describe(opts.pool, id, size), snapshot: { id: snapId, name: snapshotName(snapId), volume: volumeName(srcId) }, flattened: opts.flatten === true, modelUpdate }, () =>
          `created ${opts.pool}/${volumeName(id)} (${size} GiB) from ${volumeName(srcId)}@${snapshotName(snapId)}${opts.flatten ? ', flattened' : ''}`,
        );
      }),
    );

  leaf('from-image', 'a new volume from the Glance image at LOCATION: a COW clone when it can, else a copy')
    .argument('<volume-id>')
    .argument('<location>', 'rbd://<fsid>/<pool>/<image>/<snapshot>')
    .option('--size <GiB>', 'size in GiB (default: the image size, rounded up)', gib)
    .option('--flatten', 'flatten the new volume after a clone (with a progress bar)')
    .option('--disk-format <format>', 'the image\'s disk_format (raw, qcow2, vmdk, vhd, vhdx, vdi); checked against its bytes, non-raw is converted (default: must be raw)')
    .action((id: string, location: string, opts: VolumeOpts & { size?: number; flatten?: boolean; diskFormat?: string }, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, (driver, t) => fromImage(driver, t, commonOptions(cmd), id, location, opts)),
    );

  leaf('to-image', 'store a volume as Glance image IMAGE_ID; prints its location')
    .argument('<volume-id>')
    .argument('<image-id>')
    .option('--image-pool <pool>', 'Glance pool (rbd_store_pool)', 'images')
    .option('--thin', 'do not write all-zero chunks (rbd_thin_provisioning)')
    .action((id: string, imageId: string, opts: VolumeOpts & { imagePool: string; thin?: boolean }, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver, t) => {
        const o = commonOptions(cmd);
        const store = new StoreWithProgress(t, o, opts.imagePool, opts.thin ? { thinProvisioning: true } : {});
        try {
          const result = await driver.copyVolumeToImage({ id, size: 0 }, store, imageId, { disk_format: 'raw' });
          output(o, { volume: describe(opts.pool, id, await sizeOrNull(driver, id)), image: { id: imageId, pool: opts.imagePool }, ...result }, () => [
            `stored ${opts.pool}/${volumeName(id)} as image ${opts.imagePool}/${imageId} (${humanBytes(result.size)})`,
            `location   ${result.location}`,
            ...(result.checksum !== undefined ? [`checksum   ${result.checksum} (md5)`] : []),
          ]);
        } finally {
          await store.close();
        }
      }),
    );
}

/** extend, revert, stats. */
function registerMaintenance(leaf: Leaf): void {
  const gib = parseInteger(1, 1 << 20);

  leaf('extend', 'grow a volume to --size GiB')
    .argument('<volume-id>')
    .requiredOption('--size <GiB>', 'new size in GiB', gib)
    .action((id: string, opts: VolumeOpts & { size: number }, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver) => {
        await driver.extendVolume({ id, size: 0 }, opts.size);
        output(commonOptions(cmd), { volume: describe(opts.pool, id, opts.size) }, () => `extended ${opts.pool}/${volumeName(id)} to ${opts.size} GiB`);
      }),
    );

  leaf('revert', 'roll a volume back to its snapshot SNAPSHOT_ID')
    .argument('<volume-id>')
    .argument('<snapshot-id>')
    .action((id: string, snapId: string, opts: VolumeOpts, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver) => {
        await driver.revertToSnapshot(id, { id: snapId, volumeId: id });
        output(commonOptions(cmd), { volume: describe(opts.pool, id, await sizeOrNull(driver, id)), snapshot: { id: snapId, name: snapshotName(snapId) }, reverted: true }, () =>
          `reverted ${opts.pool}/${volumeName(id)} to ${snapshotName(snapId)}`,
        );
      }),
    );

  leaf('stats', "the driver's capacity report (Cinder's get_volume_stats); exit status 1 when the backend is down")
    .action((opts: VolumeOpts, cmd: Command) =>
      withDriver(commonOptions(cmd), opts.pool, async (driver) => {
        const stats = await driver.getVolumeStats(true);
        output(commonOptions(cmd), stats, () => statsLines(stats));
        if (stats.backend_state !== 'up') {
          process.stderr.write(`ceph-rbd: the volume backend is down (pool ${opts.pool} cannot be reached)\n`);
          process.exitCode = 1;
        }
      }),
    );
}
