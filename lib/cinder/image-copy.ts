/**
 * copy_image_to_volume and copy_volume_to_image with Cinder's format rules
 * (since CVE-2022-47951): the announced disk_format is never trusted. The
 * image is fetched into a private temporary directory (imageConversionDir),
 * its bytes are inspected and then checked by `qemu-img info` (format equal
 * to disk_format, no metadata = must be raw, no backing or data file, safe
 * vmdk create type, virtual size within the volume), and `qemu-img convert`
 * writes it into the volume through qemu's rbd driver. The directory is
 * always removed; a volume the copy created is removed when anything fails.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { readImageChunks } from '../internal/chunk-reader';
import { withImage } from '../internal/image';
import { normalizeDiskFormat, qemuImgConvert, verifyImageFile, withTempDir, type InspectedFormat, type RbdTarget } from '../image-format';
import type { Logger } from '../logger';
import type { IoCtx } from '../rados';
import { Rbd } from '../rbd';
import { ImageUnacceptable, NotSupported } from './errors';
import { candidateLocations, diskFormatOf, type Resolved, type VolumeRef } from './options';
import { destroyStream } from './transfer';
import type { ImageLocation, ImageMeta, ImageStoreLike, ModelUpdate } from './types';
import { GiB } from './util';

/** What the copies need from the driver. */
export interface CopyContext {
  config: Readonly<Resolved>;
  logger: Logger;
  ioctx(): Promise<IoCtx>;
  order: number;
  chunkBytes: number;
  features(): Promise<number>;
  /** Deletes the volume's current image (Cinder's flow replaces it), retrying while busy. */
  deleteVolume(v: VolumeRef): Promise<void>;
  /** `_setup_volume` on the new image. */
  setup(ioctx: IoCtx, name: string): Promise<ModelUpdate>;
}

export interface CopyOptions {
  /** Aborts the download or the conversion (AbortError); nothing is left behind. */
  signal?: AbortSignal;
}

/** The volume as qemu's rbd driver opens it, with the driver's own cluster options. */
function rbdTarget(config: Readonly<Resolved>, image: string): RbdTarget {
  return {
    pool: config.pool,
    image,
    ...(config.confFile ? { confFile: config.confFile } : {}),
    ...(config.user ? { id: config.user } : {}),
    ...(config.keyringConf ? { keyring: config.keyringConf } : {}),
  };
}

/** The announced format (null: none, must be proven raw); an unknown disk_format is ImageUnacceptable. */
function announcedFormat(meta: ImageMeta | undefined, imageId: string): InspectedFormat | null {
  const format = diskFormatOf(meta);
  if (format === undefined || format === null) return null;
  try {
    return normalizeDiskFormat(format, 'imageMeta.disk_format');
  } catch (err) {
    throw new ImageUnacceptable(imageId, `disk_format ${String(format)} is not supported`, { cause: err });
  }
}

/** Streams `source` into `file`, counting bytes; resolves the count. */
async function download(source: AsyncIterable<Uint8Array>, file: string, signal: AbortSignal | undefined): Promise<number> {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  await pipeline(source, counter, createWriteStream(file, { flags: 'wx', mode: 0o600 }), ...([signal ? { signal } : {}] as [object]));
  return bytes;
}

/**
 * copy_image_to_volume: never a clone. Fetch → inspect → `qemu-img info`
 * checks → replace the volume's image with a new one → `qemu-img convert
 * -O raw` into it → `_setup_volume`.
 */
