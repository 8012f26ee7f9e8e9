/**
 * A format inspector: finds an image's format in its own bytes, never in the
 * metadata announced with it. It reads only the headers (a few KiB, at most
 * a few MiB for vhdx) through a positional reader, and reports what makes an
 * image unsafe to hand to qemu or a guest: a backing file, an external data
 * file, a vmdk whose data lives in other files, a differencing disk, unknown
 * feature bits, headers that point past the end, or bytes that match more
 * than one format.
 *
 * Layouts follow each format's public specification (qcow2: qemu's
 * docs/interop/qcow2.txt; VHD and VHDX: Microsoft's specifications; VMDK:
 * VMware's Virtual Disk Format 1.1; VDI, QED, LUKS1: their qemu drivers), the
 * same ground OpenStack's format_inspector covers.
 */
import { open } from 'node:fs/promises';

import type { UnsafeReason } from './errors';
import { qemuFormatOf, type InspectedFormat } from './formats';
import { parseVmdkDescriptor, vmdkDescriptorProblems } from './vmdk';
import { checkU64, invalidType, invalidValue } from '../validate';

/** Reads `length` bytes at `offset`; a shorter Buffer means the bytes are not available. */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** What the inspector found. */
export interface DetectedImage {
  /** The format of the bytes ('raw' when no container format matched). */
  format: InspectedFormat;
  /** qemu's driver name for it (`-f`): 'vpc' for vhd, 'raw' for iso. */
  qemuFormat: string;
  /** Size of the whole file in bytes. */
  size: number;
  /** Virtual disk size from the header (the file size for raw and iso); null when unknown. */
  virtualSize: number | null;
  /** vmdk createType, vpc/vdi 'fixed' | 'dynamic' | 'differencing', luks 'luks1' | 'luks2'. */
  subformat?: string;
  /** A partition table at the start of raw bytes. */
  partitionTable?: 'mbr' | 'gpt';
  /** Why this image must not be used; empty when none. */
  unsafe: UnsafeReason[];
  /** Facts behind `unsafe` (backingFile, dataFile, createType, extent, alsoMatches, …), for messages only. */
  details: Record<string, string>;
}

/** Most bytes one header read may ask for (a vmdk descriptor is at most 1 MiB, as in qemu). */
const MAX_READ = 1 << 20;
const SECTOR = 512;

/** A bounded positional reader that remembers whether the file ended early. */
class Source {
  constructor(
    private readonly readAt: ReadAt,
    readonly size: number,
  ) {}

  /** Bytes at [offset, offset+length) clipped to the file; null when the read is out of bounds. */
  async read(offset: number, length: number): Promise<Buffer | null> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.size || !(length > 0)) return null;
    const len = Math.min(length, MAX_READ, this.size - offset);
    const buf = await this.readAt(offset, len);
    if (!Buffer.isBuffer(buf)) throw invalidType('read() result', 'a Buffer', buf);
    return buf.length > len ? buf.subarray(0, len) : buf;
  }

  /** Exactly `length` bytes at `offset`, or the reason they are missing. */
  async exact(offset: number, length: number): Promise<Buffer | 'truncated' | 'incomplete'> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.size) return 'truncated';
    const buf = await this.read(offset, length);
    if (buf === null || buf.length < length) return 'incomplete';
    return buf;
  }
}

/** One container format's finding. */
interface Finding {
  format: InspectedFormat;
  /** True when its signature is at offset 0 (then raw content signatures such as ISO make it ambiguous). */
  atStart: boolean;
  virtualSize: number | null;
  subformat?: string;
  unsafe: Set<UnsafeReason>;
  details: Record<string, string>;
}

function finding(format: InspectedFormat, atStart = true): Finding {
  return { format, atStart, virtualSize: null, unsafe: new Set(), details: {} };
}

/** A 64-bit header field as a number, or null (and `invalid-header`) beyond 2^53. */
function u64(f: Finding, value: bigint): number | null {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    f.unsafe.add('invalid-header');
    return null;
  }
  return Number(value);
}

