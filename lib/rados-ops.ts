/**
 * Compound object operations: several steps on one object applied
 * atomically by the OSD (rados_write_op_t / rados_read_op_t). If a step
 * fails (an assert, a compare, a missing object) the whole operation fails
 * and none of its writes happen; the error carries `step`, the index of the
 * step that failed. Operations run through librados aio (no thread blocked).
 *
 *   await ioctx.writeOp('obj').assertExists().omapSet({ k: 'v' }).write(buf, 0).operate();
 *   const [st, data] = await ioctx.readOp('obj').stat().read(0, 4096).operate();
 */
import { HandleClosedError } from './errors';
import { addon, type NativeOpStep, type U64 } from './native';
import { IoCtx, type ObjectStat } from './rados';
import { bytes, extend } from './rados-extend';
import './setup';
import { checkBoolean, checkBuffer, checkInteger, checkLength, checkName, checkObject, checkString, checkU64, invalidType, invalidValue } from './validate';

/** Comparison operators of cmpxattr/omapCmp (LIBRADOS_CMPXATTR_OP_*). */
export const CMP_OPS = { eq: 1, ne: 2, gt: 3, gte: 4, lt: 5, lte: 6 } as const;
export type CmpOp = keyof typeof CMP_OPS;

/** Per-step flags for setFlags() (LIBRADOS_OP_FLAG_*). */
export const OP_FLAGS = { EXCL: 0x1, FAILOK: 0x2, FADVISE_RANDOM: 0x4, FADVISE_SEQUENTIAL: 0x8, FADVISE_WILLNEED: 0x10, FADVISE_DONTNEED: 0x20, FADVISE_NOCACHE: 0x40 } as const;

/** Checksum types of readOp().checksum() / IoCtx.checksum() (LIBRADOS_CHECKSUM_TYPE_*). */
export const CHECKSUM_TYPES = { xxhash32: 0, xxhash64: 1, crc32c: 2 } as const;
export type ChecksumType = keyof typeof CHECKSUM_TYPES;

type Bytes = Uint8Array | string;

function cmpOp(op: unknown): number {
  if (typeof op !== 'string' || !(op in CMP_OPS)) throw invalidValue('op', `one of ${Object.keys(CMP_OPS).join(', ')}`, op);
  return CMP_OPS[op as CmpOp];
}

function omapEntries(entries: unknown): [string[], Buffer[]] {
  const pairs = entries instanceof Map ? [...(entries as Map<unknown, unknown>)] : Object.entries(checkObject(entries, 'entries'));
  return [pairs.map(([k]) => checkName(k, 'omap key')), pairs.map(([, v]) => bytes(v, 'omap value', checkBuffer))];
}

function keyList(keys: unknown): string[] {
  if (!Array.isArray(keys)) throw invalidType('keys', 'an array of strings', keys);
  return keys.map((k) => checkName(k, 'omap key'));
}

export interface OperateOptions {
  /** LIBRADOS_OPERATION_* flags for the whole operation. */
  flags?: number;
}

/** Steps shared by write and read ops: guards evaluated before anything is applied. */
abstract class OpBuilder {
  protected readonly steps: NativeOpStep[] = [];
  constructor(protected readonly ioctx: IoCtx, readonly oid: string) {}

  protected add(step: NativeOpStep): this {
    this.steps.push(step);
    return this;
  }

  /** Fails the operation with ObjectNotFound unless the object exists. */
  assertExists(): this {
    return this.add(['assertExists']);
  }
  /** Fails unless the object's version is `version` (OutOfRange when newer, EOVERFLOW when older). */
  assertVersion(version: number | bigint): this {
    return this.add(['assertVersion', checkU64(version, 'version')]);
  }
  /** Fails with CompareMismatch (mismatchOffset) unless the bytes at `offset` equal `expected`. */
  cmpext(expected: Bytes, offset: number | bigint = 0): this {
    return this.add(['cmpext', bytes(expected, 'expected', checkBuffer), checkU64(offset, 'offset')]);
  }
  /** Fails with OperationCanceled unless `xattr <op> value` holds. */
  cmpxattr(name: string, op: CmpOp, value: Bytes): this {
    return this.add(['cmpxattr', checkName(name, 'name'), cmpOp(op), bytes(value, 'value', checkBuffer)]);
  }
  /** Fails with OperationCanceled unless `omap[key] <op> value` holds (a missing key fails ENOENT). */
  omapCmp(key: string, op: CmpOp, value: Bytes): this {
    return this.add(['omapCmp', checkName(key, 'key'), cmpOp(op), bytes(value, 'value', checkBuffer)]);
  }
  /** OP_FLAGS for the step added last, e.g. OP_FLAGS.FAILOK: its failure does not fail the operation. */
  setFlags(flags: number): this {
    if (this.steps.length === 0) throw invalidValue('setFlags', 'called after a step', flags);
    // Not a step of its own: it yields no result and takes no step index.
    this.steps.push(['setFlags', checkInteger(flags, 'flags', 0, 0xffff)]);
    return this;
  }
}

