/**
 * `ceph-rbd image upload|download|delete|info|ls|sweep`: Glance-style images
 * (GlanceStore): chunked upload with MD5 + multihash and the protected
 * snapshot `snap`, addressed by their location `rbd://<fsid>/<pool>/<image>/snap`.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { Command } from 'commander';

import { GlanceStore, type GlanceStoreOptions } from '../glance/store';
import { formatLocation, parseLocation } from '../glance/location';
import { ImageNotFound } from '../errors';
import { withImage } from '../internal/image';
import { ClusterSession } from '../internal/session';
import { Rados } from '../rados';
import { Image, Rbd } from '../rbd';
import {
  addCommonOptions,
  type CommonOptions,
  commonOptions,
  connectOptions,
  humanBytes,
  interruptSignal,
  MiB,
  output,
  parseImageRef,
  parseInteger,
  table,
  type Target,
  target,
  UsageError,
} from './common';
import { bytesBar } from './progress';

/** GlanceStore options from the connection target. */
export function storeOptions(t: Target, pool: string, extra: GlanceStoreOptions = {}): GlanceStoreOptions {
  return {
    pool,
    ...(t.confFile !== undefined ? { confFile: t.confFile } : {}),
    ...(t.clientId !== undefined ? { user: t.clientId } : {}),
    ...(t.timeoutMs !== undefined ? { connectTimeoutMs: t.timeoutMs } : {}),
    ...extra,
  };
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Counts the bytes going through, for a progress bar. */
function counter(onBytes: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      onBytes(n);
      cb(null, chunk);
    },
  });
}

interface UploadOpts {
  pool: string;
  chunkSize?: number;
  thin?: boolean;
  hash: string;
  size?: number;
  concurrency?: number;
}

async function upload(file: string, imageArg: string, uploadOpts: UploadOpts, o: CommonOptions): Promise<void> {
  const ref = parseImageRef(imageArg, uploadOpts.pool);
  if (ref.uri !== undefined || ref.snapshot !== null) throw new UsageError(`the image to upload is [pool/]image, got '${imageArg}'`);
  const opts = { ...uploadOpts, id: ref.image, pool: ref.pool };
  const t = target(o);
  const fromStdin = file === '-';
  let size = opts.size ?? 0;
  if (!fromStdin) {
    const st = await stat(file);
    if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
    if (opts.size !== undefined && opts.size !== st.size) throw new UsageError(`--size ${opts.size} differs from the file's ${st.size} bytes`);
    size = st.size;
  } else if (process.stdin.isTTY) {
    throw new UsageError('reading the image from stdin, but stdin is a terminal (pipe the data in, or give a FILE)');
  }
  const store = await GlanceStore.open(
    storeOptions(t, opts.pool, {
      ...(opts.chunkSize !== undefined ? { chunkSizeMiB: opts.chunkSize } : {}),
      ...(opts.thin ? { thinProvisioning: true } : {}),
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      hashAlgo: opts.hash,
    }),
  );
  try {
    const bar = bytesBar(o, 'upload', size > 0 ? size : undefined);
    const t0 = process.hrtime.bigint();
    let result;
    try {
      result = await store.add(opts.id, fromStdin ? process.stdin : file, size, {
        signal: interruptSignal(),
        onProgress: (done) => bar.update(done),
      });
    } finally {
      bar.stop();
    }
    const secs = seconds(t0);
    output(
      o,
      { id: opts.id, pool: store.pool, ...result, hashAlgo: store.hashAlgo, seconds: Number(secs.toFixed(3)) },
      () => [
        `uploaded ${fromStdin ? 'stdin' : file} as ${store.pool}/${opts.id}: ${humanBytes(result.size)} in ${secs.toFixed(1)} s (${(result.size / MiB / Math.max(secs, 1e-3)).toFixed(0)} MiB/s)`,
        `location   ${result.location}`,
        `checksum   ${result.checksum} (md5)`,
        `multihash  ${result.multihash} (${store.hashAlgo})`,
      ],
    );
  } finally {
    await store.close();
  }
}

