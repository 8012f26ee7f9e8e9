/**
 * Typed errors. Every Ceph failure arrives from the addon as an Error shaped
 * like Node's system errors (`code` 'ENOENT', negative `errno`, `op`, and the
 * pool/image/snapshot it was about); `toTypedError` turns it into one of the
 * classes below, by errno and by call family (rados or rbd), the way Ceph's
 * Python bindings do. No decision here ever parses a message.
 */

export interface CephErrorFields {
  code?: string;
  errno?: number;
  op?: string;
  family?: 'rados' | 'rbd';
  pool?: string;
  namespace?: string;
  image?: string;
  snapshot?: string;
  object?: string;
}

/** Base of every error that came from librados/librbd. */
export class CephError extends Error {
  /** The errno name, e.g. 'ENOENT'. */
  code: string;
  /** Negative errno, as Node's fs errors carry it. */
  errno: number;
  /** The operation, e.g. 'Image.open'. */
  op: string;
  family: 'rados' | 'rbd';
  pool?: string;
  namespace?: string;
  image?: string;
  snapshot?: string;
  object?: string;

  /** Whether retrying the same call later can succeed (busy, timed out, connection lost). See docs/API.md#error-contract. */
  get retryable(): boolean {
    return false;
  }

  constructor(message: string, fields: CephErrorFields = {}) {
    super(message);
    this.name = new.target.name;
    this.code = fields.code ?? 'EIO';
    this.errno = fields.errno ?? -5;
    this.op = fields.op ?? 'unknown';
    this.family = fields.family ?? 'rados';
    for (const key of ['pool', 'namespace', 'image', 'snapshot', 'object'] as const) {
      if (fields[key] !== undefined) this[key] = fields[key];
    }
  }
}

/**
 * Errors from librados calls. Classes shared by both layers
 * (InvalidArgument, PermissionDenied, NoSpace, TimedOut, ConnectionError, …)
 * extend RadosError; `instanceof RbdError` is also true for them when they
 * came from an rbd call.
 */
export class RadosError extends CephError {}

/** Errors from librbd calls. */
export class RbdError extends RadosError {
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== RbdError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof CephError && value.family === 'rbd';
  }
}

// librbd
export class ImageNotFound extends RbdError {}
export class ImageExists extends RbdError {}
export class ImageBusy extends RbdError {
  override get retryable(): boolean {
    return true;
  }
}
export class ImageHasSnapshots extends RbdError {}
export class ReadOnlyImage extends RbdError {}
export class FunctionNotSupported extends RbdError {}
export class ArgumentOutOfRange extends RbdError {}
export class OperationNotSupported extends RbdError {}
export class OperationCanceled extends RbdError {}
/** A write that librbd accepted only in part (python-rbd's IncompleteWriteError). */
export class IncompleteWriteError extends RbdError {}

// librados, and shared by both layers
export class ObjectNotFound extends RadosError {}
export class ObjectExists extends RadosError {}
export class ObjectBusy extends RadosError {
  override get retryable(): boolean {
    return true;
  }
}
export class NoData extends RadosError {}
export class InvalidArgument extends RadosError {}
export class PermissionDenied extends RadosError {}
export class NoSpace extends RadosError {}
export class DiskQuotaExceeded extends RadosError {}
export class TimedOut extends RadosError {
  override get retryable(): boolean {
    return true;
  }
}
export class IOError extends RadosError {}
/** The cluster could not be reached, or the connection was lost. */
export class ConnectionError extends RadosError {
  override get retryable(): boolean {
    return true;
  }
}

// librados errno classes (names as in Ceph's rados.pyx).
/** ENOTCONN: not connected, e.g. a watch whose session broke (Watch.check). */
export class NotConnected extends ConnectionError {}
/** ESHUTDOWN: the client was shut down or blocklisted by the cluster; reconnect to go on. */
export class ConnectionShutdown extends ConnectionError {}
/** EINTR: the call was interrupted. */
export class Interrupted extends RadosError {}
/** EINPROGRESS: the operation is already in progress. */
export class InProgress extends RadosError {}
/** EISCONN: already connected. */
export class IsConnected extends RadosError {}
/** ERANGE: a value out of range, e.g. assertVersion on an object newer than asked. */
export class OutOfRange extends RadosError {}
/** EILSEQ: a compare-extent (rados) or compareAndWrite (rbd) found different data; nothing was written; `mismatchOffset` is where. */
export class CompareMismatch extends RadosError {
  /** Offset of the first differing byte, relative to the compared extent. */
  declare mismatchOffset?: number;
}

