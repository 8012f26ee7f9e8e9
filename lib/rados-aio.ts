/**
 * librados aio on an I/O context: each call is submitted at once and settles
 * through the addon's aio dispatcher (no worker thread per call), so
 * thousands can be in flight. Writes resolve with the object's new version.
 * Also single-call object operations that librados has no aio form of.
 */
import { addon } from './native';
import { IoCtx, type ObjectStat } from './rados';
import { checksumArgs, type ChecksumType } from './rados-ops';
import { bytes, extend } from './rados-extend';
import './setup';
import { checkBuffer, checkInteger, checkLength, checkName, checkU64 } from './validate';

type Bytes = Uint8Array | string;
type Off = number | bigint;

declare module './rados' {
  interface IoCtx {
    /** rados_aio_write: resolves with the object's new version. */
    aioWrite(oid: string, data: Bytes, offset?: Off): Promise<number>;
    /** rados_aio_write_full: replaces the object; resolves with its new version. */
    aioWriteFull(oid: string, data: Bytes): Promise<number>;
    aioAppend(oid: string, data: Bytes): Promise<number>;
    /** `data` repeated over `writeLength` bytes (a multiple of its length). */
    aioWriteSame(oid: string, data: Bytes, writeLength: Off, offset?: Off): Promise<number>;
    /** Up to `length` bytes from `offset` (fewer at the end of the object). */
    aioRead(oid: string, length?: number, offset?: Off): Promise<Buffer>;
    aioRemove(oid: string): Promise<void>;
    aioStat(oid: string): Promise<ObjectStat>;
    aioGetXattr(oid: string, name: string, maxLength?: number): Promise<Buffer>;
    aioSetXattr(oid: string, name: string, value: Bytes): Promise<void>;
    aioRmXattr(oid: string, name: string): Promise<void>;
    /** Rejects with CompareMismatch (mismatchOffset) unless the bytes at `offset` equal `expected`. */
    aioCmpExt(oid: string, expected: Bytes, offset?: Off): Promise<void>;
    /** Calls an object-class method; resolves with up to `maxOutput` bytes of its output. */
    aioExec(oid: string, cls: string, method: string, input?: Bytes, maxOutput?: number): Promise<Buffer>;
    /** Settles once every aio write submitted before it is safe on the OSDs. */
    aioFlush(): Promise<void>;
    truncate(oid: string, size: Off): Promise<void>;
    cmpext(oid: string, expected: Bytes, offset?: Off): Promise<void>;
    writeSame(oid: string, data: Bytes, writeLength: Off, offset?: Off): Promise<void>;
    exec(oid: string, cls: string, method: string, input?: Bytes, maxOutput?: number): Promise<Buffer>;
    /** One checksum per `chunkSize` bytes (0: one for the range); bigints for xxhash64. */
    checksum(oid: string, type: ChecksumType, offset: Off, length: number, options?: { chunkSize?: number; init?: Uint8Array }): Promise<Array<number | bigint>>;
    /** Hints the expected object and write sizes (LIBRADOS_ALLOC_HINT_FLAG_* flags). */
    setAllocHint(oid: string, expectedObjectSize: Off, expectedWriteSize: Off, flags?: number): Promise<void>;
  }
}

const r = addon.rados;
const data = (v: unknown): Buffer => bytes(v, 'data', checkBuffer);