/**
 * Opens the store on the pool of an image reference and resolves its full
 * location: `rbd://…` as given, `[pool/]image[@snap]` at Glance's `snap`
 * unless a snapshot is named.
 */
async function openAt(ref: string, defaultPool: string, o: CommonOptions): Promise<{ store: GlanceStore; location: string }> {
  const t = target(o);
  const r = parseImageRef(ref, defaultPool);
  const pool = r.uri !== undefined ? (parseLocation(r.uri).pool ?? defaultPool) : r.pool;
  const store = await GlanceStore.open(storeOptions(t, pool));
  const location = r.uri ?? formatLocation({ fsid: store.fsid, pool, image: r.image, snapshot: r.snapshot ?? 'snap' });
  return { store, location };
}

/** Opens FILE for writing, refusing an existing one with a hint (the EEXIST kept as the cause). */
async function createOutput(file: string, force: boolean | undefined): Promise<ReturnType<typeof createWriteStream>> {
  const out = createWriteStream(file, { flags: force ? 'w' : 'wx' });
  try {
    await once(out, 'open');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw Object.assign(new Error(`${file} already exists; add --force to overwrite it`, { cause: err }), { code: e.code, errno: e.errno });
    throw err;
  }
  return out;
}

async function download(ref: string, file: string, opts: { offset?: number; length?: number; force?: boolean; pool: string }, o: CommonOptions): Promise<void> {
  const toStdout = file === '-';
  if (toStdout && o.json) throw new UsageError('--json cannot be used when the data goes to stdout (FILE is -)');
  const { store, location } = await openAt(ref, opts.pool, o);
  try {
    const got = await store.get(location, { ...(opts.offset !== undefined ? { offset: opts.offset } : {}), ...(opts.length !== undefined ? { length: opts.length } : {}) });
    const bar = bytesBar(o, 'download', got.length);
    const signal = interruptSignal();
    const t0 = process.hrtime.bigint();
    let created = false;
    try {
      if (toStdout) {
        await pipeline(got.stream, counter((n) => bar.update(n)), process.stdout, { signal, end: false });
      } else {
        const out = await createOutput(file, opts.force).catch((err: unknown) => {
          got.stream.destroy();
          throw err;
        });
        created = true;
        await pipeline(got.stream, counter((n) => bar.update(n)), out, { signal });
      }
    } catch (err) {
      got.stream.destroy();
      if (created) await unlink(file).catch(() => undefined);
      throw err;
    } finally {
      bar.stop();
    }
    const secs = seconds(t0);
    if (toStdout) return;
    output(o, { location, file, offset: opts.offset ?? 0, length: got.length, size: got.size, seconds: Number(secs.toFixed(3)) }, () =>
      `downloaded ${humanBytes(got.length)} of ${location} to ${file} in ${secs.toFixed(1)} s`,
    );
  } finally {
    await store.close();
  }
}

async function remove(ref: string, opts: { pool: string }, o: CommonOptions): Promise<void> {
  const { store, location } = await openAt(ref, opts.pool, o);
  try {
    await store.delete(location);
  } finally {
    await store.close();
  }
  output(o, { location, deleted: true }, () => `deleted ${location}`);
}