// librbd groups, namespaces, compare-and-write (lib/rbd-group.ts, lib/rbd-namespace.ts, lib/rbd-image-ext.ts)
export class GroupNotFound extends RbdError {}
export class GroupExists extends RbdError {}
export class NamespaceNotFound extends RbdError {}
export class NamespaceExists extends RbdError {}

// RBD mirroring (lib/rbd-mirror.ts)
/** A peer uuid the pool does not know (ENOENT from a peer call). */
export class MirrorPeerNotFound extends RbdError {}
/** A peer of that site (or mirror uuid) is already registered (EEXIST from addPeer). */
export class MirrorPeerExists extends RbdError {}

/** Per-op-family overrides: where the same errno names a different thing than an image. */
const BY_OP_PREFIX: Array<[string, Record<string, ErrorClass>]> = [
  ['Group.addImage', { EEXIST: ImageExists }],
  ['Group.', { ENOENT: GroupNotFound, EEXIST: GroupExists }],
  ['Namespace.', { ENOENT: NamespaceNotFound, EEXIST: NamespaceExists }],
  ['Mirror.addPeer', { EEXIST: MirrorPeerExists }],
  ['Mirror.setPeer', { ENOENT: MirrorPeerNotFound }],
  ['Mirror.getPeer', { ENOENT: MirrorPeerNotFound }],
  ['Mirror.getUuid', { ENOENT: ObjectNotFound }],
  ['Image.compareAndWrite', { EILSEQ: CompareMismatch }],
  ['Image.aioCompareAndWrite', { EILSEQ: CompareMismatch }],
];

/** A call on a handle that is closing or closed (code 'ERR_CEPH_CLOSED'). */
export class HandleClosedError extends Error {
  readonly code = 'ERR_CEPH_CLOSED';
  readonly retryable = false;
  op: string;
  constructor(message: string, op = 'unknown') {
    super(message);
    this.name = 'HandleClosedError';
    this.op = op;
  }
}

/** A long operation stopped through its AbortSignal (like Node's AbortError). */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  readonly retryable = false;
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

type ErrorClass = new (message: string, fields: CephErrorFields) => CephError;

const SHARED: Record<string, ErrorClass> = {
  EINVAL: InvalidArgument,
  EPERM: PermissionDenied,
  EACCES: PermissionDenied,
  ENOSPC: NoSpace,
  EDQUOT: DiskQuotaExceeded,
  ETIMEDOUT: TimedOut,
  EIO: IOError,
  ENOTCONN: NotConnected,
  ESHUTDOWN: ConnectionShutdown,
  ECONNREFUSED: ConnectionError,
  EINTR: Interrupted,
  EINPROGRESS: InProgress,
  EISCONN: IsConnected,
};

const BY_FAMILY: Record<'rados' | 'rbd', Record<string, ErrorClass>> = {
  rbd: {
    ...SHARED,
    ENOENT: ImageNotFound,
    EEXIST: ImageExists,
    EBUSY: ImageBusy,
    ENOTEMPTY: ImageHasSnapshots,
    EROFS: ReadOnlyImage,
    ENOSYS: FunctionNotSupported,
    EDOM: ArgumentOutOfRange,
    EOPNOTSUPP: OperationNotSupported,
    ECANCELED: OperationCanceled,
  },
  rados: {
    ...SHARED,
    ENOENT: ObjectNotFound,
    EEXIST: ObjectExists,
    EBUSY: ObjectBusy,
    ENODATA: NoData,
    ERANGE: OutOfRange,
    EILSEQ: CompareMismatch,
    ECANCELED: OperationCanceled,
  },
};

/** The class a failure of `op` with errno `code` maps to. */
export function errorClassFor(code: string, family: 'rados' | 'rbd', op: string): ErrorClass {
  if (op === 'Rados.connect') {
    // Any failure to connect is a ConnectionError, except a refused key.
    return code === 'EPERM' || code === 'EACCES' ? PermissionDenied : ConnectionError;
  }
  for (const [prefix, map] of BY_OP_PREFIX) if (op.startsWith(prefix) && map[code]) return map[code];
  return BY_FAMILY[family][code] ?? (family === 'rbd' ? RbdError : RadosError);
}

