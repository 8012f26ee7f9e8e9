import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import { addon } from '../../lib/native';

describe('native allocPooledBuffer and allocPooledBufferAsync (native/common/buffer_pool.cc)', () => {
  it('returns writable Buffers of the size asked, pooled or not', () => {
    for (const size of [0, 1, 1000, 256 * 1024 - 1, 256 * 1024, 8 * 1024 * 1024 + 3]) {
      const b = addon.allocPooledBuffer(size);
      assert.ok(Buffer.isBuffer(b));
      assert.equal(b.length, size);
      b.fill(0x5a);
      assert.ok(b.every((x) => x === 0x5a));
    }
  });

  it('allocPooledBufferAsync resolves writable Buffers of the size asked, new blocks and idle ones', async () => {
    for (const size of [0, 1000, 256 * 1024, 8 * 1024 * 1024 + 3, 8 * 1024 * 1024 + 3]) {
      const b = await addon.allocPooledBufferAsync(size);
      assert.ok(Buffer.isBuffer(b));
      assert.equal(b.length, size);
      b.fill(0xa5);
      assert.ok(b.every((x) => x === 0xa5));
    }
    const many = await Promise.all(Array.from({ length: 6 }, () => addon.allocPooledBufferAsync(1024 * 1024)));
    many.forEach((b, i) => b.fill(i));
    many.forEach((b, i) => assert.ok(b.every((x) => x === i), `buffer ${i} shares memory with another`));
  });

  it('refuses a size that is not a non-negative safe integer', () => {
    assert.throws(() => addon.allocPooledBufferAsync('8' as unknown as number), TypeError);
    for (const bad of [-1, 1.5, 2 ** 53]) assert.throws(() => addon.allocPooledBufferAsync(bad), RangeError);
    assert.throws(() => addon.allocPooledBuffer('8' as unknown as number), TypeError);
    for (const bad of [-1, 1.5, 2 ** 53]) assert.throws(() => addon.allocPooledBuffer(bad), RangeError);
  });

  it('never hands out memory a live Buffer (or a transferred ArrayBuffer) still uses, across collections', function () {
    this.timeout(60_000);
    // A child with --expose-gc: collected Buffers go back to the pool, the
    // ones kept (some moved to another ArrayBuffer by a transfer) must keep
    // their bytes while later Buffers reuse the pool's memory.
    const native = path.join(__dirname, '..', '..', 'lib', 'native.js');
    const script = `
      const { addon } = require(${JSON.stringify(native)});
      (async () => {
      const kept = [];
      for (let i = 0; i < 60; i++) {
        const b = i % 2 ? addon.allocPooledBuffer(1024 * 1024) : await addon.allocPooledBufferAsync(1024 * 1024);
        b.fill(i);
        if (i % 6 === 0) kept.push([i, b]);
        else if (i % 6 === 1) kept.push([i, new Uint8Array(structuredClone(b.buffer, { transfer: [b.buffer] }))]);
        if (i % 4 === 3) globalThis.gc();
      }
      globalThis.gc();
      for (let i = 0; i < 20; i++) addon.allocPooledBuffer(1024 * 1024).fill(0xff);
      for (const [i, b] of kept) if (b.length !== 1024 * 1024 || !b.every((x) => x === i)) throw new Error('buffer ' + i + ' was overwritten');
      console.log('ok ' + kept.length);
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
    assert.equal(out.trim(), 'ok 20');
  });
});