async function info(location: string, opts: { pool: string }, o: CommonOptions): Promise<void> {
  const t = target(o);
  const r = parseImageRef(location, opts.pool);
  const loc = r.uri !== undefined ? parseLocation(r.uri) : { pool: r.pool, image: r.image, snapshot: r.snapshot };
  const pool = loc.pool ?? opts.pool;
  await using cluster = await Rados.connect(connectOptions(t));
  await using ioctx = await cluster.openIoctx(pool);
  await using image = await Image.open(ioctx, loc.image, { readOnly: true, ...(loc.snapshot !== null ? { snapshot: loc.snapshot } : {}) });
  const st = await image.stat();
  const snaps = await image.listSnaps();
  let parent: { pool: string; image: string; snapshot: string } | null = null;
  try {
    const p = await image.parentInfo();
    parent = { pool: p.pool, image: p.image, snapshot: p.snapshot };
  } catch {
    // not a clone
  }
  const children = loc.snapshot !== null ? (await image.listChildren()).map((c) => ({ pool: c.pool, image: c.image })) : [];
  const result = {
    location,
    fsid: await ClusterSession.fsidOf(cluster),
    pool,
    image: loc.image,
    snapshot: loc.snapshot,
    size: st.size,
    objectSize: st.objSize,
    order: st.order,
    objects: st.numObjs,
    blockNamePrefix: st.blockNamePrefix,
    features: await image.features(),
    snapshots: snaps.map((s) => ({ name: s.name, size: s.size, protected: s.protected })),
    parent,
    children,
  };
  output(o, result, () => [
    `image      ${pool}/${loc.image}${loc.snapshot !== null ? `@${loc.snapshot}` : ''}`,
    `size       ${humanBytes(st.size)} (${st.size} bytes) in ${st.numObjs} objects of ${humanBytes(st.objSize)}`,
    `prefix     ${st.blockNamePrefix}`,
    `snapshots  ${snaps.map((s) => `${s.name}${s.protected ? ' (protected)' : ''}`).join(', ') || '-'}`,
    `parent     ${parent ? `${parent.pool}/${parent.image}@${parent.snapshot}` : '-'}`,
    `children   ${children.map((c) => `${c.pool}/${c.image}`).join(', ') || '-'}`,
  ]);
}

async function list(opts: { pool: string }, o: CommonOptions): Promise<void> {
  const t = target(o);
  await using cluster = await Rados.connect(connectOptions(t));
  await using ioctx = await cluster.openIoctx(opts.pool);
  const fsid = await ClusterSession.fsidOf(cluster);
  const images: Array<{ name: string; size: number; location: string | null; snapshots: string[] }> = [];
  for (const name of (await Rbd.list(ioctx)).sort()) {
    try {
      await withImage(ioctx, name, { readOnly: true }, async (image) => {
        const size = await image.size();
        const snapshots = (await image.listSnaps()).map((s) => s.name);
        const location = snapshots.includes('snap') ? formatLocation({ fsid, pool: opts.pool, image: name, snapshot: 'snap' }) : null;
        images.push({ name, size, location, snapshots });
      });
    } catch (err) {
      if (!(err instanceof ImageNotFound)) throw err; // removed meanwhile: skipped
    }
  }
  output(o, { pool: opts.pool, images }, () =>
    images.length === 0 ? [`no images in pool ${opts.pool}`] : table(['NAME', 'SIZE', 'LOCATION'], images.map((i) => [i.name, humanBytes(i.size), i.location ?? '-'])),
  );
}

async function sweep(opts: { pool: string; olderThan?: number; dryRun?: boolean }, o: CommonOptions): Promise<void> {
  const t = target(o);
  const store = await GlanceStore.open(storeOptions(t, opts.pool));
  let result: Awaited<ReturnType<GlanceStore['sweep']>>;
  try {
    result = await store.sweep({ olderThanMs: opts.olderThan === undefined ? undefined : opts.olderThan * 1000, dryRun: opts.dryRun === true });
  } finally {
    await store.close();
  }
  output(o, result, () => [
    ...(result.images.length === 0 ? [`no abandoned uploads in pool ${result.pool}`] : []),
    ...result.images.map((i) => `${i.removed ? 'removed' : result.dryRun ? 'would remove' : 'kept'} ${result.pool}/${i.image} (upload started ${i.startedAt})${i.error ? `: ${i.error}` : ''}`),
    ...result.busy.map((name) => `in use, left alone: ${result.pool}/${name}`),
  ]);
}

/** Takes `--pool` from the group (`image --pool p ls`) when the command did not get its own. */
function poolFromGroup(group: Command): (cmd: Command, action: Command) => void {
  return (_cmd, action) => {
    const groupPool = group.opts().pool as string | undefined;
    if (groupPool !== undefined && action.getOptionValueSource('pool') === 'default') action.setOptionValue('pool', groupPool);
  };
}

