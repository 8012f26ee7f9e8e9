/**
 * RBD namespaces (multi-tenant pools: each namespace has its own images,
 * directory and trash), and switching an open IoCtx to another namespace.
 */
import { HandleClosedError } from './errors';
import { addon } from './native';
import { IoCtx } from './rados';
import './setup';
import { checkName, checkString } from './validate';

/** RBD namespaces of a pool. Run them on an IoCtx opened in the default namespace. */
export const RbdNamespace = {
  /** Creates a namespace. NamespaceExists when it already exists. */
  async create(ioctx: IoCtx, name: string): Promise<void> {
    return addon.rbdx.namespaceCreate(ioctx.native, checkName(name, 'name'));
  },
  /** Removes an empty namespace. NamespaceNotFound; ImageBusy when it still holds images. */
  async remove(ioctx: IoCtx, name: string): Promise<void> {
    return addon.rbdx.namespaceRemove(ioctx.native, checkName(name, 'name'));
  },
  async exists(ioctx: IoCtx, name: string): Promise<boolean> {
    return addon.rbdx.namespaceExists(ioctx.native, checkName(name, 'name'));
  },
  /** Every namespace of the pool (one call to librbd; not paged). */
  list(ioctx: IoCtx): Promise<string[]> {
    return addon.rbdx.namespaceList(ioctx.native);
  },
};

declare module './rados' {
  interface IoCtx {
    /**
     * Switches this I/O context to another RADOS namespace ('' = default).
     * Images already open keep theirs. Throws ObjectBusy (EBUSY) while a call
     * on this IoCtx is in flight, HandleClosedError when closed.
     */
    setNamespace(namespace: string): void;
    /** The RADOS namespace the IoCtx works in ('' = default); HandleClosedError once closed. */
    getNamespace(): string;
  }
}

IoCtx.prototype.setNamespace = function setNamespace(this: IoCtx, namespace: string): void {
  addon.rbdx.ioctxSetNamespace(this.native, checkString(namespace, 'namespace'));
};

IoCtx.prototype.getNamespace = function getNamespace(this: IoCtx): string {
  if (this.state !== 'open') throw new HandleClosedError(`IoCtx.getNamespace: the I/O context is ${this.state}`, 'IoCtx.getNamespace');
  return this.native.namespace;
};
