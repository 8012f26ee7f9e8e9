/** Load, long version: 16 uploads + 200 small I/O pairs for 60 s on one connection. */
import { load } from './load';
import { FaultCluster, GiB, MiB } from './support';

describe('reliability: load (long)', function () {
  this.timeout(600_000);
  it('16 concurrent uploads + 200 concurrent small reads/writes for 60 s on one connection', async () => {
    const c = await FaultCluster.start(['--memstore-bytes', String(3 * GiB)]);
    try {
      await load(c.confFile, 'rbd', { uploads: 16, uploadBytes: 32 * MiB, small: 200, durationMs: 60_000 }, 'long');
    } finally {
      await c.stop();
    }
  });
});
