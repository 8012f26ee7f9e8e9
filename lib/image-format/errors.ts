/**
 * The errors the image-format layer raises. Each carries a stable `code`
 * (ERR_IMAGE_* or ERR_QEMU_IMG_*) and the facts it was decided on, so a
 * caller never parses a message. An abort through an AbortSignal is the
 * library's own AbortError (code 'ABORT_ERR').
 */

/** Base of every image-format error. */
export class ImageFormatError extends Error {
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The bytes are not in the announced format (or metadata was missing and the bytes are not raw). */
export class ImageFormatMismatch extends ImageFormatError {
  /** The announced disk_format, or null when none was given (then only raw is accepted). */
  readonly announced: string | null;
  /** The format found in the bytes. */
  readonly detected: string;
  constructor(announced: string | null, detected: string, options?: { cause?: unknown }) {
    const what = announced === null ? 'no disk_format was given (only raw is accepted then)' : `the image was announced as '${announced}'`;
    super(`Image format mismatch: ${what} but its data is '${detected}'`, 'ERR_IMAGE_FORMAT_MISMATCH', options);
    this.announced = announced;
    this.detected = detected;
  }
}

/**
 * Why an image is refused as unsafe. Stable strings:
 * - `backing-file`: it names a backing (parent) file (qcow2, qed, vmdk parentFileNameHint).
 * - `data-file`: a qcow2 with an external data file.
 * - `create-type`: a vmdk whose createType is not monolithicSparse or streamOptimized.
 * - `extent`: a vmdk descriptor whose extents are missing, not in the file itself, or name a path.
 * - `descriptor`: a vmdk descriptor that cannot be read or has a line we do not understand.
 * - `differencing`: a vhd, vhdx or vdi differencing (child) disk.
 * - `unknown-features`: header feature bits this inspector does not know.
 * - `corrupt`: the header marks the image corrupt.
 * - `encrypted`: the image is encrypted (it cannot be converted without its key).
 * - `truncated`: the file ends inside a structure the header points to.
 * - `incomplete`: the bytes given to the inspector do not reach a structure the header points to.
 * - `invalid-header`: a field is out of range (e.g. a size beyond 2^53, a bad version).
 * - `ambiguous`: the bytes match more than one format.
 */
export type UnsafeReason =
  | 'backing-file'
  | 'data-file'
  | 'create-type'
  | 'extent'
  | 'descriptor'
  | 'differencing'
  | 'unknown-features'
  | 'corrupt'
  | 'encrypted'
  | 'truncated'
  | 'incomplete'
  | 'invalid-header'
  | 'ambiguous';

/** The image is in an accepted format but could reach outside itself or cannot be proven safe. */
export class UnsafeImage extends ImageFormatError {
  readonly format: string;
  readonly reasons: readonly UnsafeReason[];
  /** Facts behind the reasons, e.g. the backing file name (never trusted, only shown). */
  readonly details: Readonly<Record<string, string>>;
  constructor(format: string, reasons: readonly UnsafeReason[], details: Record<string, string> = {}, options?: { cause?: unknown }) {
    const shown = Object.entries(details).map(([k, v]) => `${k}=${JSON.stringify(v.length > 128 ? `${v.slice(0, 128)}…` : v)}`);
    super(`Unsafe ${format} image refused: ${reasons.join(', ')}${shown.length ? ` (${shown.join(', ')})` : ''}`, 'ERR_IMAGE_UNSAFE', options);
    this.format = format;
    this.reasons = [...reasons];
    this.details = { ...details };
  }
}

/** A disk format this layer does not convert (e.g. qed, luks, ploop, or a format only qemu knows). */
export class ImageFormatUnsupported extends ImageFormatError {
  readonly format: string;
  constructor(format: string, options?: { cause?: unknown }) {
    super(`Image format '${format}' is not supported (supported: raw, qcow2, vmdk, vhd/vpc, vhdx, vdi, iso)`, 'ERR_IMAGE_FORMAT_UNSUPPORTED', options);
    this.format = format;
  }
}

/** The image's virtual size does not fit the volume. */
export class ImageTooLarge extends ImageFormatError {
  readonly virtualSize: number;
  readonly volumeSize: number;
  constructor(virtualSize: number, volumeSize: number) {
    super(`Image virtual size is ${virtualSize} bytes and does not fit in a volume of ${volumeSize} bytes`, 'ERR_IMAGE_TOO_LARGE');
    this.virtualSize = virtualSize;
    this.volumeSize = volumeSize;
  }
}

/** The qemu-img program is not installed (Debian: qemu-utils, plus qemu-block-extra for rbd: targets). */
export class QemuImgMissing extends ImageFormatError {
  readonly path: string;
  constructor(path: string, options?: { cause?: unknown }) {
    super(`qemu-img was not found (${path}); install qemu-utils (and qemu-block-extra for rbd: targets)`, 'ERR_QEMU_IMG_MISSING', options);
    this.path = path;
  }
}

/** qemu-img ran and failed, was killed (e.g. by its resource limit), or printed output we cannot read. */
export class QemuImgFailed extends ImageFormatError {
  /** The qemu-img sub-command and arguments (secrets are never passed on the command line). */
  readonly args: readonly string[];
  /** Exit status, or null when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended it (e.g. 'SIGKILL' for the CPU-time limit), or null. */
  readonly signal: string | null;
  /** The end of its standard error (at most 64 KiB). */
  readonly stderr: string;
  constructor(args: readonly string[], exitCode: number | null, signal: string | null, stderr: string, reason?: string) {
    const how = reason ?? (signal !== null ? `was killed by ${signal}` : `exited with status ${exitCode}`);
    const tail = stderr.trim().split('\n').slice(-3).join(' / ');
    super(`qemu-img ${args[0] ?? ''} ${how}${tail ? `: ${tail}` : ''}`, 'ERR_QEMU_IMG_FAILED');
    this.args = [...args];
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderr = stderr;
  }
}
