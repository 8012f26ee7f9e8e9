/**
 * Mocha root hooks: when CEPH_CONF is not set, start one fresh micro cluster
 * for the whole run (pools `rbd` and `images`) and stop it at the end.
 */
import { startCluster, type StartedCluster } from './helpers/cluster';

let started: StartedCluster | undefined;

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    if (process.env.CEPH_CONF) return;
    this.timeout(180_000);
    const memstore = process.env.MICRO_OSD_MEMSTORE_BYTES ?? String(3 * 1024 ** 3);
    started = await startCluster(['--memstore-bytes', memstore, '--pool', 'images']);
    process.env.CEPH_CONF = started.confFile;
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    if (!started) return;
    this.timeout(120_000);
    await started.stop();
    delete process.env.CEPH_CONF;
    started = undefined;
  },
};