const ascii = (b: Buffer, start: number, end: number): string => b.subarray(start, Math.min(end, b.length)).toString('latin1');
const startsWith = (b: Buffer, magic: string, at = 0): boolean => b.length >= at + magic.length && ascii(b, at, at + magic.length) === magic;

/** The 16 bytes of a Microsoft GUID as stored on disk (first three groups little-endian). */
function guidBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  const b = Buffer.from(hex, 'hex');
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

// ---- qcow2 (big-endian) --------------------------------------------------

const QCOW2_EXT_END = 0x00000000;
const QCOW2_EXT_DATA_FILE = 0x44415441;
const QCOW2_INCOMPAT_CORRUPT = 1n << 1n;
const QCOW2_INCOMPAT_DATA_FILE = 1n << 2n;
/** dirty, corrupt, external data file, compression type, extended L2 entries. */
const QCOW2_INCOMPAT_KNOWN = 0x1fn;

async function probeQcow(src: Source, head: Buffer): Promise<Finding | null> {
  if (!startsWith(head, 'QFI\xfb')) return null;
  const version = head.length >= 8 ? head.readUInt32BE(4) : 0;
  const f = finding(version === 1 ? 'qcow' : 'qcow2');
  if (version === 1) return f;
  const headerLen = version === 3 ? 104 : 72;
  const header = await src.exact(0, headerLen);
  if (typeof header === 'string') {
    f.unsafe.add(header);
    return f;
  }
  if (version !== 2 && version !== 3) f.unsafe.add('invalid-header');
  const clusterBits = header.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) {
    f.unsafe.add('invalid-header');
    return f;
  }
  const clusterSize = 2 ** clusterBits;
  f.virtualSize = u64(f, header.readBigUInt64BE(24));
  if (header.readUInt32BE(32) !== 0) f.unsafe.add('encrypted');
  const backingOffset = header.readBigUInt64BE(8);
  if (backingOffset !== 0n) {
    f.unsafe.add('backing-file');
    f.details.backingFile = await qcowString(src, backingOffset, header.readUInt32BE(16), clusterSize);
  }
  let extStart = 72;
  if (version === 3) {
    const incompat = header.readBigUInt64BE(72);
    if (incompat & QCOW2_INCOMPAT_CORRUPT) f.unsafe.add('corrupt');
    if (incompat & QCOW2_INCOMPAT_DATA_FILE) f.unsafe.add('data-file');
    if (incompat & ~QCOW2_INCOMPAT_KNOWN) f.unsafe.add('unknown-features');
    extStart = header.readUInt32BE(100);
    if (extStart < 104 || extStart % 8 !== 0 || extStart > clusterSize) {
      f.unsafe.add('invalid-header');
      return f;
    }
  }
  await qcowExtensions(src, f, extStart, clusterSize);
  return f;
}

/** A name stored in the first cluster (backing file), for messages only. */
async function qcowString(src: Source, offset: bigint, length: number, clusterSize: number): Promise<string> {
  if (length === 0 || length > 1023 || offset + BigInt(length) > BigInt(clusterSize)) return '(unreadable)';
  const buf = await src.exact(Number(offset), length);
  return typeof buf === 'string' ? '(unreadable)' : buf.toString('latin1');
}

/** Header extensions: an external data file name makes the image unsafe even without the feature bit. */
async function qcowExtensions(src: Source, f: Finding, start: number, clusterSize: number): Promise<void> {
  const area = await src.read(start, Math.min(clusterSize, MAX_READ) - start);
  if (area === null) return;
  let at = 0;
  while (at + 8 <= area.length) {
    const type = area.readUInt32BE(at);
    const len = area.readUInt32BE(at + 4);
    if (type === QCOW2_EXT_END) return;
    if (at + 8 + len > area.length) {
      f.unsafe.add(start + at + 8 + len > src.size ? 'truncated' : 'invalid-header');
      return;
    }
    if (type === QCOW2_EXT_DATA_FILE) {
      f.unsafe.add('data-file');
      f.details.dataFile = area.subarray(at + 8, at + 8 + Math.min(len, 1023)).toString('latin1');
    }
    at += 8 + Math.ceil(len / 8) * 8;
  }
}

