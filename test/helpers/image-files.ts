/**
 * Image files for the image-format tests: real ones made by qemu-img, and
 * helpers to build hostile headers by hand.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const MiB = 1024 * 1024;

/** A temp dir for one test file, removed by `cleanup()`. */
export function scratchDir(prefix: string): { dir: string; file(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `ceph-rbd-${prefix}-`));
  return { dir, file: (name) => path.join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs the qemu-img CLI (the tests' reference). A LUKS create times its
 * PBKDF with the thread's CPU clock and fails at random with "Unable to get
 * accurate CPU usage" when that clock has not moved (tick-based accounting):
 * that one failure is retried.
 */
export function qemuImg(...args: string[]): string {
  for (let attempt = 1; ; attempt++) {
    try {
      return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      if (attempt >= 5 || !String((err as { stderr?: unknown }).stderr).includes('Unable to get accurate CPU usage')) throw err;
    }
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): string {
  return sha256(readFileSync(file));
}

/** A raw file with random data in a few places (and holes elsewhere), `size` bytes. */
export function writeRawWithData(file: string, size: number): Buffer {
  const data = Buffer.alloc(size);
  for (const at of [0, Math.floor(size / 3), size - 64 * 1024]) randomBytes(64 * 1024).copy(data, at);
  // Keep offset 0 free of any format's magic: raw bytes that happen to look like a header are refused.
  data.write('RAWDATA!', 0, 'latin1');
  writeFileSync(file, data);
  return data;
}

/** Names of the entries in a directory (for "nothing left behind" checks). */
export function entries(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** A minimal qcow2 v3 header (one 64 KiB cluster) that the fields can be edited in. */
export function qcow2Header(virtualSize: number): Buffer {
  const h = Buffer.alloc(64 * 1024);
  h.write('QFI\xfb', 0, 'latin1');
  h.writeUInt32BE(3, 4);
  h.writeUInt32BE(16, 20); // 64 KiB clusters
  h.writeBigUInt64BE(BigInt(virtualSize), 24);
  h.writeUInt32BE(104, 100); // header length
  h.writeUInt32BE(4, 96); // refcount order
  return h;
}

/** A sparse vmdk header (512 bytes) followed by the given descriptor text at sector 1. */
export function vmdkWithDescriptor(descriptor: string, capacitySectors = 2048): Buffer {
  const h = Buffer.alloc(512 + 1024 + 4096);
  h.write('KDMV', 0, 'latin1');
  h.writeUInt32LE(1, 4);
  h.writeBigUInt64LE(BigInt(capacitySectors), 12);
  h.writeBigUInt64LE(128n, 20);
  h.writeBigUInt64LE(1n, 28); // descriptor at sector 1
  h.writeBigUInt64LE(2n, 36); // two sectors long
  h.write(descriptor, 512, 'latin1');
  return h;
}

export function descriptor(createType: string, extent: string, extra = ''): string {
  return `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n${extra}createType="${createType}"\n\n# Extent description\n${extent}\n\nddb.virtualHWVersion = "4"\n`;
}

/** A VHD footer (512 bytes) of the given disk type (2 fixed, 3 dynamic, 4 differencing). */
export function vhdFooter(type: number, currentSize: number, dataOffset = 0xffffffffffffffffn): Buffer {
  const f = Buffer.alloc(512);
  f.write('conectix', 0, 'latin1');
  f.writeUInt32BE(2, 8);
  f.writeUInt32BE(0x10000, 12);
  f.writeBigUInt64BE(dataOffset, 16);
  f.writeBigUInt64BE(BigInt(currentSize), 40);
  f.writeBigUInt64BE(BigInt(currentSize), 48);
  f.writeUInt32BE(type, 60);
  return f;
}

/** Pids of live processes whose command line contains `needle`. */
export function processesWith(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1').includes(needle)) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

