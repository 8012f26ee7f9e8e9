/**
 * Cinder's clone bookkeeping (docs/DESIGN.md#cinder-driver): which volumes are Cinder-made clones,
 * how deep a chain is, flattening children under the flatten limiter, and the
 * walk up a removed clone's parents that drops `.clone_snap` references and
 * `.deleted` parents that have nothing left.
 */
import { ImageNotFound, InvalidArgument } from '../errors';
import { withImage } from '../internal/image';
import type { Semaphore } from '../internal/retry';
import type { ClusterSession } from '../internal/session';
import type { Logger } from '../logger';
import { type Image, Rbd } from '../rbd';

export const CLONE_SNAP_SUFFIX = '.clone_snap';
export const DELETED_SUFFIX = '.deleted';

/** What the chain helpers need from the driver. */
export interface ChainContext {
  session: ClusterSession;
  pool: string;
  logger: Logger;
  flattenLimiter: Semaphore;
  enableDeferredDeletion: boolean;
  deferredDeletionDelaySec: number;
}

export interface CloneInfo {
  pool: string;
  parent: string;
  snapshot: string;
}

/**
 * `_get_clone_info`: the parent of `image` (read at `snap` when given, so a
 * flattened volume still reports its parent through that snapshot). Counts
 * only Cinder-made clones: the parent snapshot must be `<name>.clone_snap`
 * (a trailing `.deleted` stripped from `name` first). Null otherwise.
 */
export async function getCloneInfo(image: Image, name: string, snap?: string | null): Promise<CloneInfo | null> {
  let info;
  try {
    if (snap) await image.setSnap(snap);
    info = await image.parentInfo();
  } catch (err) {
    if (err instanceof ImageNotFound) return null;
    throw err;
  } finally {
    if (snap) await image.setSnap(null);
  }
  const base = name.endsWith(DELETED_SUFFIX) ? name.slice(0, -DELETED_SUFFIX.length) : name;
  if (info.snapshot === `${base}${CLONE_SNAP_SUFFIX}`) return { pool: info.pool, parent: info.image, snapshot: info.snapshot };
  return null;
}

/** `_get_clone_depth`: the number of Cinder-made ancestors of volume `name`. */
export async function getCloneDepth(ctx: ChainContext, name: string, pool: string = ctx.pool): Promise<number> {
  let depth = 0;
  let current: { pool: string; name: string } | null = { pool, name };
  // A chain cannot loop, but stay safe against a corrupted one.
  for (let guard = 0; current && guard < 1000; guard++) {
    const ioctx = await ctx.session.ioctx(current.pool);
    const here: { pool: string; name: string } = current;
    const info: CloneInfo | null = await withImage(ioctx, here.name, { readOnly: true }, (img) => getCloneInfo(img, here.name));
    if (!info) return depth;
    depth++;
    current = { pool: info.pool, name: info.parent };
  }
  return depth;
}

/** `_do_flatten` under the limiter: flattens one image; ImageNotFound (gone meanwhile) is ignored. */
export async function flattenImage(ctx: ChainContext, pool: string, name: string, options: { namespace?: string; byId?: boolean } = {}): Promise<void> {
  await ctx.flattenLimiter.run(async () => {
    ctx.logger.debug(`flattening ${pool}/${name}`);
    try {
      const ioctx = options.namespace ? await (await ctx.session.rados()).openIoctx(pool, options.namespace) : await ctx.session.ioctx(pool);
      try {
        await withImage(ioctx, name, { byId: options.byId ?? false }, (img) => img.flatten());
      } finally {
        if (options.namespace) await ioctx.close();
      }
    } catch (err) {
      if (err instanceof ImageNotFound) {
        ctx.logger.debug(`image ${pool}/${name} not found while flattening`);
        return;
      }
      // Flattening something that is no longer a clone is done already.
      if (err instanceof InvalidArgument) return;
      throw err;
    }
  });
}

/**
 * Flattens every child of `image` at the snapshot it is set to (at the head:
 * the children of all its snapshots), trashed children included (by id).
 */
export async function flattenChildren(ctx: ChainContext, image: Image): Promise<void> {
  const children = await image.listChildren();
  await Promise.all(
    children.map((child) =>
      flattenImage(ctx, child.pool, child.trash ? child.id : child.image, { namespace: child.namespace || undefined, byId: child.trash }),
    ),
  );
}

/**
 * `_delete_clone_parent_refs`: after a Cinder clone is gone, unprotect and
 * remove its `.clone_snap` on the parent; a `.deleted` parent with no
 * snapshot left is removed (or trashed with deferred deletion), and the walk
 * goes on to its own parent.
 */
export async function deleteCloneParentRefs(ctx: ChainContext, start: CloneInfo): Promise<void> {
  let ref: CloneInfo | null = start;
  while (ref) {
    const { pool, parent, snapshot } = ref;
    const ioctx = await ctx.session.ioctx(pool);
    const found: { grand: CloneInfo | null; parentHasSnaps: boolean } = { grand: null, parentHasSnaps: true };
    try {
      await withImage(ioctx, parent, {}, async (img) => {
        found.grand = await getCloneInfo(img, parent, snapshot);
        ctx.logger.debug(`deleting parent snapshot ${parent}@${snapshot}`);
        try {
          await img.unprotectSnap(snapshot);
        } catch (err) {
          // Not protected (any more): fine, remove it anyway.
          if (!(err instanceof InvalidArgument)) throw err;
        }
        await img.removeSnap(snapshot);
        found.parentHasSnaps = (await img.listSnaps()).length > 0;
      });
    } catch (err) {
      if (err instanceof ImageNotFound) {
        ctx.logger.debug(`parent ${pool}/${parent}@${snapshot} already gone`);
        return;
      }
      throw err;
    }
    if (found.parentHasSnaps || !parent.endsWith(DELETED_SUFFIX)) return;
    ctx.logger.debug(`deleting parent ${pool}/${parent}`);
    if (ctx.enableDeferredDeletion) await Rbd.trashMove(ioctx, parent, ctx.deferredDeletionDelaySec);
    else await Rbd.remove(ioctx, parent);
    ref = found.grand;
  }
}
