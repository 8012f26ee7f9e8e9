/**
 * Live migration of an image to another pool, namespace or layout. After
 * prepare, clients open the destination (the source is hidden); execute
 * copies the blocks while they read and write it; commit removes the source
 * (abort restores it). Errors: ImageNotFound, InvalidArgument (not migrating).
 */
import { type NativeMigrationStatus, addon } from './native';
import { type LongOperationOptions, runLong } from './progress';
import type { IoCtx } from './rados';
import { type CreateImageOptions, Image } from './rbd';
import './setup';
import { checkInteger, checkName, checkObject, checkString, checkU64 } from './validate';

export type MigrationStatus = NativeMigrationStatus;

function createOptions(options: CreateImageOptions | undefined) {
  const o = checkObject<CreateImageOptions>(options, 'options');
  const out: Record<string, unknown> = {};
  if (o.order !== undefined) out.order = checkInteger(o.order, 'options.order', 12, 26);
  if (o.features !== undefined) out.features = checkU64(o.features, 'options.features');
  if (o.stripeUnit !== undefined) out.stripeUnit = checkU64(o.stripeUnit, 'options.stripeUnit');
  if (o.stripeCount !== undefined) out.stripeCount = checkU64(o.stripeCount, 'options.stripeCount');
  if (o.dataPool !== undefined) out.dataPool = checkName(o.dataPool, 'options.dataPool');
  return out;
}

export const RbdMigration = {
  /** Links `srcName` to a new image `dstName` (in `dstIoctx`) that clients use from now on. */
  async prepare(srcIoctx: IoCtx, srcName: string, dstIoctx: IoCtx, dstName: string, options?: CreateImageOptions): Promise<void> {
    return addon.rbdx.migrationPrepare(srcIoctx.native, checkName(srcName, 'srcName'), dstIoctx.native, checkName(dstName, 'dstName'), createOptions(options));
  },
  /**
   * Prepares an import-only migration from a source spec, e.g.
   * `{ type: 'native', pool_name: 'rbd', image_name: 'a', snap_name: 's' }`
   * (a snapshot is required for a native source).
   */
  async prepareImport(sourceSpec: object | string, dstIoctx: IoCtx, dstName: string, options?: CreateImageOptions): Promise<void> {
    const spec = typeof sourceSpec === 'string' ? checkString(sourceSpec, 'sourceSpec') : JSON.stringify(checkObject(sourceSpec, 'sourceSpec'));
    return addon.rbdx.migrationPrepareImport(spec, dstIoctx.native, checkName(dstName, 'dstName'), createOptions(options));
  },
  /** Copies every block to the destination (clients may keep using it). */
  async execute(ioctx: IoCtx, name: string, options?: LongOperationOptions): Promise<void> {
    const image = checkName(name, 'name');
    return runLong(options, (p, c) => addon.rbdx.migrationExecute(ioctx.native, image, p, c));
  },
  /** Finishes an executed migration: removes the source. */
  async commit(ioctx: IoCtx, name: string, options?: LongOperationOptions): Promise<void> {
    const image = checkName(name, 'name');
    return runLong(options, (p, c) => addon.rbdx.migrationCommit(ioctx.native, image, p, c));
  },
  /** Cancels the migration: removes the destination, restores the source. */
  async abort(ioctx: IoCtx, name: string, options?: LongOperationOptions): Promise<void> {
    const image = checkName(name, 'name');
    return runLong(options, (p, c) => addon.rbdx.migrationAbort(ioctx.native, image, p, c));
  },
  /** The migration state of `name` (source or destination). InvalidArgument when it is not migrating. */
  async status(ioctx: IoCtx, name: string): Promise<MigrationStatus> {
    return addon.rbdx.migrationStatus(ioctx.native, checkName(name, 'name'));
  },
};

declare module './rbd' {
  interface Image {
    /** The source spec (parsed JSON) of a migration whose destination this image is. */
    migrationSourceSpec(): Promise<Record<string, unknown>>;
  }
}

Image.prototype.migrationSourceSpec = async function migrationSourceSpec(this: Image) {
  return JSON.parse(await addon.rbdx.imageMigrationSourceSpec(this.native)) as Record<string, unknown>;
};
