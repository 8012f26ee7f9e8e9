/**
 * Whether an image may become a volume, by Cinder's rules since
 * CVE-2022-47951 (and the 2024 data-file follow-up): the format found must
 * equal the announced disk_format (vhd and vpc are one format); no metadata
 * means the bytes must be proven raw; no backing file; a qcow2 has no
 * external data file; a vmdk keeps its data in the one file
 * (monolithicSparse or streamOptimized); the virtual size fits the volume.
 */
import { ImageFormatMismatch, ImageTooLarge, UnsafeImage, type UnsafeReason } from './errors';
import { formatsAgree, normalizeDiskFormat, qemuFormatOf, SAFE_VMDK_CREATE_TYPES, type InspectedFormat } from './formats';
import { detectFileFormat, type DetectedImage } from './inspect';
import { qemuImgInfo, type QemuImgBaseOptions, type QemuImgInfo } from './qemu-img';
import { checkU64, invalidType } from '../validate';

export interface CheckImageOptions {
  /** The disk_format announced with the image; null/undefined: the image must be raw. */
  diskFormat?: string | null;
  /** Size of the volume the image goes into, in bytes; omitted: no size check. */
  volumeSizeBytes?: number | bigint;
}

function announced(diskFormat: string | null | undefined): string | null {
  return diskFormat === undefined || diskFormat === null ? null : diskFormat;
}

function checkFits(virtualSize: number, volumeSizeBytes: number | bigint | undefined): void {
  if (volumeSizeBytes === undefined) return;
  const volume = checkU64(volumeSizeBytes, 'options.volumeSizeBytes');
  if (BigInt(virtualSize) > BigInt(volume)) throw new ImageTooLarge(virtualSize, Number(volume));
}

function options(value: unknown): CheckImageOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw invalidType('options', 'an object', value);
  return value as CheckImageOptions;
}

/**
 * Applies the rules to what `qemu-img info` said (Cinder's check of its
 * output). Throws ImageFormatUnsupported, ImageFormatMismatch, UnsafeImage
 * or ImageTooLarge.
 */
export function checkImage(info: QemuImgInfo, opts?: CheckImageOptions): void {
  if (typeof info !== 'object' || info === null || typeof info.format !== 'string') throw invalidType('info', 'a QemuImgInfo', info);
  const { diskFormat, volumeSizeBytes } = options(opts);
  const expected = normalizeDiskFormat(diskFormat, 'options.diskFormat');
  if (info.format !== qemuFormatOf(expected)) throw new ImageFormatMismatch(announced(diskFormat), info.format);
  const reasons: UnsafeReason[] = [];
  const details: Record<string, string> = {};
  if (info.backingFile !== null) {
    reasons.push('backing-file');
    details.backingFile = info.backingFile;
  }
  if (info.format === 'qcow2') {
    if (info.formatSpecific === null) {
      reasons.push('invalid-header');
      details.formatSpecific = '(missing: a data file cannot be ruled out)';
    }
    if (info.dataFile !== null) {
      reasons.push('data-file');
      details.dataFile = info.dataFile;
    }
  }
  if (info.format === 'vmdk' && (info.createType === null || !SAFE_VMDK_CREATE_TYPES.includes(info.createType))) {
    reasons.push('create-type');
    details.createType = info.createType ?? '(unknown)';
  }
  if (info.encrypted) reasons.push('encrypted');
  if (reasons.length > 0) throw new UnsafeImage(info.format, reasons, details);
  checkFits(info.virtualSize, volumeSizeBytes);
}

/**
 * Applies the rules to what the inspector found in the bytes. Throws
 * ImageFormatUnsupported, ImageFormatMismatch, UnsafeImage or ImageTooLarge.
 */
export function checkDetected(detected: DetectedImage, opts?: CheckImageOptions): void {
  if (typeof detected !== 'object' || detected === null || !Array.isArray(detected.unsafe)) throw invalidType('detected', 'a DetectedImage', detected);
  const { diskFormat, volumeSizeBytes } = options(opts);
  const expected = normalizeDiskFormat(diskFormat, 'options.diskFormat');
  if (!formatsAgree(expected, detected.format)) throw new ImageFormatMismatch(announced(diskFormat), detected.format);
  if (detected.unsafe.length > 0) throw new UnsafeImage(detected.format, detected.unsafe, detected.details);
  if (detected.virtualSize === null) throw new UnsafeImage(detected.format, ['invalid-header'], { virtualSize: '(unknown)' });
  checkFits(detected.virtualSize, volumeSizeBytes);
}

export interface VerifyImageOptions extends CheckImageOptions, QemuImgBaseOptions {}

export interface VerifiedImage {
  /** The format found (inspector name; 'vpc' for vhd). */
  format: InspectedFormat;
  /** The qemu name to convert from (`qemuImgConvert`'s srcFormat). */
  qemuFormat: string;
  /** Virtual size in bytes as qemu reads it. */
  virtualSize: number;
  detected: DetectedImage;
  info: QemuImgInfo;
}

/**
 * Both checks on a local file, in the order that keeps qemu safe: first the
 * inspector (so qemu never opens a file whose header points at other files),
 * then `qemu-img info` under its resource limit, probing the format the way
 * Cinder does (a vhd is opened as vpc: qemu probes a fixed vhd as raw).
 */
export async function verifyImageFile(file: string, opts?: VerifyImageOptions): Promise<VerifiedImage> {
  const o = options(opts) as VerifyImageOptions;
  const detected = await detectFileFormat(file);
  // qemu sizes a vhd by its CHS geometry: only qemu's size is checked for it.
  checkDetected(detected, { diskFormat: o.diskFormat, ...(detected.format === 'vpc' ? {} : { volumeSizeBytes: o.volumeSizeBytes }) });
  const info = await qemuImgInfo(file, {
    ...(detected.format === 'vpc' ? { format: 'vpc' } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.qemuImgPath ? { qemuImgPath: o.qemuImgPath } : {}),
  });
  checkImage(info, { diskFormat: o.diskFormat, volumeSizeBytes: o.volumeSizeBytes });
  return { format: detected.format, qemuFormat: detected.qemuFormat, virtualSize: info.virtualSize, detected, info };
}
