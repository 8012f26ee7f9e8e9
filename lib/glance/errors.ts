/**
 * The exceptions glance_store raises, as classes. `message` is the text
 * Glance uses (its default for the class unless the store gives a specific
 * one); `cause` carries the Ceph error that led to it, when there is one.
 */

/** The stable `code` of each class (docs/API.md#error-contract). */
export const GLANCE_ERROR_CODES = {
  GlanceStoreError: 'ERR_GLANCE_STORE',
  BadStoreUri: 'ERR_GLANCE_BAD_STORE_URI',
  Duplicate: 'ERR_GLANCE_DUPLICATE',
  Invalid: 'ERR_GLANCE_INVALID',
  StorageFull: 'ERR_GLANCE_STORAGE_FULL',
  NotFound: 'ERR_GLANCE_NOT_FOUND',
  InUseByStore: 'ERR_GLANCE_IN_USE_BY_STORE',
  BackendException: 'ERR_GLANCE_BACKEND',
  BadStoreConfiguration: 'ERR_GLANCE_BAD_STORE_CONFIGURATION',
} as const;

/** Classes whose failure can go away by itself (retrying later can help). */
const RETRYABLE = new Set<string>(['InUseByStore', 'BackendException']);

/** Base of every Glance store error. */
export class GlanceStoreError extends Error {
  /** Stable code, ERR_GLANCE_*. */
  readonly code: string;
  /** Whether retrying the same call later can succeed. */
  readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = (GLANCE_ERROR_CODES as Record<string, string>)[new.target.name] ?? GLANCE_ERROR_CODES.GlanceStoreError;
    this.retryable = RETRYABLE.has(new.target.name);
  }
}

/** A location URI that is not a valid RBD location. */
export class BadStoreUri extends GlanceStoreError {
  /** The URI that was rejected, when known. */
  uri?: string;
  constructor(message?: string, options?: { cause?: unknown; uri?: string }) {
    super(message ?? `The Store URI was malformed: ${options?.uri ?? ''}`, options);
    if (options?.uri !== undefined) this.uri = options.uri;
  }
}

/** An image of that name already exists (it is not ours: nothing is cleaned up). */
export class Duplicate extends GlanceStoreError {
  constructor(message = 'Image already exists', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The data did not match what was announced (size), or was otherwise not acceptable. */
export class Invalid extends GlanceStoreError {
  constructor(message = 'Data supplied was not valid.', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The cluster or pool is full (ENOSPC, or the pool quota). */
export class StorageFull extends GlanceStoreError {
  constructor(message = 'There is not enough disk space on the image storage media.', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The image (or its snapshot) does not exist. */
export class NotFound extends GlanceStoreError {
  constructor(message = 'Image not found', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The image is in use outside Glance (clones of its snapshot, or open by another client). */
export class InUseByStore extends GlanceStoreError {
  constructor(
    message = 'The image cannot be deleted because it is in use through the backend store outside of Glance.',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The cluster could not be reached (connect failed). */
export class BackendException extends GlanceStoreError {
  constructor(message = 'Error connecting to ceph cluster.', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The store's options are not usable. */
export class BadStoreConfiguration extends GlanceStoreError {
  storeName: string;
  reason: string;
  constructor(reason: string, options?: { cause?: unknown; storeName?: string }) {
    const storeName = options?.storeName ?? 'rbd';
    super(`Store ${storeName} could not be configured correctly. Reason: ${reason}`, options);
    this.storeName = storeName;
    this.reason = reason;
  }
}
