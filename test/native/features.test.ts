/** librbd's feature-string parser, bound natively (no cluster). */
import { strict as assert } from 'node:assert';

import { Features, InvalidArgument } from '../../lib';
import { defaultFeatures, featuresFromString, featuresToString } from '../../lib/internal/features';

const FIVE = 'layering,exclusive-lock,object-map,fast-diff,deep-flatten';
const FIVE_BITS = Features.LAYERING | Features.EXCLUSIVE_LOCK | Features.OBJECT_MAP | Features.FAST_DIFF | Features.DEEP_FLATTEN;

describe('feature strings (rbd_features_from_string / rbd_features_to_string)', () => {
  it('reads names and numbers as librbd does', () => {
    assert.equal(featuresFromString(FIVE), FIVE_BITS);
    assert.equal(featuresFromString('layering, exclusive-lock'), Features.LAYERING | Features.EXCLUSIVE_LOCK);
    assert.equal(featuresFromString('61'), 61);
    assert.equal(featuresFromString('striping'), Features.STRIPINGV2);
  });

  it('names bits as librbd does', () => {
    // librbd lists the names in alphabetical order.
    assert.equal(featuresToString(FIVE_BITS), 'deep-flatten,exclusive-lock,fast-diff,layering,object-map');
    assert.equal(featuresFromString(featuresToString(FIVE_BITS)), FIVE_BITS);
    assert.equal(featuresToString(Features.LAYERING), 'layering');
    assert.equal(featuresToString(0), '');
  });

  it('refuses an unknown name with InvalidArgument (EINVAL)', () => {
    assert.throws(() => featuresFromString('layering,warp-drive'), (e: unknown) => e instanceof InvalidArgument && e.code === 'EINVAL' && e.op === 'rbd.featuresFromString');
  });

  it('refuses a non-string with ERR_INVALID_ARG_TYPE', () => {
    assert.throws(() => featuresFromString(5 as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('defaultFeatures: layering when unset, empty or 0; else the parsed value', () => {
    assert.equal(defaultFeatures(undefined), Features.LAYERING);
    assert.equal(defaultFeatures(' '), Features.LAYERING);
    assert.equal(defaultFeatures('0'), Features.LAYERING);
    assert.equal(defaultFeatures(FIVE), FIVE_BITS);
  });
});
