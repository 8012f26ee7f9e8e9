/**
 * The errors the Cinder layer raises, named after Cinder's own exceptions so
 * a caller that knows Cinder reads them at once. Each carries a stable
 * `code` (ERR_CINDER_*) and, where it wraps a Ceph failure, that failure as
 * `cause`. No decision anywhere is made by parsing a message.
 */

import { describeValue } from '../validate';

/** JSON of a reference for a message; a value JSON cannot show (BigInt, a cycle, a throwing toJSON) is described instead. */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? describeValue(value);
  } catch {
    return describeValue(value);
  }
}

/** Base of every Cinder/Nova-layer error. */
export class CinderError extends Error {
  /** Stable code, ERR_CINDER_*. */
  readonly code: string;
  /** Whether retrying the same call later can succeed (docs/API.md#error-contract). */
  readonly retryable: boolean;
  constructor(message: string, code: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}

/** The volume's image already exists (create or clone onto a taken name). */
export class VolumeExists extends CinderError {
  readonly volumeName: string;
  /** The pool the volume was looked for in, when known. */
  readonly pool?: string;
  constructor(volumeName: string, options?: { cause?: unknown; pool?: string }) {
    const where = options?.pool ? `${options.pool}/${volumeName}` : volumeName;
    super(`Volume ${where} already exists`, 'ERR_CINDER_VOLUME_EXISTS', options);
    this.volumeName = volumeName;
    if (options?.pool) this.pool = options.pool;
  }
}

/** The volume's image does not exist. */
export class VolumeNotFound extends CinderError {
  readonly volumeName: string;
  /** The pool the volume was looked for in, when known. */
  readonly pool?: string;
  constructor(volumeName: string, options?: { cause?: unknown; pool?: string }) {
    const where = options?.pool ? `${options.pool}/${volumeName}` : volumeName;
    super(`Volume ${where} could not be found.`, 'ERR_CINDER_VOLUME_NOT_FOUND', options);
    this.volumeName = volumeName;
    if (options?.pool) this.pool = options.pool;
  }
}

/** The snapshot does not exist on its volume. */
export class SnapshotNotFound extends CinderError {
  /** `volume-<id>@snapshot-<id>` (or the snapshot name alone). */
  readonly snapshotName: string;
  readonly pool?: string;
  constructor(snapshotName: string, options?: { cause?: unknown; pool?: string }) {
    const where = options?.pool ? `${options.pool}/${snapshotName}` : snapshotName;
    super(`Snapshot ${where} could not be found.`, 'ERR_CINDER_SNAPSHOT_NOT_FOUND', options);
    this.snapshotName = snapshotName;
    if (options?.pool) this.pool = options.pool;
  }
}

/** A snapshot of that name already exists on the volume. */
export class SnapshotExists extends CinderError {
  /** `volume-<id>@snapshot-<id>` (or the snapshot name alone). */
  readonly snapshotName: string;
  readonly pool?: string;
  constructor(snapshotName: string, options?: { cause?: unknown; pool?: string }) {
    const where = options?.pool ? `${options.pool}/${snapshotName}` : snapshotName;
    super(`Snapshot ${where} already exists`, 'ERR_CINDER_SNAPSHOT_EXISTS', options);
    this.snapshotName = snapshotName;
    if (options?.pool) this.pool = options.pool;
  }
}

/** deleteVolume(…, { refuseWithSnapshots: true }) on a volume that has snapshots (nothing changed). */
export class VolumeHasSnapshots extends CinderError {
  readonly volumeName: string;
  readonly snapshots: string[];
  constructor(volumeName: string, snapshots: string[]) {
    super(`Volume ${volumeName} still has ${snapshots.length} dependent snapshot(s): ${snapshots.join(', ')}`, 'ERR_CINDER_VOLUME_HAS_SNAPSHOTS');
    this.volumeName = volumeName;
    this.snapshots = snapshots;
  }
}

/** The volume could not be removed because it is in use (watchers); retry later. */
export class VolumeIsBusy extends CinderError {
  readonly volumeName: string;
  constructor(volumeName: string, message?: string, options?: { cause?: unknown }) {
    super(message ?? `deleting volume ${volumeName} that has snapshot`, 'ERR_CINDER_VOLUME_IS_BUSY', { ...options, retryable: true });
    this.volumeName = volumeName;
  }
}

/** The snapshot could not be removed because it still has dependent clones. */
export class SnapshotIsBusy extends CinderError {
  readonly snapshotName: string;
  constructor(snapshotName: string, options?: { cause?: unknown }) {
    super(`deleting snapshot ${snapshotName} that has dependent volumes`, 'ERR_CINDER_SNAPSHOT_IS_BUSY', { ...options, retryable: true });
    this.snapshotName = snapshotName;
  }
}

/** A back-end operation failed (Cinder's catch-all for driver errors). */
export class VolumeBackendAPIException extends CinderError {
  constructor(data: string, options?: { cause?: unknown }) {
    super(`Bad or unexpected response from the storage volume backend API: ${data}`, 'ERR_CINDER_BACKEND_API', {
      ...options,
      // Retryable when what it wraps is (a lost connection, a busy image).
      retryable: (options?.cause as { retryable?: unknown } | undefined)?.retryable === true,
    });
    this.data = data;
  }
  readonly data: string;
}

/** manage_existing was given a reference that does not name a usable image. */
export class ManageExistingInvalidReference extends CinderError {
  readonly existingRef: unknown;
  readonly reason: string;
  constructor(existingRef: unknown, reason: string, options?: { cause?: unknown }) {
    const ref = typeof existingRef === 'string' ? existingRef : safeJson(existingRef);
    super(`Manage existing volume failed due to invalid backend reference ${ref}: ${reason}`, 'ERR_CINDER_MANAGE_INVALID_REFERENCE', options);
    this.existingRef = existingRef;
    this.reason = reason;
  }
}

/** An image location (or image) this back end cannot use. */
export class ImageUnacceptable extends CinderError {
  readonly imageId: string;
  readonly reason: string;
  constructor(imageId: string, reason: string, options?: { cause?: unknown }) {
    super(`Image ${imageId} is unacceptable: ${reason}`, 'ERR_CINDER_IMAGE_UNACCEPTABLE', options);
    this.imageId = imageId;
    this.reason = reason;
  }
}

/** A feature this driver deliberately does not implement (e.g. encrypted volumes). */
export class NotSupported extends CinderError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_CINDER_NOT_SUPPORTED', options);
  }
}

