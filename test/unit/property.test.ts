/**
 * Property tests (fast-check) of the parsers and argument checks, short
 * version: 3,000 inputs per property. The long version
 * (test/reliability/properties.test.ts) runs >= 100k per property, and the
 * public methods on a real cluster are fuzzed in
 * test/integration/reliability-short.test.ts.
 */
import { parserPropertiesRecorded } from '../reliability/parsers';

describe('property tests: parsers and argument checks (3k inputs each)', function () {
  this.timeout(120_000);
  it('Glance and Cinder location parsers, existingRef, volume objects, image locations, pagination markers', () => parserPropertiesRecorded(3000, 'short'));
});