// ---- qed (little-endian) -------------------------------------------------

const QED_F_BACKING_FILE = 1n;
const QED_F_KNOWN = 0x7n;

async function probeQed(src: Source, head: Buffer): Promise<Finding | null> {
  if (!startsWith(head, 'QED\0')) return null;
  const f = finding('qed');
  const header = await src.exact(0, 64);
  if (typeof header === 'string') {
    f.unsafe.add(header);
    return f;
  }
  const features = header.readBigUInt64LE(16);
  if (features & QED_F_BACKING_FILE) {
    f.unsafe.add('backing-file');
    f.details.backingFile = '(qed backing file)';
  }
  if (features & ~QED_F_KNOWN) f.unsafe.add('unknown-features');
  f.virtualSize = u64(f, header.readBigUInt64LE(48));
  return f;
}

// ---- vmdk (little-endian sparse extent header, or a text descriptor) -----

const VMDK_DESCRIPTOR_TEXT = '# disk descriptorfile';

async function probeVmdk(src: Source, head: Buffer): Promise<Finding | null> {
  if (startsWith(head, 'COWD')) {
    // ESX Server sparse extent (vmfsSparse): its descriptor lives in another file.
    const f = finding('vmdk');
    f.subformat = 'vmfsSparse';
    f.unsafe.add('create-type');
    f.details.createType = 'vmfsSparse';
    return f;
  }
  if (ascii(head, 0, VMDK_DESCRIPTOR_TEXT.length).toLowerCase() === VMDK_DESCRIPTOR_TEXT) {
    // A descriptor file on its own: the data is always in other files.
    const f = finding('vmdk');
    const text = await src.read(0, MAX_READ);
    applyDescriptor(f, text ?? head, false);
    return f;
  }
  if (!startsWith(head, 'KDMV')) return null;
  const f = finding('vmdk');
  const header = await src.exact(0, SECTOR);
  if (typeof header === 'string') {
    f.unsafe.add(header);
    return f;
  }
  const version = header.readUInt32LE(4);
  if (version < 1 || version > 3) f.unsafe.add('invalid-header');
  const capacity = u64(f, header.readBigUInt64LE(12));
  f.virtualSize = capacity === null || capacity > Number.MAX_SAFE_INTEGER / SECTOR ? null : capacity * SECTOR;
  if (capacity !== null && f.virtualSize === null) f.unsafe.add('invalid-header');
  const descSector = header.readBigUInt64LE(28);
  const descSectors = header.readBigUInt64LE(36);
  if (descSector === 0n || descSectors === 0n) {
    f.unsafe.add('descriptor');
    return f;
  }
  if (descSectors * 512n > BigInt(MAX_READ) || descSector * 512n > BigInt(Number.MAX_SAFE_INTEGER)) {
    f.unsafe.add('invalid-header');
    return f;
  }
  const desc = await src.exact(Number(descSector) * SECTOR, Number(descSectors) * SECTOR);
  if (typeof desc === 'string') {
    f.unsafe.add(desc);
    return f;
  }
  applyDescriptor(f, desc, true);
  return f;
}

function applyDescriptor(f: Finding, bytes: Buffer, embedded: boolean): void {
  const desc = parseVmdkDescriptor(bytes);
  if (desc.createType !== null) f.subformat = desc.createType;
  const { reasons, details } = vmdkDescriptorProblems(desc, embedded);
  for (const r of reasons) f.unsafe.add(r);
  Object.assign(f.details, details);
}

// ---- vpc / vhd (big-endian 512-byte footer, copied at the start when dynamic) ----

const VHD_FIXED = 2;
const VHD_DYNAMIC = 3;
const VHD_DIFFERENCING = 4;

