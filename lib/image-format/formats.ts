/**
 * Format names. Three vocabularies meet here: the disk_format an image store
 * announces (Glance: raw, qcow2, vmdk, vhd, vhdx, vdi, iso, …), the format
 * the inspector finds in the bytes, and qemu's driver names (`-f`/`-O`,
 * where vhd is 'vpc' and an ISO is 'raw').
 */
import { ImageFormatUnsupported } from './errors';
import { invalidType } from '../validate';

/** A format the inspector can recognise in the bytes. */
export type InspectedFormat =
  | 'raw'
  | 'iso'
  | 'qcow2'
  | 'qed'
  | 'vmdk'
  | 'vpc'
  | 'vhdx'
  | 'vdi'
  | 'luks'
  // Recognised only so that they are never taken for raw; never accepted.
  | 'qcow'
  | 'parallels'
  | 'bochs'
  | 'cloop'
  | 'dmg';

/** The formats this layer converts from (inspector names). */
export const SUPPORTED_FORMATS: readonly InspectedFormat[] = ['raw', 'iso', 'qcow2', 'vmdk', 'vpc', 'vhdx', 'vdi'];

/** The vmdk create types that keep all data in the one file. */
export const SAFE_VMDK_CREATE_TYPES: readonly string[] = ['monolithicSparse', 'streamOptimized'];

/** The announced disk formats accepted, mapped to the inspector's name. */
const DISK_FORMATS: Readonly<Record<string, InspectedFormat>> = {
  raw: 'raw',
  iso: 'iso',
  qcow2: 'qcow2',
  vmdk: 'vmdk',
  vhd: 'vpc',
  vpc: 'vpc',
  vhdx: 'vhdx',
  vdi: 'vdi',
};

/**
 * The inspector name for an announced disk_format; null/undefined (no
 * metadata) means the bytes must be proven raw. An unknown or unsupported
 * name is ImageFormatUnsupported; a non-string is a TypeError.
 */
export function normalizeDiskFormat(diskFormat: unknown, name = 'diskFormat'): InspectedFormat {
  if (diskFormat === undefined || diskFormat === null) return 'raw';
  if (typeof diskFormat !== 'string') throw invalidType(name, 'a string, null or undefined', diskFormat);
  const found = Object.prototype.hasOwnProperty.call(DISK_FORMATS, diskFormat.toLowerCase()) ? DISK_FORMATS[diskFormat.toLowerCase()] : undefined;
  if (found === undefined) throw new ImageFormatUnsupported(diskFormat);
  return found;
}

/** qemu's driver name for an inspected format (an ISO is raw to qemu). */
export function qemuFormatOf(format: InspectedFormat): string {
  return format === 'iso' ? 'raw' : format;
}

/** Whether bytes detected as `detected` satisfy the announced (normalised) format. */
export function formatsAgree(expected: InspectedFormat, detected: InspectedFormat): boolean {
  if (expected === detected) return true;
  // An ISO 9660 image is raw data to qemu: announced raw, it is copied as raw.
  return expected === 'raw' && detected === 'iso';
}
