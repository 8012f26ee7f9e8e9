/**
 * Property tests, long versions: >= 100k inputs per parser property, and a
 * few thousand random calls over the public API on a throwaway cluster.
 */
import { fuzzPublicApi } from './fuzz';
import { parserProperties } from './parsers';
import { FaultCluster, GiB, recordFigure } from './support';

describe('reliability: property tests (long)', function () {
  this.timeout(1_800_000);
  it('parsers and argument checks: 100,000 inputs per property', async () => {
    const t0 = Date.now();
    const counts = await parserProperties(100_000);
    recordFigure({
      suite: 'long',
      test: 'parser properties',
      tried: Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
      held: 'only the documented error classes; round trips exact; Glance and Cinder parsers agree',
      figures: { seconds: ((Date.now() - t0) / 1000).toFixed(1) },
    });
  });

  it('the public API with random arguments on a real cluster: 5,000 calls', async () => {
    const c = await FaultCluster.start(['--memstore-bytes', String(GiB)]);
    try {
      await fuzzPublicApi(c.confFile, 5000, 'long');
    } finally {
      await c.stop();
    }
  });
});