/** VolumeMigrationFailed: the copy was made but the source could not be removed. */
export class VolumeMigrationFailed extends CinderError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`Volume migration failed: ${reason}`, 'ERR_CINDER_VOLUME_MIGRATION_FAILED', options);
  }
}

/** RBDDriverException: a driver-level failure (e.g. replication and multiattach together). */
export class RBDDriverException extends CinderError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`Error in RBD driver: ${reason}`, 'ERR_CINDER_RBD_DRIVER', options);
  }
}

/** A configuration option has a value the driver cannot work with. */
export class InvalidConfigurationValue extends CinderError {
  readonly option: string;
  readonly value: unknown;
  constructor(option: string, value: unknown, reason?: string) {
    const shown = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined ? String(value) : describeValue(value);
    super(`Value "${shown}" is not valid for configuration option "${option}"${reason ? `: ${reason}` : ''}`, 'ERR_CINDER_INVALID_CONFIGURATION_VALUE');
    this.option = option;
    this.value = value;
  }
}

/** Bad input to a call (Cinder's InvalidInput), e.g. an unknown pagination marker. */
export class InvalidInput extends CinderError {
  readonly reason: string;
  constructor(reason: string) {
    super(`Invalid input received: ${reason}`, 'ERR_CINDER_INVALID_INPUT');
    this.reason = reason;
  }
}

/** No permission for the operation (Nova's Forbidden), e.g. no write access to the image pool. */
export class Forbidden extends CinderError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_CINDER_FORBIDDEN', options);
  }
}

/** ReplicationError: enabling or disabling a volume's mirroring failed (the cause is the Ceph error). */
export class ReplicationError extends CinderError {
  readonly volumeId: string;
  readonly reason: string;
  constructor(reason: string, volumeId: string, options?: { cause?: unknown }) {
    super(`Volume ${volumeId} replication error: ${reason}`, 'ERR_CINDER_REPLICATION_ERROR', options);
    this.volumeId = volumeId;
    this.reason = reason;
  }
}

/** InvalidReplicationTarget: an unknown failover target, or none left to fail over to. */
export class InvalidReplicationTarget extends CinderError {
  readonly reason: string;
  constructor(reason: string) {
    super(`Invalid Replication Target: ${reason}`, 'ERR_CINDER_INVALID_REPLICATION_TARGET');
    this.reason = reason;
  }
}

/** UnableToFailOver: failover was asked of a driver without replication devices. */
export class UnableToFailOver extends CinderError {
  readonly reason: string;
  constructor(reason: string) {
    super(`Unable to failover to replication target: ${reason}`, 'ERR_CINDER_UNABLE_TO_FAIL_OVER');
    this.reason = reason;
  }
}
