/**
 * `ceph-rbd serve` that SIGKILLs itself at one step: when the API hands the
 * manager an operation whose description matches the SERVE_DIE_AT regular
 * expression (`create volume`, `extend volume`, …), that is after the
 * request's transaction committed the record and before any worker ran. What
 * a process killed there leaves is what the database and the pool then hold.
 *
 * argv: as `ceph-rbd serve` (started by startService(…, { script })).
 */
import { main } from '../../lib/cli/main';
import { Manager } from '../../lib/serve/manager';

const at = new RegExp(process.env.SERVE_DIE_AT ?? '(?!)');
const spawn = Manager.prototype.spawn;
Manager.prototype.spawn = function (this: Manager, what: string, fn: () => Promise<void>): void {
  if (at.test(what)) process.kill(process.pid, 'SIGKILL');
  spawn.call(this, what, fn);
};

void main(process.argv).then((code) => {
  process.exitCode = code;
});
