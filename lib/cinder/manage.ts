/**
 * get_manageable_volumes and Cinder's generic pagination of such
 * lists (`volume_utils.paginate_entries_list`).
 */
import { ImageNotFound } from '../errors';
import type { IoCtx } from '../rados';
import { Image, Rbd } from '../rbd';
import { DELETED_SUFFIX } from './clone-chain';
import { InvalidInput } from './errors';
import type { ManageableVolume } from './types';
import type { Logger } from '../logger';
import { ceilGiB } from './util';

/** `extract_id_from_volume_name` for the template `volume-%s`: what follows `volume-`, or null. */
export function extractIdFromVolumeName(name: string): string | null {
  const m = /^volume-(.+)/s.exec(name);
  return m ? (m[1] as string) : null;
}

/** Every image of the pool as a manageable-volume entry, unsafe ones with their reason. */
export async function listManageableVolumes(ioctx: IoCtx, cinderIds: Set<string>, logger: Logger): Promise<ManageableVolume[]> {
  const out: ManageableVolume[] = [];
  for (const name of await Rbd.list(ioctx)) {
    let image: Image;
    try {
      image = await Image.open(ioctx, name, { readOnly: true });
    } catch (err) {
      if (err instanceof ImageNotFound) {
        logger.debug(`Image ${name} is not found.`);
        continue;
      }
      throw err;
    }
    try {
      const entry: ManageableVolume = {
        reference: { 'source-name': name },
        size: ceilGiB(await image.size()),
        cinder_id: null,
        extra_info: null,
        safe_to_manage: true,
        reason_not_safe: null,
      };
      const id = extractIdFromVolumeName(name);
      if (id !== null && cinderIds.has(id)) {
        entry.cinder_id = id;
        entry.safe_to_manage = false;
        entry.reason_not_safe = 'already managed';
      } else if ((await image.listWatchers()).length > 0) {
        // Watchers mean a client (a hypervisor) has the image open.
        entry.safe_to_manage = false;
        entry.reason_not_safe = 'volume in use';
      } else if (name.endsWith(DELETED_SUFFIX)) {
        // A hidden parent of Cinder clones, deleted in Cinder.
        entry.safe_to_manage = false;
        entry.reason_not_safe = 'volume marked as deleted';
      }
      out.push(entry);
    } catch (err) {
      if (!(err instanceof ImageNotFound)) throw err;
      logger.debug(`Image ${name} is not found.`);
    } finally {
      await image.close();
    }
  }
  return out;
}

type Entry = Record<string, unknown>;

function sortValue(value: unknown): unknown {
  // A dict compares by its smallest value (Cinder: sorted(d.values())[0]).
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const vals = Object.values(value as Record<string, unknown>).sort((a, b) => (a === b ? 0 : (a as never) < (b as never) ? -1 : 1));
    return vals[0];
  }
  return value;
}

function sameReference(a: unknown, b: unknown): boolean {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  const ka = Object.keys(a as object).sort();
  const kb = Object.keys(b as object).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && (a as Entry)[k] === (b as Entry)[k]);
}

/**
 * `paginate_entries_list`: sort by `sortKeys`/`sortDirs` ('asc' or anything
 * else = descending), start after the entry whose `reference` equals
 * `marker` (a dict or its JSON), skip `offset`, return up to `limit`.
 */
export function paginateEntries<T extends object>(
  entries: T[],
  marker: unknown,
  limit: number | null | undefined,
  offset: number | null | undefined,
  sortKeys: string[] = [],
  sortDirs: string[] = [],
): T[] {
  const comparers = sortKeys.map((key, i) => ({ key: key.trim(), dir: sortDirs[i] })).filter((c) => c.dir !== undefined);
  const sorted = [...entries].sort((l, r) => {
    for (const { key, dir } of comparers) {
      const lv = sortValue((l as Entry)[key]) as never;
      const rv = sortValue((r as Entry)[key]) as never;
      if (lv === rv) continue;
      if (dir === 'asc') return lv < rv ? -1 : 1;
      return lv > rv ? -1 : 1;
    }
    return 0;
  });
  let start = 0;
  const skip = offset ?? 0;
  if (marker !== undefined && marker !== null && marker !== '') {
    let m = marker;
    if (typeof m !== 'object') {
      try {
        m = JSON.parse(String(m));
      } catch {
        throw new InvalidInput(`marker ${String(marker)} can not be analysed, please use json like format`);
      }
    }
    start = sorted.findIndex((e) => sameReference((e as Entry).reference, m)) + 1;
    if (start === 0) throw new InvalidInput(`marker not found: ${typeof marker === 'string' ? marker : JSON.stringify(marker)}`);
  }
  const end = limit === undefined || limit === null ? sorted.length : start + limit + skip;
  return sorted.slice(start + skip, end);
}
