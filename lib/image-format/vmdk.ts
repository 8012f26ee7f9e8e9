/**
 * The text descriptor of a VMDK (embedded in a sparse extent or a file of
 * its own). Parsed cautiously: every line must be a comment, a `ddb.` entry,
 * a `key=value` header field or an extent line, or the descriptor is refused.
 */
import type { UnsafeReason } from './errors';
import { SAFE_VMDK_CREATE_TYPES } from './formats';

export interface VmdkExtent {
  access: string;
  sectors: number;
  type: string;
  file: string | null;
}

export interface VmdkDescriptor {
  createType: string | null;
  extents: VmdkExtent[];
  /** The parent's file name hint of a delta (child) disk: a backing file. */
  parentFileNameHint: string | null;
  parentCid: string | null;
  /** Lines we did not understand or bytes that are not ASCII. */
  malformed: boolean;
}

const HEADER_FIELD = /^([A-Za-z][A-Za-z0-9_.]*)\s*=\s*(.*)$/;
const EXTENT = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Za-z]+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?$/i;
const NO_PARENT = 'ffffffff';

function unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Parses a descriptor's bytes (NUL padding at the end is ignored). */
export function parseVmdkDescriptor(bytes: Buffer): VmdkDescriptor {
  const result: VmdkDescriptor = { createType: null, extents: [], parentFileNameHint: null, parentCid: null, malformed: false };
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end -= 1;
  const body = bytes.subarray(0, end);
  if (body.some((b) => b >= 0x80 || b === 0)) {
    result.malformed = true;
    return result;
  }
  for (const raw of body.toString('latin1').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.toLowerCase().startsWith('ddb.')) continue;
    const extent = EXTENT.exec(line);
    if (extent) {
      result.extents.push({ access: extent[1].toUpperCase(), sectors: Number(extent[2]), type: extent[3].toUpperCase(), file: extent[4] ?? null });
      continue;
    }
    const field = HEADER_FIELD.exec(line);
    if (!field) {
      result.malformed = true;
      continue;
    }
    const key = field[1].toLowerCase();
    if (key === 'createtype') result.createType = unquote(field[2]);
    else if (key === 'parentfilenamehint') result.parentFileNameHint = unquote(field[2]);
    else if (key === 'parentcid') result.parentCid = unquote(field[2]).toLowerCase();
  }
  return result;
}

/**
 * The reasons a descriptor makes its image unsafe. `embedded` is true when
 * it came from inside a sparse extent file (the only form where the data is
 * in the same file).
 */
export function vmdkDescriptorProblems(desc: VmdkDescriptor, embedded: boolean): { reasons: UnsafeReason[]; details: Record<string, string> } {
  const reasons = new Set<UnsafeReason>();
  const details: Record<string, string> = {};
  if (desc.malformed) reasons.add('descriptor');
  if (desc.createType === null || !SAFE_VMDK_CREATE_TYPES.includes(desc.createType)) {
    reasons.add('create-type');
    details.createType = desc.createType ?? '(none)';
  }
  if (!embedded || desc.extents.length !== 1) reasons.add('extent');
  for (const extent of desc.extents) {
    if (extent.type !== 'SPARSE' || extent.file === null || /[/\\]/.test(extent.file)) {
      reasons.add('extent');
      if (extent.file !== null) details.extent = extent.file;
    }
  }
  if (desc.parentFileNameHint !== null || (desc.parentCid !== null && desc.parentCid !== NO_PARENT)) {
    reasons.add('backing-file');
    details.backingFile = desc.parentFileNameHint ?? `(parentCID ${desc.parentCid})`;
  }
  return { reasons: [...reasons], details };
}
