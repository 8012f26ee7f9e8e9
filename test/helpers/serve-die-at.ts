/**
 * `ceph-rbd serve` that SIGKILLs itself at one step: when the API hands the
 * manager an operation whose description matches the SERVE_DIE_AT regular
 * expression (`create volume`, `extend volume`, `delete image`, …), that is
 * after the request's transaction committed the record and before any worker
 * ran; or, with SERVE_DIE_AT_REMOVE, when `Rbd.remove` is called on an image
 * name matching it (an image delete through the store: its snapshot
 * unprotected and removed, the image closed, not removed yet). What a process
 * killed there leaves is what the database and the pool then hold.
 *
 * argv: as `ceph-rbd serve` (started by startService(…, { script })).
 */
import { main } from '../../lib/cli/main';
import { Rbd } from '../../lib/rbd';
import { Manager } from '../../lib/serve/manager';

const never = '(?!)';
const at = new RegExp(process.env.SERVE_DIE_AT ?? never);
const spawn = Manager.prototype.spawn;
Manager.prototype.spawn = function (this: Manager, what: string, fn: () => Promise<void>): void {
  if (at.test(what)) process.kill(process.pid, 'SIGKILL');
  spawn.call(this, what, fn);
};

const atRemove = new RegExp(process.env.SERVE_DIE_AT_REMOVE ?? never);
const remove = Rbd.remove;
Rbd.remove = function (...args: Parameters<typeof remove>): ReturnType<typeof remove> {
  if (atRemove.test(args[1])) process.kill(process.pid, 'SIGKILL');
  return remove.apply(this, args);
};

void main(process.argv).then((code) => {
  process.exitCode = code;
});