/**
 * Image calls whose EROFS is their own answer even after a long wait, not a
 * lost lock: rbd_lock_acquire's "another client holds the exclusive lock".
 */
const LOCK_LOST_EXEMPT = new Set(['Image.lockAcquire']);

/**
 * librbd reports an exclusive lock lost to an OSD op timeout (the OSDs
 * stopped answering while the lock was being acquired or refreshed) as
 * EROFS ("read-only file system") or EBADMSG ("bad message": what Pacific
 * 16.2 answers for createSnap with the OSDs SIGSTOPped, after twice the op
 * timeout; test/reliability/faults.ts). A call on a writable image that
 * failed so after at least `rados_osd_op_timeout` (`opTimeoutMs` > 0) is a
 * TimedOut, the original error kept as `cause`; a quick EROFS (a
 * non-primary mirrored image, an image set to a snapshot) stays
 * ReadOnlyImage. The addon gives the timeout and the call's duration for
 * every call on a writable image (native Image::Ctx), so toTypedError
 * applies this to all of them. Anything else is returned as is.
 */
function lockLostToTimeout(err: unknown, opTimeoutMs: number, elapsedMs: number): unknown {
  if (!(err instanceof CephError) || err.family !== 'rbd' || (err.code !== 'EROFS' && err.code !== 'EBADMSG')) return err;
  if (opTimeoutMs <= 0 || elapsedMs < opTimeoutMs || LOCK_LOST_EXEMPT.has(err.op)) return err;
  const where = (['pool', 'namespace', 'image', 'snapshot'] as const)
    .filter((k) => err[k] !== undefined && err[k] !== '')
    .map((k) => `${k}=${err[k]}`)
    .join(', ');
  const description = `timed out after ${opTimeoutMs} ms: librbd lost the exclusive lock (${err.message})`;
  const out = new TimedOut(`${err.op}: ${description}${where ? ` (${where})` : ''}`, {
    code: 'ETIMEDOUT',
    errno: -110,
    op: err.op,
    family: 'rbd',
    ...(err.pool !== undefined ? { pool: err.pool } : {}),
    ...(err.namespace !== undefined ? { namespace: err.namespace } : {}),
    ...(err.image !== undefined ? { image: err.image } : {}),
    ...(err.snapshot !== undefined ? { snapshot: err.snapshot } : {}),
  });
  Object.defineProperty(out, 'cause', { value: err, enumerable: false, writable: true, configurable: true });
  return out;
}

/** The factory the addon calls for every error it raises. */
export function toTypedError(error: Error): Error {
  const raw = error as Error & Record<string, unknown>;
  if (raw.code === 'ERR_CEPH_CLOSED') return new HandleClosedError(raw.message, String(raw.op ?? 'unknown'));
  if (typeof raw.errno !== 'number' || typeof raw.code !== 'string') return raw;
  const family = raw.family === 'rbd' ? 'rbd' : 'rados';
  const op = typeof raw.op === 'string' ? raw.op : 'unknown';
  const Class = errorClassFor(raw.code, family, op);
  const fields: CephErrorFields = { code: raw.code, errno: raw.errno, op, family };
  for (const key of ['pool', 'namespace', 'image', 'snapshot', 'object'] as const) {
    if (typeof raw[key] === 'string') fields[key] = raw[key] as string;
  }
  const typed = new Class(raw.message, fields);
  if (typed instanceof CompareMismatch && typeof raw.mismatchOffset === 'number') typed.mismatchOffset = raw.mismatchOffset;
  // Set by the addon on calls on a writable image only.
  if (typeof raw.lockTimeoutMs === 'number' && typeof raw.elapsedMs === 'number') return lockLostToTimeout(typed, raw.lockTimeoutMs, raw.elapsedMs) as Error;
  return typed;
}

/** Turns librbd's ECANCELED after an abort into an AbortError carrying the cause. */
export function abortAware<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return promise.catch((err: unknown) => {
    if (signal.aborted) throw new AbortError(undefined, { cause: signal.reason ?? err });
    throw err;
  });
}
