/**
 * ImageOptions: librbd's rbd_image_options_t (go-ceph's ImageOptions). Set
 * options by RBD_IMAGE_OPTION_* key and read back what librbd stores;
 * librbd checks each key's type (InvalidArgument for a string on a number
 * key and the reverse).
 */
import { type NativeImageOptionsHandle, addon } from './native';
import './setup';
import { checkInteger, checkString, checkU64 } from './validate';

/** RBD_IMAGE_OPTION_* keys (librbd.h). */
export const ImageOption = {
  FORMAT: 0,
  FEATURES: 1,
  ORDER: 2,
  STRIPE_UNIT: 3,
  STRIPE_COUNT: 4,
  JOURNAL_ORDER: 5,
  JOURNAL_SPLAY_WIDTH: 6,
  JOURNAL_POOL: 7,
  FEATURES_SET: 8,
  FEATURES_CLEAR: 9,
  DATA_POOL: 10,
  FLATTEN: 11,
  CLONE_FORMAT: 12,
  MIRROR_IMAGE_MODE: 13,
} as const;

/** Keys whose value is a string; the others are 64-bit numbers. */
const STRING_KEYS: ReadonlySet<number> = new Set([ImageOption.JOURNAL_POOL, ImageOption.DATA_POOL]);

function key(value: unknown): number {
  return checkInteger(value, 'key', 0, 63);
}

export class ImageOptions {
  readonly #native: NativeImageOptionsHandle = new addon.rbdx.ImageOptions();

  /** Sets a key: a string for DATA_POOL/JOURNAL_POOL, a number or bigint otherwise. */
  set(optionKey: number, value: string | number | bigint): this {
    const k = key(optionKey);
    if (STRING_KEYS.has(k)) this.#native.setString(k, checkString(value, 'value'));
    else this.#native.setUint64(k, checkU64(value, 'value'));
    return this;
  }

  /** The value of a key, or undefined when it is not set. */
  get(optionKey: number): string | number | undefined {
    const k = key(optionKey);
    if (!this.#native.isSet(k)) return undefined;
    return STRING_KEYS.has(k) ? this.#native.getString(k) : this.#native.getUint64(k);
  }

  /** Raw typed access (go-ceph's GetUint64/GetString): InvalidArgument for the wrong type, ImageNotFound when unset. */
  getUint64(optionKey: number): number {
    return this.#native.getUint64(key(optionKey));
  }

  getString(optionKey: number): string {
    return this.#native.getString(key(optionKey));
  }

  /** Sets a string (or number) key without type inference (librbd checks the type). */
  setRaw(optionKey: number, value: string | number | bigint): this {
    if (typeof value === 'string') this.#native.setString(key(optionKey), value);
    else this.#native.setUint64(key(optionKey), checkU64(value, 'value'));
    return this;
  }

  isSet(optionKey: number): boolean {
    return this.#native.isSet(key(optionKey));
  }

  unset(optionKey: number): this {
    this.#native.unset(key(optionKey));
    return this;
  }

  clear(): this {
    this.#native.clear();
    return this;
  }

  isEmpty(): boolean {
    return this.#native.isEmpty();
  }
}
