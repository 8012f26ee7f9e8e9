/** cephx, long run (the same checks run in reliability-short). */
import { cephx } from './security';
import { FaultCluster, MiB } from './support';

describe('reliability: cephx', function () {
  this.timeout(300_000);
  it('client.glance: uploads to images, PermissionDenied in rbd, wrong key refused, no secret leaks', async () => {
    const c = await FaultCluster.start(['--cephx', '--memstore-bytes', String(256 * MiB)]);
    try {
      await cephx(c, 'long');
    } finally {
      await c.stop();
    }
  });
});