async function probeVpc(src: Source, head: Buffer, tail: Buffer | null): Promise<Finding | null> {
  const atStart = startsWith(head, 'conectix');
  const footer = atStart ? await src.exact(0, SECTOR) : tail !== null && startsWith(tail, 'conectix') ? tail : null;
  if (footer === null) return null;
  const f = finding('vpc', atStart);
  if (typeof footer === 'string') {
    f.unsafe.add(footer);
    return f;
  }
  const type = footer.readUInt32BE(60);
  f.virtualSize = u64(f, footer.readBigUInt64BE(48));
  if (type === VHD_FIXED) f.subformat = 'fixed';
  else if (type === VHD_DYNAMIC) f.subformat = 'dynamic';
  else if (type === VHD_DIFFERENCING) {
    f.subformat = 'differencing';
    f.unsafe.add('differencing');
    f.unsafe.add('backing-file');
    f.details.backingFile = '(vhd parent locator)';
  } else f.unsafe.add('invalid-header');
  if (type === VHD_DYNAMIC || type === VHD_DIFFERENCING) {
    const dataOffset = footer.readBigUInt64BE(16);
    const dyn = dataOffset > BigInt(Number.MAX_SAFE_INTEGER) ? 'truncated' : await src.exact(Number(dataOffset), 1024);
    if (typeof dyn === 'string') f.unsafe.add(dyn);
    else if (!startsWith(dyn, 'cxsparse')) f.unsafe.add('invalid-header');
  }
  return f;
}

// ---- vhdx (little-endian, GUID-keyed regions and metadata) ----------------

const VHDX_REGION_TABLE = 192 * 1024;
const VHDX_METADATA_REGION = guidBytes('8B7CA206-4790-4B9A-B8FE-575F050F886E');
const VHDX_VIRTUAL_DISK_SIZE = guidBytes('2FA54224-CD1B-4876-B211-5DBED83BF4B8');
const VHDX_FILE_PARAMETERS = guidBytes('CAA16737-FA36-4D43-B3B6-33F0AA44E76B');
const VHDX_HAS_PARENT = 2;
const VHDX_MAX_ENTRIES = 2047;

async function probeVhdx(src: Source, head: Buffer): Promise<Finding | null> {
  if (!startsWith(head, 'vhdxfile')) return null;
  const f = finding('vhdx');
  const table = await src.exact(VHDX_REGION_TABLE, 64 * 1024);
  if (typeof table === 'string') {
    f.unsafe.add(table);
    return f;
  }
  const count = table.readUInt32LE(8);
  if (!startsWith(table, 'regi') || count > VHDX_MAX_ENTRIES) {
    f.unsafe.add('invalid-header');
    return f;
  }
  let metaOffset: bigint | null = null;
  for (let i = 0; i < count; i++) {
    const e = 16 + i * 32;
    if (table.subarray(e, e + 16).equals(VHDX_METADATA_REGION)) metaOffset = table.readBigUInt64LE(e + 16);
  }
  if (metaOffset === null || metaOffset > BigInt(Number.MAX_SAFE_INTEGER)) {
    f.unsafe.add(metaOffset === null ? 'invalid-header' : 'truncated');
    return f;
  }
  await vhdxMetadata(src, f, Number(metaOffset));
  return f;
}

async function vhdxMetadata(src: Source, f: Finding, base: number): Promise<void> {
  const meta = await src.exact(base, 32 + VHDX_MAX_ENTRIES * 32);
  const metaHead = typeof meta === 'string' ? await src.exact(base, 32) : meta;
  if (typeof metaHead === 'string') {
    f.unsafe.add(metaHead);
    return;
  }
  const count = metaHead.readUInt16LE(10);
  if (!startsWith(metaHead, 'metadata') || count > VHDX_MAX_ENTRIES || metaHead.length < 32 + count * 32) {
    f.unsafe.add(metaHead.length < 32 + count * 32 ? 'truncated' : 'invalid-header');
    return;
  }
  const item = async (guid: Buffer, length: number): Promise<Buffer | null> => {
    for (let i = 0; i < count; i++) {
      const e = 32 + i * 32;
      if (!metaHead.subarray(e, e + 16).equals(guid)) continue;
      const data = await src.exact(base + metaHead.readUInt32LE(e + 16), length);
      if (typeof data === 'string') f.unsafe.add(data);
      return typeof data === 'string' ? null : data;
    }
    f.unsafe.add('invalid-header');
    return null;
  };
  const vds = await item(VHDX_VIRTUAL_DISK_SIZE, 8);
  if (vds) f.virtualSize = u64(f, vds.readBigUInt64LE(0));
  const params = await item(VHDX_FILE_PARAMETERS, 8);
  if (params && params.readUInt32LE(4) & VHDX_HAS_PARENT) {
    f.subformat = 'differencing';
    f.unsafe.add('differencing');
    f.unsafe.add('backing-file');
    f.details.backingFile = '(vhdx parent locator)';
  }
}