/** A compound write: build with the chained methods, then operate(). */
export class WriteOp extends OpBuilder {
  /** Creates the object; exclusive: fail with ObjectExists if it exists. */
  create(exclusive = false): this {
    return this.add(['create', checkBoolean(exclusive, 'exclusive')]);
  }
  write(data: Bytes, offset: number | bigint = 0): this {
    return this.add(['write', bytes(data, 'data', checkBuffer), checkU64(offset, 'offset')]);
  }
  writeFull(data: Bytes): this {
    return this.add(['writeFull', bytes(data, 'data', checkBuffer)]);
  }
  /** Writes `data` repeated over `writeLength` bytes (a multiple of its length) at `offset`. */
  writeSame(data: Bytes, writeLength: number | bigint, offset: number | bigint = 0): this {
    return this.add(['writeSame', bytes(data, 'data', checkBuffer), checkU64(writeLength, 'writeLength'), checkU64(offset, 'offset')]);
  }
  append(data: Bytes): this {
    return this.add(['append', bytes(data, 'data', checkBuffer)]);
  }
  remove(): this {
    return this.add(['remove']);
  }
  truncate(size: number | bigint): this {
    return this.add(['truncate', checkU64(size, 'size')]);
  }
  zero(offset: number | bigint, length: number | bigint): this {
    return this.add(['zero', checkU64(offset, 'offset'), checkU64(length, 'length')]);
  }
  setXattr(name: string, value: Bytes): this {
    return this.add(['setXattr', checkName(name, 'name'), bytes(value, 'value', checkBuffer)]);
  }
  rmXattr(name: string): this {
    return this.add(['rmXattr', checkName(name, 'name')]);
  }
  omapSet(entries: Record<string, Bytes> | Map<string, Bytes>): this {
    const [keys, values] = omapEntries(entries);
    return this.add(['omapSet', keys, values]);
  }
  omapRemove(keys: string[]): this {
    return this.add(['omapRmKeys', keyList(keys)]);
  }
  /** Removes the omap keys in [start, end). */
  omapRemoveRange(start: string, end: string): this {
    return this.add(['omapRmRange', checkString(start, 'start'), checkString(end, 'end')]);
  }
  omapClear(): this {
    return this.add(['omapClear']);
  }
  /** Calls an OSD object-class method (e.g. 'lock', 'lock') with `input`. */
  exec(cls: string, method: string, input: Bytes = Buffer.alloc(0)): this {
    return this.add(['exec', checkName(cls, 'cls'), checkName(method, 'method'), bytes(input, 'input', checkBuffer)]);
  }
  /** Hints the object's expected size and write size (LIBRADOS_ALLOC_HINT_FLAG_* flags). */
  setAllocHint(expectedObjectSize: number | bigint, expectedWriteSize: number | bigint, flags = 0): this {
    return this.add(['setAllocHint', checkU64(expectedObjectSize, 'expectedObjectSize'), checkU64(expectedWriteSize, 'expectedWriteSize'), checkInteger(flags, 'flags', 0, 0xffffffff)]);
  }

  /** Applies every step atomically. Resolves with the object's new version. */
  async operate(options: OperateOptions & { mtime?: Date } = {}): Promise<number> {
    const o = checkObject<OperateOptions & { mtime: Date }>(options, 'options');
    const flags = o.flags === undefined ? 0 : checkInteger(o.flags, 'options.flags', 0, 0xffff);
    let mtime: number | null = null;
    if (o.mtime !== undefined) {
      if (!(o.mtime instanceof Date) || Number.isNaN(o.mtime.getTime())) throw invalidType('options.mtime', 'a valid Date', o.mtime);
      mtime = Math.floor(o.mtime.getTime() / 1000);
    }
    return addon.rados.writeOperate(this.ioctx.native, this.oid, this.steps, flags, mtime);
  }
}

export interface OmapPage<T> { entries: T; more: boolean }
/** What a ReadOp step yields, in step order (guards yield null). */
export type ReadOpResult = ObjectStat | Buffer | OmapPage<string[]> | OmapPage<Map<string, Buffer>> | Map<string, Buffer> | Array<number | bigint> | null;

/** A compound read: build with the chained methods, then operate() -> one result per step. */
export class ReadOp extends OpBuilder {
  readonly #post: Array<(raw: unknown) => ReadOpResult> = [];
  #version = -1;

  protected override add(step: NativeOpStep, post: (raw: unknown) => ReadOpResult = () => null): this {
    this.#post.push(post);
    return super.add(step);
  }