export async function copyImageToVolume(
  ctx: CopyContext,
  v: VolumeRef,
  store: ImageStoreLike,
  location: ImageLocation,
  meta: ImageMeta | undefined,
  options: CopyOptions = {},
): Promise<ModelUpdate> {
  const candidates = candidateLocations(location);
  const imageId = String(meta?.id ?? candidates[0] ?? 'image');
  if (candidates.length === 0) throw new ImageUnacceptable(imageId, 'no location');
  const format = announcedFormat(meta, imageId);
  const { signal } = options;
  signal?.throwIfAborted();
  let got: { stream: AsyncIterable<Uint8Array>; size: number } | undefined;
  let lastErr: unknown;
  for (const url of candidates) {
    try {
      got = (await store.get(url)) as { stream: AsyncIterable<Uint8Array>; size: number };
      break;
    } catch (err) {
      lastErr = err;
    }
  }
  if (!got) throw lastErr;
  const { stream, size } = got;
  const limit = v.size * GiB;
  if ((format === null || format === 'raw') && size > limit) {
    destroyStream(stream);
    throw new ImageUnacceptable(imageId, `Image size ${size} bytes exceeds the volume size of ${v.size} GiB`);
  }
  return withTempDir(
    async (dir) => {
      const file = path.join(dir, 'image');
      let written: number;
      try {
        written = await download(stream, file, signal);
      } catch (err) {
        destroyStream(stream);
        throw err;
      }
      if (size > 0 && written !== size) throw new ImageUnacceptable(imageId, `Size mismatch: expected ${size} bytes, got ${written} bytes`);
      const verified = await verifyImageFile(file, { diskFormat: format, volumeSizeBytes: limit, ...(signal ? { signal } : {}) });
      ctx.logger.debug(`image ${imageId}: ${verified.format} (${verified.virtualSize} bytes virtual) → volume ${v.name}`);
      await ctx.deleteVolume(v);
      const ioctx = await ctx.ioctx();
      await Rbd.create(ioctx, v.name, limit, { order: ctx.order, features: await ctx.features() });
      try {
        await qemuImgConvert(file, rbdTarget(ctx.config, v.name), { srcFormat: verified.qemuFormat, dstFormat: 'raw', parallel: 8, ...(signal ? { signal } : {}) });
        return await ctx.setup(ioctx, v.name);
      } catch (err) {
        await Rbd.remove(ioctx, v.name).catch((e: unknown) => ctx.logger.warn(`cannot remove ${v.name}: ${String(e)}`));
        throw err;
      }
    },
    { parent: ctx.config.imageConversionDir, prefix: 'cinder-image-' },
  );
}

/**
 * copy_volume_to_image: raw streams the volume (pipelined aio reads) into
 * `store.add`; qcow2 converts it with `qemu-img convert -O qcow2` into a
 * temporary file first. Other formats are NotSupported.
 */
export async function copyVolumeToImage(
  ctx: CopyContext,
  v: VolumeRef,
  store: ImageStoreLike,
  imageId: string,
  meta: ImageMeta | undefined,
  options: CopyOptions = {},
): Promise<Awaited<ReturnType<ImageStoreLike['add']>>> {
  const format = diskFormatOf(meta) ?? 'raw';
  if (format !== 'raw' && format !== 'qcow2') throw new NotSupported(`copyVolumeToImage: disk_format ${String(format)} is not supported (raw or qcow2)`);
  const ioctx = await ctx.ioctx();
  if (format === 'raw') {
    return withImage(ioctx, v.name, { readOnly: true }, async (image) => {
      const size = await image.size();
      return store.add(imageId, readImageChunks(image, size, ctx.chunkBytes, ctx.config.ioConcurrency), size);
    });
  }
  // The image must exist before qemu opens it (ImageNotFound rather than a qemu error).
  await withImage(ioctx, v.name, { readOnly: true }, async () => undefined);
  return withTempDir(
    async (dir) => {
      const file = path.join(dir, `${v.name}.qcow2`);
      await qemuImgConvert(rbdTarget(ctx.config, v.name), file, { srcFormat: 'raw', dstFormat: 'qcow2', ...(options.signal ? { signal: options.signal } : {}) });
      const { size } = await stat(file);
      return store.add(imageId, createReadStream(file), size);
    },
    { parent: ctx.config.imageConversionDir, prefix: 'cinder-image-' },
  );
}