// ---- vdi (little-endian) --------------------------------------------------

const VDI_SIGNATURE = 0xbeda107f;
const VDI_TYPES: Record<number, string> = { 1: 'dynamic', 2: 'fixed', 3: 'undo', 4: 'differencing' };

async function probeVdi(src: Source, head: Buffer): Promise<Finding | null> {
  if (head.length < 0x44 || head.readUInt32LE(0x40) !== VDI_SIGNATURE) return null;
  const f = finding('vdi');
  const header = await src.exact(0, 0x180);
  if (typeof header === 'string') {
    f.unsafe.add(header);
    return f;
  }
  const type = VDI_TYPES[header.readUInt32LE(0x4c)];
  if (type === undefined) f.unsafe.add('invalid-header');
  else f.subformat = type;
  if (type === 'undo' || type === 'differencing') {
    f.unsafe.add('differencing');
    f.unsafe.add('backing-file');
    f.details.backingFile = '(vdi parent)';
  }
  f.virtualSize = u64(f, header.readBigUInt64LE(0x170));
  return f;
}

// ---- luks, and formats recognised only so they are never taken for raw ----

async function probeLuks(src: Source, head: Buffer): Promise<Finding | null> {
  if (!startsWith(head, 'LUKS\xba\xbe')) return null;
  const f = finding('luks');
  f.unsafe.add('encrypted');
  const header = await src.exact(0, 112);
  if (typeof header === 'string') {
    f.unsafe.add(header);
    return f;
  }
  const version = header.readUInt16BE(6);
  f.subformat = `luks${version}`;
  if (version === 1) {
    const payload = header.readUInt32BE(104) * SECTOR;
    if (payload > src.size) f.unsafe.add('truncated');
    else f.virtualSize = src.size - payload;
  }
  return f;
}

const OTHER_MAGICS: Array<[InspectedFormat, string]> = [
  ['parallels', 'WithoutFreeSpace'],
  ['parallels', 'WithouFreSpacExt'],
  ['bochs', 'Bochs Virtual HD Image'],
  ['cloop', '#!/bin/sh\n#V2.0 Format\n'],
];

// ---- raw content: ISO 9660 / UDF, MBR, GPT --------------------------------

const ISO_DESCRIPTORS = 0x8000;

async function isIso(src: Source): Promise<boolean> {
  const pvd = await src.read(ISO_DESCRIPTORS, 8);
  if (pvd === null) return false;
  if (startsWith(pvd, 'CD001', 1)) return true;
  if (!startsWith(pvd, 'BEA01', 1)) return false;
  for (const at of [ISO_DESCRIPTORS + 2048, ISO_DESCRIPTORS + 4096]) {
    const nsr = await src.read(at, 8);
    if (nsr !== null && (startsWith(nsr, 'NSR02', 1) || startsWith(nsr, 'NSR03', 1))) return true;
  }
  return false;
}

async function partitionTable(src: Source, head: Buffer): Promise<'mbr' | 'gpt' | undefined> {
  if (head.length < SECTOR || head[510] !== 0x55 || head[511] !== 0xaa) return undefined;
  const gpt = head[450] === 0xee ? await src.read(SECTOR, 8) : null;
  return gpt !== null && startsWith(gpt, 'EFI PART') ? 'gpt' : 'mbr';
}

// ---- detection ------------------------------------------------------------

