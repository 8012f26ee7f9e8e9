/**
 * Property tests (fast-check) of the parsers and argument checks, short
 * version: 3,000 inputs per property. The long version
 * (test/reliability/properties.test.ts) runs >= 100k per property, and the
 * public methods on a real cluster are fuzzed in
 * test/integration/reliability-short.test.ts.
 */
import { parserProperties } from '../reliability/parsers';
import { recordFigure } from '../reliability/support';

describe('property tests: parsers and argument checks (3k inputs each)', function () {
  this.timeout(120_000);
  it('Glance and Cinder location parsers, existingRef, volume objects, image locations, pagination markers', async () => {
    const t0 = Date.now();
    const counts = await parserProperties(3000);
    recordFigure({
      suite: 'short',
      test: 'parser properties',
      tried: Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
      held: 'only the documented error classes; round trips exact; Glance and Cinder parsers agree',
      figures: { seconds: ((Date.now() - t0) / 1000).toFixed(1) },
    });
  });
});