const IMAGE_REF = '[pool/]image[@snapshot] (snapshot default: snap), or rbd://<fsid>/<pool>/<image>/<snapshot>';

export function registerImage(program: Command): void {
  const image = addCommonOptions(
    program.command('image').description('Glance-style images (GlanceStore): upload, download, delete, info, ls, sweep').option('--pool <pool>', 'pool (rbd_store_pool) for the commands below'),
  );
  image.hook('preAction', poolFromGroup(image));

  addCommonOptions(
    image
      .command('upload')
      .description('store FILE (or stdin: -) as IMAGE the way Glance does, as `rbd import <path> [pool/]image`; prints its location')
      .argument('<file>', 'the image data, or - for stdin')
      .argument('<image>', '[pool/]image: the image id (the RBD image name)')
      .option('--pool <pool>', 'pool (rbd_store_pool)', 'images')
      .option('--chunk-size <MiB>', 'chunk size in MiB, 1 to 64 (rbd_store_chunk_size; default 8)', parseInteger(1, 64))
      .option('--thin', 'do not write all-zero chunks (rbd_thin_provisioning)')
      .option('--hash <algo>', 'multihash algorithm', 'sha512')
      .option('--size <bytes>', 'announced size of stdin data (default: unknown)', parseInteger(0))
      .option('--concurrency <n>', 'chunks in flight, 1 to 64 (default 4)', parseInteger(1, 64)),
  ).action((file: string, imageArg: string, opts: UploadOpts, cmd: Command) => upload(file, imageArg, opts, commonOptions(cmd)));

  addCommonOptions(
    image
      .command('download')
      .description('write IMAGE to FILE (or stdout: -)')
      .argument('<image>', IMAGE_REF)
      .argument('<file>', 'output file, or - for stdout')
      .option('--pool <pool>', 'pool of a bare image id', 'images')
      .option('--offset <bytes>', 'first byte', parseInteger(0))
      .option('--length <bytes>', 'bytes to read (default: to the end)', parseInteger(0))
      .option('--force', 'overwrite FILE if it exists'),
  ).action((location: string, file: string, opts: { offset?: number; length?: number; force?: boolean; pool: string }, cmd: Command) => download(location, file, opts, commonOptions(cmd)));

  addCommonOptions(
    image
      .command('delete')
      .description('delete IMAGE (unprotect and remove its snapshot, then the image)')
      .argument('<image>', IMAGE_REF)
      .option('--pool <pool>', 'pool of a bare image id', 'images'),
  ).action((location: string, opts: { pool: string }, cmd: Command) => remove(location, opts, commonOptions(cmd)));

  addCommonOptions(
    image
      .command('info')
      .description('size, objects, snapshots, parent and clones of IMAGE')
      .argument('<image>', '[pool/]image[@snapshot] or rbd://<fsid>/<pool>/<image>/<snapshot>')
      .option('--pool <pool>', 'pool of a bare image id', 'images'),
  ).action((location: string, opts: { pool: string }, cmd: Command) => info(location, opts, commonOptions(cmd)));

  addCommonOptions(
    image
      .command('sweep')
      .description('remove uploads a killed process left behind (no snapshot, no client, started by a GlanceStore long enough ago)')
      .option('--pool <pool>', 'pool', 'images')
      .option('--older-than <seconds>', 'only uploads started at least this long ago (default 3600)', parseInteger(0, Math.floor(Number.MAX_SAFE_INTEGER / 1000)))
      .option('--dry-run', 'report them, remove nothing'),
  ).action((opts: { pool: string; olderThan?: number; dryRun?: boolean }, cmd: Command) => sweep(opts, commonOptions(cmd)));

  addCommonOptions(
    image.command('ls').description('images of a pool, with their Glance locations').option('--pool <pool>', 'pool', 'images'),
  ).action((opts: { pool: string }, cmd: Command) => list(opts, commonOptions(cmd)));
}
