/**
 * Property tests, long versions: >= 100k inputs per parser property, and a
 * few thousand random calls over the public API on a throwaway cluster.
 */
import { fuzzPublicApi } from './fuzz';
import { parserPropertiesRecorded } from './parsers';
import { FaultCluster, GiB } from './support';

describe('reliability: property tests (long)', function () {
  this.timeout(1_800_000);
  it('parsers and argument checks: 100,000 inputs per property', () => parserPropertiesRecorded(100_000, 'long'));

  it('the public API with random arguments on a real cluster: 5,000 calls', async () => {
    const c = await FaultCluster.start(['--memstore-bytes', String(GiB)]);
    try {
      await fuzzPublicApi(c.confFile, 5000, 'long');
    } finally {
      await c.stop();
    }
  });
});
