/**
 * Faults, long versions (npm run test:reliability): each scenario on a
 * throwaway cluster of its own, so the shared test cluster is never damaged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { clusterFull, cinderDown, daemonsStoppedMidUpload, monsUnreachable, osdKilledMidUpload } from './faults';
import { FaultCluster, GiB, MiB } from './support';

describe('reliability: faults (long)', function () {
  this.timeout(600_000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-faults-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Runs `fn` on a cluster of its own, stopped afterwards whatever happens. */
  async function onCluster(args: string[], fn: (c: FaultCluster) => Promise<void>): Promise<void> {
    const c = await FaultCluster.start(args);
    try {
      await fn(c);
    } finally {
      await c.stop();
    }
  }

  it('an OSD killed in the middle of a 1 GiB upload: the upload completes, rbd export matches', () =>
    onCluster(['--osds', '3', '--pool', 'images', '--memstore-bytes', String(3 * GiB)], (c) => osdKilledMidUpload(c, GiB, 'long')));

  it('every daemon stopped in the middle of a 512 MiB upload: TimedOut/ConnectionError, clean-up leaves nothing', () =>
    onCluster(['--osds', '3', '--pool', 'images', '--memstore-bytes', String(2 * GiB)], (c) => daemonsStoppedMidUpload(c, 512 * MiB, 5000, 'long')));

  it('monitors unreachable at connect: ConnectionError within connectTimeoutMs', () =>
    onCluster(['--pool', 'images', '--memstore-bytes', String(256 * MiB)], (c) => monsUnreachable(tmp, c, 5000, 'long')));

  it('cluster full: StorageFull, partial image removed, usable again after deleting data', () =>
    onCluster(['--pool', 'images', '--memstore-bytes', String(512 * MiB)], (c) => clusterFull(c, 512 * MiB, 5000, 'long')));

  it("Cinder with the cluster down: backend_state 'down', retries as configured", () =>
    onCluster(['--memstore-bytes', String(256 * MiB)], (c) => cinderDown(tmp, c, 'long')));
});
