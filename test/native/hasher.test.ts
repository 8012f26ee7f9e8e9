import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';

import { addon } from '../../lib/native';

describe('native Hasher (native/hash.cc)', () => {
  it('matches node:crypto for md5, sha512, sha256, sha1 and sha3-256', async () => {
    const algos = ['md5', 'sha512', 'sha256', 'sha1', 'sha3-256'];
    const h = addon.createHasher(algos);
    assert.deepEqual(h.algorithms, algos);
    const parts = [randomBytes(1), Buffer.alloc(0), randomBytes(3 * 1024 * 1024 + 7), randomBytes(65_536)];
    await Promise.all(parts.map((p) => h.update(p)));
    const all = Buffer.concat(parts);
    assert.deepEqual(await h.digest(), algos.map((a) => createHash(a).update(all).digest('hex')));
  });

  // In a child, so that the environment variable reaches the pool it starts.
  function backgroundThreadNices(niceSetting: string | undefined): { main: number; background: number[] } {
    const script = `
      const { readdirSync, readFileSync } = require('node:fs');
      const { addon } = require(${JSON.stringify(require.resolve('../../lib/native'))});
      const niceOf = (stat) => Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      const h = addon.createHasher(['md5', 'sha512']);
      h.update(Buffer.alloc(1 << 20)).then(() => h.digest()).then(() => {
        const background = readdirSync('/proc/self/task')
          .filter((t) => readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim() === 'ceph-rbd-bg')
          .map((t) => niceOf(readFileSync('/proc/self/task/' + t + '/stat', 'utf8')));
        process.stdout.write(JSON.stringify({ main: niceOf(readFileSync('/proc/self/stat', 'utf8')), background }));
      });`;
    const env = { ...process.env };
    if (niceSetting === undefined) delete env.CEPH_RBD_BACKGROUND_NICE;
    else env.CEPH_RBD_BACKGROUND_NICE = niceSetting;
    return JSON.parse(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' })) as { main: number; background: number[] };
  }

  it('hashes on background threads below the JS thread\'s priority (CEPH_RBD_BACKGROUND_NICE, default 5)', () => {
    const byDefault = backgroundThreadNices(undefined);
    assert.ok(byDefault.background.length >= 1, 'no ceph-rbd-bg thread');
    assert.deepEqual(new Set(byDefault.background), new Set([Math.min(byDefault.main + 5, 19)]));
    const set = backgroundThreadNices('12');
    assert.deepEqual(new Set(set.background), new Set([Math.min(set.main + 12, 19)]));
    const off = backgroundThreadNices('0');
    assert.deepEqual(new Set(off.background), new Set([off.main]));
  });

  it('hashes nothing like node:crypto hashes nothing', async () => {
    const h = addon.createHasher(['md5', 'sha512']);
    assert.deepEqual(await h.digest(), [createHash('md5').digest('hex'), createHash('sha512').digest('hex')]);
  });

  it('keeps the order of many queued updates', async () => {
    const h = addon.createHasher(['md5', 'sha256']);
    const parts = Array.from({ length: 200 }, (_, i) => randomBytes(1 + ((i * 7919) % 20_000)));
    const pending = parts.map((p) => h.update(p));
    assert.ok(h.pending > 0);
    await Promise.all(pending);
    assert.equal(h.pending, 0);
    const all = Buffer.concat(parts);
    assert.deepEqual(await h.digest(), [createHash('md5').update(all).digest('hex'), createHash('sha256').update(all).digest('hex')]);
  });

  it('reads a buffer in place: it may be reused once update() resolves', async () => {
    const h = addon.createHasher(['sha512']);
    const buf = Buffer.alloc(1024 * 1024, 1);
    const want = createHash('sha512');
    for (let i = 0; i < 5; i++) {
      buf.fill(i);
      want.update(buf);
      await h.update(buf);
    }
    assert.deepEqual(await h.digest(), [want.digest('hex')]);
  });

  it('takes a Uint8Array view through Buffer.from without a copy', async () => {
    const backing = randomBytes(4096);
    const view = Buffer.from(backing.buffer, backing.byteOffset + 100, 1000);
    const h = addon.createHasher(['md5']);
    await h.update(view);
    assert.deepEqual(await h.digest(), [createHash('md5').update(backing.subarray(100, 1100)).digest('hex')]);
  });

  it('refuses unknown algorithms and bad arguments with TypeErrors', () => {
    assert.throws(() => addon.createHasher(['md5', 'no-such-hash']), { name: 'TypeError', code: 'ERR_CRYPTO_INVALID_DIGEST', message: 'Invalid digest: no-such-hash' });
    assert.throws(() => addon.createHasher([]), TypeError);
    assert.throws(() => addon.createHasher('md5' as unknown as string[]), TypeError);
    assert.throws(() => addon.createHasher([42 as unknown as string]), TypeError);
    const h = addon.createHasher(['md5']);
    assert.throws(() => void h.update('text' as unknown as Buffer), { name: 'TypeError' });
  });

  it('rejects update() and digest() after digest()', async () => {
    const h = addon.createHasher(['md5']);
    await h.digest();
    await assert.rejects(h.update(Buffer.from('x')), { code: 'ERR_CEPH_CLOSED', message: 'Hasher.update: the hasher is closed' });
    await assert.rejects(h.digest(), { code: 'ERR_CEPH_CLOSED' });
  });

  it('is exported as a class too', () => {
    assert.equal(typeof addon.Hasher, 'function');
    assert.ok(addon.createHasher(['md5']) instanceof (addon.Hasher as unknown as new (...a: unknown[]) => object));
  });
});