/**
 * Detects the format of an image through a positional reader. `size` is the
 * size of the whole image in bytes. The reader may return fewer bytes than
 * asked when it does not have them (then a structure there is `incomplete`).
 */
export async function detectFormat(read: ReadAt, size: number | bigint): Promise<DetectedImage> {
  if (typeof read !== 'function') throw invalidType('read', 'a function', read);
  const total = checkU64(size, 'size');
  if (typeof total === 'bigint' && total > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidValue('size', 'a size below 2^53', size);
  const src = new Source(read, Number(total));
  const head = (await src.read(0, 4096)) ?? Buffer.alloc(0);
  const tail = src.size >= SECTOR ? await src.read(src.size - SECTOR, SECTOR) : null;
  const tailSector = tail !== null && tail.length === SECTOR ? tail : null;

  const findings: Finding[] = [];
  for (const probe of [probeQcow, probeQed, probeVmdk, probeVhdx, probeVdi, probeLuks]) {
    const f = await probe(src, head);
    if (f) findings.push(f);
  }
  for (const [format, magic] of OTHER_MAGICS) if (startsWith(head, magic) && !findings.some((x) => x.format === format)) findings.push(finding(format));
  const vpc = await probeVpc(src, head, tailSector);
  if (vpc) findings.push(vpc);
  if (tailSector !== null && startsWith(tailSector, 'koly')) findings.push(finding('dmg', false));

  const iso = await isIso(src);
  const table = await partitionTable(src, head);
  if (findings.length === 0) {
    const format = iso ? 'iso' : 'raw';
    return { format, qemuFormat: qemuFormatOf(format), size: src.size, virtualSize: src.size, ...(table ? { partitionTable: table } : {}), unsafe: [], details: {} };
  }
  const [main, ...others] = findings;
  if (others.length > 0 || (iso && main.atStart)) {
    main.unsafe.add('ambiguous');
    main.details.alsoMatches = [...others.map((o) => o.format), ...(iso && main.atStart ? ['iso'] : [])].join(',');
  }
  const result: DetectedImage = {
    format: main.format,
    qemuFormat: qemuFormatOf(main.format),
    size: src.size,
    virtualSize: main.virtualSize,
    unsafe: [...main.unsafe],
    details: main.details,
  };
  if (main.subformat !== undefined) result.subformat = main.subformat;
  return result;
}

/** Detects the format of a file (a regular file) by reading its headers. */
export async function detectFileFormat(path: string): Promise<DetectedImage> {
  if (typeof path !== 'string' || path === '') throw invalidType('path', 'a non-empty string', path);
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw invalidValue('path', 'a regular file', path);
    return await detectFormat(async (offset, length) => {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    }, st.size);
  } finally {
    await fh.close();
  }
}

/**
 * Detects the format from bytes in memory: `head` from offset 0 and, for a
 * vhd whose footer is only at the end, `tail` (the last bytes of the image,
 * at least 512) with `size` the size of the whole image. Structures beyond
 * the bytes given are reported `incomplete` (a vhdx needs its metadata
 * region, a few MiB in).
 */
export function detectBufferFormat(head: Buffer, options: { tail?: Buffer; size?: number } = {}): Promise<DetectedImage> {
  if (!Buffer.isBuffer(head)) throw invalidType('head', 'a Buffer', head);
  const tail = options.tail;
  if (tail !== undefined && !Buffer.isBuffer(tail)) throw invalidType('options.tail', 'a Buffer', tail);
  const size = options.size ?? head.length;
  if (!Number.isSafeInteger(size) || size < head.length) throw invalidValue('options.size', `a safe integer >= head.length (${head.length})`, size);
  const tailStart = tail ? size - tail.length : size;
  if (tailStart < 0) throw invalidValue('options.tail', `a Buffer no longer than options.size (${size})`, tail);
  return detectFormat(async (offset, length) => {
    if (offset + length <= head.length) return head.subarray(offset, offset + length);
    if (tail && offset >= tailStart) return tail.subarray(offset - tailStart, offset - tailStart + length);
    return offset < head.length ? head.subarray(offset) : Buffer.alloc(0);
  }, size);
}
