/**
 * Argument checks before anything crosses into C++. One message template
 * everywhere: `Expected <what> for <name> but received <value>`, with
 * Node's error codes (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE,
 * ERR_OUT_OF_RANGE).
 */
import { inspect } from 'node:util';

type Coded<E extends Error> = E & { code: string };

/** A value an error message must not show (a secret): describe() prints `text` instead. */
class Redacted {
  constructor(readonly text: string) {}
}

function describe(value: unknown): string {
  if (value instanceof Redacted) return value.text;
  if (typeof value === 'string') return inspect(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (typeof value === 'function') return 'a function';
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  // Never call into the value (toString, a getter): hostile objects must not break the message.
  let name: unknown;
  try {
    name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  } catch {
    name = undefined;
  }
  return `an instance of ${typeof name === 'string' && name !== '' ? name : 'Object'}`;
}

/** How an argument error message shows a value (never throws, never calls into it). */
export function describeValue(value: unknown): string {
  return describe(value);
}

export function invalidType(name: string, what: string, value: unknown): Coded<TypeError> {
  const err = new TypeError(`Expected ${what} for ${name} but received ${describe(value)}`) as Coded<TypeError>;
  err.code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

export function invalidValue(name: string, what: string, value: unknown): Coded<TypeError> {
  const err = new TypeError(`Expected ${what} for ${name} but received ${describe(value)}`) as Coded<TypeError>;
  err.code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

export function outOfRange(name: string, what: string, value: unknown): Coded<RangeError> {
  const err = new RangeError(`Expected ${what} for ${name} but received ${describe(value)}`) as Coded<RangeError>;
  err.code = 'ERR_OUT_OF_RANGE';
  return err;
}

const U64_MAX = (1n << 64n) - 1n;

/** A 64-bit size or offset: a non-negative safe integer or a bigint < 2^64. */
export function checkU64(value: unknown, name: string): number | bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) throw outOfRange(name, 'a non-negative 64-bit integer', value);
    return value;
  }
  if (typeof value !== 'number') throw invalidType(name, 'a non-negative safe integer or bigint', value);
  if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'a non-negative safe integer', value);
  return value;
}

/**
 * An extent (offset + length) that stays inside the 64-bit range. librbd
 * adds them unchecked: writeZeroes(4096, 2^64 - 1) wraps around its bounds
 * check and then allocates without limit (the process is OOM-killed).
 */
export function checkExtent(offset: number | bigint, length: number | bigint, name = 'length'): void {
  // Two numbers passed checkU64, so each is below 2^53: their sum cannot
  // reach 2^64. Only a bigint needs the exact sum (kept off the aio hot path).
  if (typeof offset === 'number' && typeof length === 'number') return;
  if (BigInt(offset) + BigInt(length) > U64_MAX) throw outOfRange(name, `a length with offset + length below 2^64 (offset ${typeof offset === 'bigint' ? `${offset}n` : offset})`, length);
}

/** The (offset, length) arguments of discard/writeZeroes: two u64 values whose sum stays below 2^64. */
export function checkOffsetLength(offset: unknown, length: unknown): [number | bigint, number | bigint] {
  const off = checkU64(offset, 'offset');
  const len = checkU64(length, 'length');
  checkExtent(off, len);
  return [off, len];
}

/** A length that must fit in one Buffer (reads allocate it). */
export function checkLength(value: unknown, name: string): number {
  const v = checkU64(value, name);
  const n = Number(v);
  if (n > 0x7fffffff * 2) throw outOfRange(name, 'a length of at most 4 GiB', value);
  return n;
}

export function checkInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidType(name, 'an integer', value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw outOfRange(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** A name Ceph will accept: a non-empty string without NUL. */
export function checkName(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidType(name, 'a string', value);
  if (value.length === 0) throw invalidValue(name, 'a non-empty string', value);
  if (value.includes('\0')) throw invalidValue(name, 'a string without NUL characters', value);
  return value;
}

/**
 * The longest image name, in UTF-8 bytes, librbd creates whole on a
 * default cluster: it builds RADOS object names from it (`rbd_id.<name>`
 * and longer), and past 2039 bytes one of them exceeds the OSDs' default
 * osd_max_object_name_len (2048), so rbd_create fails with ENAMETOOLONG
 * half-way, leaving an image that is listed but unusable.
 */
export const MAX_RBD_NAME_BYTES = 2039;

/**
 * An image, volume or snapshot name (or the id a name is made from) that the
 * `rbd` tool can address: non-empty, no NUL, no `/` (pool/namespace
 * separator), no `@` (snapshot separator), at most `maxBytes` UTF-8 bytes
 * (after `prefix`, e.g. 'volume-', is added).
 */
export function checkRbdName(value: unknown, name: string, prefix = '', maxBytes = MAX_RBD_NAME_BYTES): string {
  if (typeof value !== 'string') throw invalidType(name, 'a string', value);
  if (value.length === 0) throw invalidValue(name, 'a non-empty string', value);
  if (/[\0/@]/.test(value)) throw invalidValue(name, "a name without '/', '@' or NUL characters", value);
  const limit = maxBytes - Buffer.byteLength(prefix);
  if (Buffer.byteLength(value) > limit) throw outOfRange(name, `a name of at most ${limit} bytes`, value);
  return value;
}

export function checkOptionalName(value: unknown, name: string): string | undefined {
  return value === undefined || value === null ? undefined : checkName(value, name);
}

/**
 * Ceph options whose value may be a secret, never shown in an error: the
 * cephx `key`, and (erring on the side of hiding) anything naming a key,
 * keyring, secret or password (`keyring` is a path list, but a misplaced
 * keyring's contents must not be echoed either).
 */
export function isSecretOption(option: string): boolean {
  const o = String(option).trim().replace(/[ -]/g, '_').toLowerCase();
  return /key|secret|passw|token|credential/.test(o);
}

/**
 * A secret (a cephx key): checked like a name (or like any string with
 * `allowEmpty`), but the error says only what kind of value it got.
 */
export function checkSecret(value: unknown, name: string, allowEmpty = false): string {
  const shown = new Redacted(typeof value === 'string' ? `a string of ${value.length} characters (not shown)` : `a value of type ${typeof value} (not shown)`);
  if (typeof value !== 'string') throw invalidType(name, 'a string', shown);
  if (!allowEmpty && value.length === 0) throw invalidValue(name, 'a non-empty string', shown);
  if (value.includes('\0')) throw invalidValue(name, 'a string without NUL characters', shown);
  return value;
}

/** Any string without NUL (empty allowed: metadata values, namespaces). */
export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidType(name, 'a string', value);
  if (value.includes('\0')) throw invalidValue(name, 'a string without NUL characters', value);
  return value;
}

/** A Buffer or Uint8Array, returned as a Buffer over the same memory (no copy). */
export function checkBuffer(value: unknown, name: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw invalidType(name, 'a Buffer or Uint8Array', value);
}

export function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidType(name, 'a boolean', value);
  return value;
}

export function checkFunction<F>(value: unknown, name: string): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalidType(name, 'a function', value);
  return value as F;
}

export function checkObject<T extends object>(value: unknown, name: string): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') throw invalidType(name, 'an options object', value);
  return value as Partial<T>;
}

export function checkSignal(value: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw invalidType(name, 'an AbortSignal', value);
  return value;
}