  /** Yields { size, mtimeMs }. */
  stat(): this {
    return this.add(['stat'], (r) => r as ObjectStat);
  }
  /** Yields up to `length` bytes from `offset` (fewer at the end of the object). */
  read(offset: number | bigint, length: number): this {
    const buf = Buffer.alloc(checkLength(length, 'length'));
    return this.add(['read', checkU64(offset, 'offset'), buf], (n) => buf.subarray(0, n as number));
  }
  /** Yields one checksum per `chunkSize` bytes (0: one for the whole range); bigints for xxhash64. */
  checksum(type: ChecksumType, offset: number | bigint, length: number, options: { chunkSize?: number; init?: Uint8Array } = {}): this {
    const [t, init] = checksumArgs(type, options.init);
    const chunk = options.chunkSize === undefined ? 0 : checkInteger(options.chunkSize, 'options.chunkSize', 0, 2 ** 31 - 1);
    return this.add(['checksum', t, init, checkU64(offset, 'offset'), checkInteger(length, 'length', 1, 2 ** 31 - 1), chunk], (r) => r as number[]);
  }
  /** Calls a read-only object-class method; yields its output. */
  exec(cls: string, method: string, input: Bytes = Buffer.alloc(0)): this {
    return this.add(['exec', checkName(cls, 'cls'), checkName(method, 'method'), bytes(input, 'input', checkBuffer)], (r) => r as Buffer);
  }
  /** Yields every extended attribute. */
  getXattrs(): this {
    return this.add(['getXattrs'], (r) => new Map(r as Array<[string, Buffer]>));
  }
  /** Yields { entries: keys, more } after `startAfter`. */
  omapGetKeys(options: { startAfter?: string; max?: number } = {}): this {
    const o = checkObject<{ startAfter: string; max: number }>(options, 'options');
    return this.add(['omapGetKeys', checkString(o.startAfter ?? '', 'options.startAfter'), checkInteger(o.max ?? 1024, 'options.max', 1, 2 ** 31 - 1)], (r) => r as OmapPage<string[]>);
  }
  /** Yields { entries: Map, more } after `startAfter`, only keys starting with `prefix`. */
  omapGetVals(options: { startAfter?: string; prefix?: string; max?: number } = {}): this {
    const o = checkObject<{ startAfter: string; prefix: string; max: number }>(options, 'options');
    const args: NativeOpStep = ['omapGetVals', checkString(o.startAfter ?? '', 'options.startAfter'), checkString(o.prefix ?? '', 'options.prefix'), checkInteger(o.max ?? 1024, 'options.max', 1, 2 ** 31 - 1)];
    return this.add(args, (r) => {
      const page = r as { entries: Array<[string, Buffer]>; more: boolean };
      return { entries: new Map(page.entries), more: page.more };
    });
  }
  /** Yields a Map of the given keys that exist. */
  omapGetValsByKeys(keys: string[]): this {
    return this.add(['omapGetValsByKeys', keyList(keys)], (r) => new Map((r as { entries: Array<[string, Buffer]> }).entries));
  }

  /** The object version the last operate() read (-1 before). */
  get version(): number {
    return this.#version;
  }

  /** Runs every step atomically; resolves with one result per step (null for guards). */
  async operate(options: OperateOptions = {}): Promise<ReadOpResult[]> {
    const o = checkObject<OperateOptions>(options, 'options');
    const flags = o.flags === undefined ? 0 : checkInteger(o.flags, 'options.flags', 0, 0xffff);
    const reply = await addon.rados.readOperate(this.ioctx.native, this.oid, this.steps, flags);
    this.#version = reply.version;
    return reply.results.map((r, i) => this.#post[i](r));
  }
}

/** [type, init Buffer] for a checksum: init defaults to all ones (-1) of the type's width. */
export function checksumArgs(type: unknown, init?: unknown): [number, Buffer] {
  if (typeof type !== 'string' || !(type in CHECKSUM_TYPES)) throw invalidValue('type', `one of ${Object.keys(CHECKSUM_TYPES).join(', ')}`, type);
  const t = CHECKSUM_TYPES[type as ChecksumType];
  const width = t === CHECKSUM_TYPES.xxhash64 ? 8 : 4;
  const buf = init === undefined ? Buffer.alloc(width, 0xff) : checkBuffer(init, 'options.init');
  if (buf.length !== width) throw invalidValue('options.init', `${width} bytes for ${type}`, init);
  return [t, buf];
}

declare module './rados' {
  interface IoCtx {
    /** A compound write on `oid` (see WriteOp). */
    writeOp(oid: string): WriteOp;
    /** A compound read on `oid` (see ReadOp). */
    readOp(oid: string): ReadOp;
  }
}

/** A builder on a closed I/O context would only fail at operate(): refuse it at once, as every other method does. */
function checkOpen(ioctx: IoCtx, op: string): void {
  if (ioctx.state !== 'open') throw new HandleClosedError(`${op}: the I/O context is ${ioctx.state}`, op);
}

extend(IoCtx.prototype, {
  writeOp(this: IoCtx, oid: string): WriteOp {
    checkOpen(this, 'IoCtx.writeOp');
    return new WriteOp(this, checkName(oid, 'oid'));
  },
  readOp(this: IoCtx, oid: string): ReadOp {
    checkOpen(this, 'IoCtx.readOp');
    return new ReadOp(this, checkName(oid, 'oid'));
  },
});

export type { U64 };
