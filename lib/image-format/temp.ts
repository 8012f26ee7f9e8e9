/** A private temporary directory for one conversion, always removed afterwards. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { invalidType } from '../validate';

export interface TempDirOptions {
  /** Where to create it (Cinder's image_conversion_dir); default os.tmpdir(). */
  parent?: string;
  /** Name prefix; default 'ceph-rbd-image-'. */
  prefix?: string;
}

/** Runs `fn` with a new directory (mode 0700) and removes it with everything in it, whatever `fn` does. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, options: TempDirOptions = {}): Promise<T> {
  if (typeof fn !== 'function') throw invalidType('fn', 'a function', fn);
  const parent = options.parent ?? tmpdir();
  if (typeof parent !== 'string' || parent === '') throw invalidType('options.parent', 'a non-empty string', parent);
  const dir = await mkdtemp(path.join(parent, options.prefix ?? 'ceph-rbd-image-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
