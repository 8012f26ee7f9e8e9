/**
 * Pool metadata and librbd config overrides per pool and per image.
 *
 * Pacific's librbd has no rbd_config_*_set: an override of option `rbd_x`
 * is the metadata key `conf_rbd_x` (pool metadata for the pool, image
 * metadata for the image), exactly what `rbd config pool|image set` writes.
 * Images opened after the change use it; an image already open re-reads its
 * image-level overrides on the next refresh (the metadata update notifies it).
 *
 * Example (Cinder QoS): `await RbdConfig.imageSet(image, 'rbd_qos_iops_limit', '500')`.
 */
import { type NativeConfigOption, addon } from './native';
import type { IoCtx } from './rados';
import type { Image } from './rbd';
import './setup';
import { checkInteger, checkName, checkString, invalidValue } from './validate';

export type ConfigOption = NativeConfigOption;

const CONF_PREFIX = 'conf_';

/** An rbd_* option name. */
function option(value: unknown): string {
  const name = checkName(value, 'option');
  if (!name.startsWith('rbd_')) throw invalidValue('option', "an rbd_* option name", value);
  return name;
}

export const RbdConfig = {
  // ---- pool metadata (rbd_pool_metadata_*) --------------------------------
  /** A pool metadata value; ImageNotFound (ENOENT) when the key is not set. */
  async poolMetadataGet(ioctx: IoCtx, key: string): Promise<string> {
    return addon.rbdx.poolMetadataGet(ioctx.native, checkName(key, 'key'));
  },
  async poolMetadataSet(ioctx: IoCtx, key: string, value: string): Promise<void> {
    return addon.rbdx.poolMetadataSet(ioctx.native, checkName(key, 'key'), checkString(value, 'value'));
  },
  /** ImageNotFound (ENOENT) when the key is not set. */
  async poolMetadataRemove(ioctx: IoCtx, key: string): Promise<void> {
    return addon.rbdx.poolMetadataRemove(ioctx.native, checkName(key, 'key'));
  },
  /** Every pool metadata entry, fetched `pageSize` keys at a time (default 64). */
  async *poolMetadata(ioctx: IoCtx, options: { pageSize?: number } = {}): AsyncGenerator<[string, string]> {
    const pageSize = options.pageSize === undefined ? 64 : checkInteger(options.pageSize, 'options.pageSize', 1, 1 << 20);
    let after = '';
    for (;;) {
      const page = await addon.rbdx.poolMetadataList(ioctx.native, after, pageSize);
      yield* page;
      if (page.length < pageSize) return;
      after = page[page.length - 1][0];
    }
  },

  // ---- config overrides ---------------------------------------------------
  /** Every rbd_* option as images of the pool see it, and where the value comes from. */
  poolList(ioctx: IoCtx): Promise<ConfigOption[]> {
    return addon.rbdx.configPoolList(ioctx.native);
  },
  /** Overrides `option` for every image of the pool (`rbd config pool set`). */
  async poolSet(ioctx: IoCtx, name: string, value: string): Promise<void> {
    return addon.rbdx.poolMetadataSet(ioctx.native, CONF_PREFIX + option(name), checkString(value, 'value'));
  },
  /** The pool override of `option`, or undefined when none is set. */
  async poolGet(ioctx: IoCtx, name: string): Promise<string | undefined> {
    const key = CONF_PREFIX + option(name);
    try {
      return await addon.rbdx.poolMetadataGet(ioctx.native, key);
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  /** Drops the pool override (ImageNotFound when none was set). */
  async poolRemove(ioctx: IoCtx, name: string): Promise<void> {
    return addon.rbdx.poolMetadataRemove(ioctx.native, CONF_PREFIX + option(name));
  },
  /** Every rbd_* option as this image sees it (config, pool or image source). */
  imageList(image: Image): Promise<ConfigOption[]> {
    return addon.rbdx.configImageList(image.native);
  },
  /**
   * Overrides `option` for this image only (`rbd config image set`), e.g.
   * 'rbd_qos_iops_limit'. The value is a string as in ceph.conf.
   */
  async imageSet(image: Image, name: string, value: string): Promise<void> {
    return image.metadataSet(CONF_PREFIX + option(name), checkString(value, 'value'));
  },
  /** The effective value of `option` for this image and its source. */
  async imageGet(image: Image, name: string): Promise<ConfigOption> {
    const key = option(name);
    const found = (await addon.rbdx.configImageList(image.native)).find((o) => o.name === key);
    if (!found) throw invalidValue('option', 'a librbd option name', name);
    return found;
  },
  /** Drops the image override (ImageNotFound when none was set). */
  async imageRemove(image: Image, name: string): Promise<void> {
    return image.metadataRemove(CONF_PREFIX + option(name));
  },
};