extend(IoCtx.prototype, {
  async aioWrite(this: IoCtx, oid: string, d: Bytes, offset: Off = 0) {
    return r.aioWrite(this.native, checkName(oid, 'oid'), data(d), checkU64(offset, 'offset'));
  },
  async aioWriteFull(this: IoCtx, oid: string, d: Bytes) {
    return r.aioWriteFull(this.native, checkName(oid, 'oid'), data(d));
  },
  async aioAppend(this: IoCtx, oid: string, d: Bytes) {
    return r.aioAppend(this.native, checkName(oid, 'oid'), data(d));
  },
  async aioWriteSame(this: IoCtx, oid: string, d: Bytes, writeLength: Off, offset: Off = 0) {
    return r.aioWriteSame(this.native, checkName(oid, 'oid'), data(d), checkU64(writeLength, 'writeLength'), checkU64(offset, 'offset'));
  },
  async aioRead(this: IoCtx, oid: string, length = 8192, offset: Off = 0) {
    const name = checkName(oid, 'oid');
    const buf = Buffer.allocUnsafe(checkLength(length, 'length'));
    const n = await r.aioRead(this.native, name, buf, checkU64(offset, 'offset'));
    return n === buf.length ? buf : buf.subarray(0, n);
  },
  async aioRemove(this: IoCtx, oid: string) {
    return r.aioRemove(this.native, checkName(oid, 'oid'));
  },
  async aioStat(this: IoCtx, oid: string) {
    return r.aioStat(this.native, checkName(oid, 'oid'));
  },
  async aioGetXattr(this: IoCtx, oid: string, name: string, maxLength = 65536) {
    const buf = Buffer.allocUnsafe(checkLength(maxLength, 'maxLength'));
    const n = await r.aioGetXattr(this.native, checkName(oid, 'oid'), checkName(name, 'name'), buf);
    return buf.subarray(0, n);
  },
  async aioSetXattr(this: IoCtx, oid: string, name: string, value: Bytes) {
    return r.aioSetXattr(this.native, checkName(oid, 'oid'), checkName(name, 'name'), bytes(value, 'value', checkBuffer));
  },
  async aioRmXattr(this: IoCtx, oid: string, name: string) {
    return r.aioRmXattr(this.native, checkName(oid, 'oid'), checkName(name, 'name'));
  },
  async aioCmpExt(this: IoCtx, oid: string, expected: Bytes, offset: Off = 0) {
    return r.aioCmpExt(this.native, checkName(oid, 'oid'), bytes(expected, 'expected', checkBuffer), checkU64(offset, 'offset'));
  },
  async aioExec(this: IoCtx, oid: string, cls: string, method: string, input: Bytes = Buffer.alloc(0), maxOutput = 65536) {
    const out = Buffer.alloc(checkLength(maxOutput, 'maxOutput'));
    const n = await r.aioExec(this.native, checkName(oid, 'oid'), checkName(cls, 'cls'), checkName(method, 'method'), bytes(input, 'input', checkBuffer), out);
    return out.subarray(0, n);
  },
  async aioFlush(this: IoCtx) {
    return r.aioFlush(this.native);
  },
  async truncate(this: IoCtx, oid: string, size: Off) {
    return r.truncate(this.native, checkName(oid, 'oid'), checkU64(size, 'size'));
  },
  async cmpext(this: IoCtx, oid: string, expected: Bytes, offset: Off = 0) {
    return r.cmpext(this.native, checkName(oid, 'oid'), bytes(expected, 'expected', checkBuffer), checkU64(offset, 'offset'));
  },
  async writeSame(this: IoCtx, oid: string, d: Bytes, writeLength: Off, offset: Off = 0) {
    return r.writeSame(this.native, checkName(oid, 'oid'), data(d), checkU64(writeLength, 'writeLength'), checkU64(offset, 'offset'));
  },
  async exec(this: IoCtx, oid: string, cls: string, method: string, input: Bytes = Buffer.alloc(0), maxOutput = 65536) {
    const out = Buffer.alloc(checkLength(maxOutput, 'maxOutput'));
    const n = await r.exec(this.native, checkName(oid, 'oid'), checkName(cls, 'cls'), checkName(method, 'method'), bytes(input, 'input', checkBuffer), out);
    return out.subarray(0, n);
  },
  async checksum(this: IoCtx, oid: string, type: ChecksumType, offset: Off, length: number, options: { chunkSize?: number; init?: Uint8Array } = {}) {
    const [t, init] = checksumArgs(type, options.init);
    const chunk = options.chunkSize === undefined ? 0 : checkInteger(options.chunkSize, 'options.chunkSize', 0, 2 ** 31 - 1);
    return r.checksum(this.native, checkName(oid, 'oid'), t, init, checkU64(offset, 'offset'), checkInteger(length, 'length', 1, 2 ** 31 - 1), chunk);
  },
  async setAllocHint(this: IoCtx, oid: string, expectedObjectSize: Off, expectedWriteSize: Off, flags = 0) {
    return r.setAllocHint(this.native, checkName(oid, 'oid'), checkU64(expectedObjectSize, 'expectedObjectSize'), checkU64(expectedWriteSize, 'expectedWriteSize'), checkInteger(flags, 'flags', 0, 0xffffffff));
  },
});
