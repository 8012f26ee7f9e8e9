import { strict as assert } from 'node:assert';

import { checkBuffer, checkName, checkU64, checkLength } from '../../lib/validate';

describe('validate', () => {
  it('accepts safe integers and bigints for 64-bit sizes', () => {
    assert.equal(checkU64(0, 'size'), 0);
    assert.equal(checkU64(2 ** 53 - 1, 'size'), 2 ** 53 - 1);
    assert.equal(checkU64(2n ** 63n, 'size'), 2n ** 63n);
  });

  it('rejects negative, fractional and unsafe sizes with ERR_OUT_OF_RANGE', () => {
    for (const bad of [-1, 1.5, 2 ** 53, Number.NaN, Infinity]) {
      assert.throws(() => checkU64(bad, 'size'), (e: NodeJS.ErrnoException) => e instanceof RangeError && e.code === 'ERR_OUT_OF_RANGE' && e.message.startsWith('Expected a non-negative safe integer for size but received'));
    }
    assert.throws(() => checkU64(-1n, 'size'), RangeError);
    assert.throws(() => checkU64(1n << 64n, 'size'), RangeError);
    assert.throws(() => checkLength(2 ** 33, 'length'), RangeError);
  });

  it('rejects non-numbers with ERR_INVALID_ARG_TYPE naming the argument', () => {
    assert.throws(() => checkU64('12', 'offset'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: "Expected a non-negative safe integer or bigint for offset but received '12'" });
  });

  it('requires non-empty names without NUL', () => {
    assert.equal(checkName('a/b@c', 'name'), 'a/b@c');
    assert.throws(() => checkName('', 'name'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => checkName('a\0b', 'name'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /without NUL/ });
    assert.throws(() => checkName(42, 'name'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'Expected a string for name but received 42' });
  });

  it('takes Buffers as they are and Uint8Arrays without copying', () => {
    const b = Buffer.from('abc');
    assert.equal(checkBuffer(b, 'data'), b);
    const u = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    const view = checkBuffer(u, 'data');
    view[0] = 9;
    assert.equal(u[0], 9, 'the Buffer shares memory with the Uint8Array');
    assert.throws(() => checkBuffer('abc', 'data'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  });
});
