import { strict as assert } from 'node:assert';

import { parseMonDump } from '../../lib/cinder/stats';
import { candidateLocations } from '../../lib/cinder/options';
import { InvalidInput } from '../../lib/cinder/errors';
import { extractIdFromVolumeName, paginateEntries } from '../../lib/cinder/manage';
import { capacityFrom } from '../../lib/cinder/stats';
import { GiB, orderFor } from '../../lib/cinder/util';
import { defaultFeatures as parseDefaultFeatures } from '../../lib/internal/features';
import { Semaphore, retry, sleep } from '../../lib/internal/retry';

describe('Cinder helpers (no cluster)', () => {
  describe('retry', () => {
    it('makes N attempts in total, waiting interval × 2^(n-1), and rethrows the last error', async () => {
      const times: number[] = [];
      const errors = [new Error('1'), new Error('2'), new Error('3')];
      const t0 = Date.now();
      await assert.rejects(
        retry({ retries: 3, intervalMs: 40 }, () => true, async (n) => {
          times.push(Date.now() - t0);
          throw errors[n - 1];
        }),
        (e) => e === errors[2],
      );
      assert.equal(times.length, 3);
      assert.ok((times[1] as number) - (times[0] as number) >= 35, `first wait ${(times[1] as number) - (times[0] as number)}`);
      assert.ok((times[2] as number) - (times[1] as number) >= 75, `second wait ${(times[2] as number) - (times[1] as number)}`);
    });

    it('does not retry errors the predicate refuses, and returns on success', async () => {
      let calls = 0;
      await assert.rejects(retry({ retries: 5, intervalMs: 1 }, () => false, async () => {
        calls++;
        throw new Error('x');
      }));
      assert.equal(calls, 1);
      assert.equal(await retry({ retries: 3, intervalMs: 1 }, () => true, async (n) => {
        if (n < 2) throw new Error('again');
        return n;
      }), 2);
    });
  });

  describe('Semaphore (flatten limiter)', () => {
    async function peak(size: number, jobs: number): Promise<number> {
      const sem = new Semaphore(size);
      let now = 0;
      let max = 0;
      await Promise.all(Array.from({ length: jobs }, () => sem.run(async () => {
        now++;
        max = Math.max(max, now);
        await sleep(5);
        now--;
      })));
      return max;
    }
    it('runs at most `size` at once', async () => {
      assert.equal(await peak(3, 10), 3);
      assert.equal(await peak(1, 4), 1);
    });
    it('size 0 is unlimited', async () => {
      assert.equal(await peak(0, 10), 10);
    });
    it('releases its slot when a job fails', async () => {
      const sem = new Semaphore(1);
      await assert.rejects(sem.run(async () => { throw new Error('boom'); }));
      assert.equal(await sem.run(async () => 7), 7);
      assert.equal(sem.active, 0);
    });
  });

  it('parses rbd_default_features (decimal, names, unset/0 → layering)', () => {
    assert.equal(parseDefaultFeatures('61'), 61);
    assert.equal(parseDefaultFeatures('layering,exclusive-lock,object-map,fast-diff,deep-flatten'), 61);
    assert.equal(parseDefaultFeatures(null), 1);
    assert.equal(parseDefaultFeatures('0'), 1);
    assert.equal(parseDefaultFeatures(''), 1);
  });

  it('orders from chunk sizes as int(log2(bytes))', () => {
    assert.equal(orderFor(4 * 1024 * 1024), 22);
    assert.equal(orderFor(8 * 1024 * 1024), 23);
    assert.equal(orderFor(6 * 1024 * 1024), 22);
  });

  describe('capacity arithmetic (get_volume_stats)', () => {
    const df = (stats: Record<string, number>, total = 100 * GiB): string =>
      JSON.stringify({ stats: { total_bytes: total }, pools: [{ name: 'other', stats: { stored: 1, bytes_used: 1, max_avail: 1 } }, { name: 'rbd', stats }] });
    const quota = (q: number): string => JSON.stringify({ pool_name: 'rbd', quota_max_bytes: q });

    it('without quota: free = max_avail, total = free + used (dynamic), used = stored', () => {
      assert.deepEqual(capacityFrom(df({ stored: 10 * GiB, bytes_used: 30 * GiB, max_avail: 50 * GiB }), quota(0), 'rbd', true), { free: 50, total: 60 });
    });
    it('without quota, static total = the cluster size', () => {
      assert.deepEqual(capacityFrom(df({ stored: 10 * GiB, bytes_used: 30 * GiB, max_avail: 50 * GiB }), quota(0), 'rbd', false), { free: 50, total: 100 });
    });
    it('uses bytes_used when stored is absent (pre-Nautilus df)', () => {
      assert.deepEqual(capacityFrom(df({ bytes_used: 30 * GiB, max_avail: 50 * GiB }), quota(0), 'rbd', true), { free: 50, total: 80 });
    });
    it('with quota: total = quota, free = max(min(quota - used, max_avail), 0)', () => {
      const s = { stored: 10 * GiB, bytes_used: 10 * GiB, max_avail: 50 * GiB };
      assert.deepEqual(capacityFrom(df(s), quota(25 * GiB), 'rbd', false), { free: 15, total: 25 });
      assert.deepEqual(capacityFrom(df(s), quota(25 * GiB), 'rbd', true), { free: 15, total: 25 });
      assert.deepEqual(capacityFrom(df(s), quota(100 * GiB), 'rbd', false), { free: 50, total: 100 });
      assert.deepEqual(capacityFrom(df({ ...s, stored: 30 * GiB }), quota(25 * GiB), 'rbd', false), { free: 0, total: 25 });
    });
    it('rounds GiB to two decimals', () => {
      assert.deepEqual(capacityFrom(df({ stored: 0, bytes_used: 0, max_avail: 4080167680 }), quota(0), 'rbd', true), { free: 3.8, total: 3.8 });
      assert.deepEqual(capacityFrom(df({ stored: 1234567890, bytes_used: 0, max_avail: 0 }), quota(0), 'rbd', true), { free: 0, total: 1.15 });
    });
    it('an unknown pool is unknown', () => {
      assert.equal(capacityFrom(df({ stored: 0, bytes_used: 0, max_avail: 0 }), quota(0), 'nope', true), 'unknown');
    });
  });

  describe('mon dump parsing (initialize_connection)', () => {
    it('drops the "dumped monmap epoch" line, strips the nonce, splits on the last colon, unbrackets IPv6', () => {
      const text =
        'dumped monmap epoch 3\n' +
        JSON.stringify({
          mons: [
            { name: 'a', addr: '10.0.0.1:6789/0' },
            { name: 'b', addr: '[fd00::2]:3300/123' },
            { name: 'c', public_addrs: { addrvec: [{ type: 'v1', addr: '10.0.0.3:6790', nonce: 0 }] } },
          ],
        });
      assert.deepEqual(parseMonDump(text), { hosts: ['10.0.0.1', 'fd00::2', '10.0.0.3'], ports: ['6789', '3300', '6790'] });
    });
  });

  it('picks candidate locations: the locations list first, else the direct URL', () => {
    assert.deepEqual(candidateLocations('rbd://a/b/c/d'), ['rbd://a/b/c/d']);
    assert.deepEqual(candidateLocations(['rbd://d/p/i/s', [{ url: 'rbd://1/p/i/s' }, { url: 'rbd://2/p/i/s' }]]), ['rbd://1/p/i/s', 'rbd://2/p/i/s']);
    assert.deepEqual(candidateLocations(['rbd://d/p/i/s', null]), ['rbd://d/p/i/s']);
    assert.deepEqual(candidateLocations(['rbd://d/p/i/s', []]), ['rbd://d/p/i/s']);
    assert.deepEqual(candidateLocations({ directUrl: 'rbd://d/p/i/s' }), ['rbd://d/p/i/s']);
    assert.deepEqual(candidateLocations([null, null]), []);
  });

  describe('manageable volumes', () => {
    it('extracts the Cinder id from volume-<id> names', () => {
      assert.equal(extractIdFromVolumeName('volume-abc'), 'abc');
      assert.equal(extractIdFromVolumeName('volume-abc.deleted'), 'abc.deleted');
      assert.equal(extractIdFromVolumeName('volume-'), null);
      assert.equal(extractIdFromVolumeName('img'), null);
    });

    const entries = ['a', 'b', 'c', 'd', 'e'].map((n, i) => ({ reference: { 'source-name': n }, size: 5 - i }));
    const names = (xs: typeof entries): string[] => xs.map((e) => e.reference['source-name']);

    it('sorts by reference (its value) and by size, both directions', () => {
      assert.deepEqual(names(paginateEntries(entries, null, 10, 0, ['reference'], ['desc'])), ['e', 'd', 'c', 'b', 'a']);
      assert.deepEqual(names(paginateEntries(entries, null, 10, 0, ['reference'], ['asc'])), ['a', 'b', 'c', 'd', 'e']);
      assert.deepEqual(names(paginateEntries(entries, null, 10, 0, ['size'], ['asc'])), ['e', 'd', 'c', 'b', 'a']);
    });
    it('limit, offset and marker (dict or JSON) work as in Cinder', () => {
      assert.deepEqual(names(paginateEntries(entries, null, 2, 0, ['reference'], ['asc'])), ['a', 'b']);
      assert.deepEqual(names(paginateEntries(entries, null, 2, 1, ['reference'], ['asc'])), ['b', 'c']);
      assert.deepEqual(names(paginateEntries(entries, { 'source-name': 'b' }, 2, 0, ['reference'], ['asc'])), ['c', 'd']);
      assert.deepEqual(names(paginateEntries(entries, '{"source-name": "b"}', 2, 1, ['reference'], ['asc'])), ['d', 'e']);
      assert.deepEqual(names(paginateEntries(entries, null, null, 0, ['reference'], ['asc'])), ['a', 'b', 'c', 'd', 'e']);
    });
    it('an unknown or unparsable marker is InvalidInput', () => {
      assert.throws(() => paginateEntries(entries, { 'source-name': 'zz' }, 2, 0, ['reference'], ['asc']), InvalidInput);
      assert.throws(() => paginateEntries(entries, 'not json', 2, 0, ['reference'], ['asc']), /can not be analysed/);
    });
  });
});
