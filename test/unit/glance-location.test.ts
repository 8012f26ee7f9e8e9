import { strict as assert } from 'node:assert';

import { BadStoreUri } from '../../lib/glance/errors';
import { formatLocation, parseLocation, quote, unquote, type RbdLocation } from '../../lib/glance/location';

const FSID = '95d572b8-538c-45ae-a1b6-624e3f8407fd';

describe('Glance RBD location URIs', () => {
  describe('quote / unquote match Python urllib.parse with safe=""', () => {
    // Expected values from Python 3: quote(s, safe='') and unquote(s).
    const quoted: Array<[string, string]> = [
      ['plain-name_1.2~x', 'plain-name_1.2~x'],
      ['a/b', 'a%2Fb'],
      ['a:b@c d', 'a%3Ab%40c%20d'],
      ['100%', '100%25'],
      ['café', 'caf%C3%A9'],
      ["~_.-!*()'", '~_.-%21%2A%28%29%27'],
      ['☃', '%E2%98%83'],
      ['?#&=+;,', '%3F%23%26%3D%2B%3B%2C'],
      ['', ''],
    ];
    for (const [raw, enc] of quoted) {
      it(`quote(${JSON.stringify(raw)}) = ${JSON.stringify(enc)} and back`, () => {
        assert.equal(quote(raw), enc);
        assert.equal(unquote(enc), raw);
      });
    }
    const unquoted: Array<[string, string]> = [
      ['%zz', '%zz'],
      ['%4', '%4'],
      ['%', '%'],
      ['%C3%A9', 'é'],
      ['%c3%a9', 'é'],
      ['%E9', '\ufffd'],
      ['a%2Fb', 'a/b'],
      ['%%41', '%A'],
      ['no-escapes', 'no-escapes'],
    ];
    for (const [enc, raw] of unquoted) {
      it(`unquote(${JSON.stringify(enc)}) = ${JSON.stringify(raw)}`, () => assert.equal(unquote(enc), raw));
    }
  });

  describe('parseLocation accepts', () => {
    const good: Array<[string, RbdLocation]> = [
      [`rbd://${FSID}/images/abc/snap`, { fsid: FSID, pool: 'images', image: 'abc', snapshot: 'snap' }],
      ['rbd://legacy-image', { fsid: null, pool: null, image: 'legacy-image', snapshot: null }],
      // the legacy form is taken verbatim, not unquoted
      ['rbd://a%2Fb', { fsid: null, pool: null, image: 'a%2Fb', snapshot: null }],
      ['rbd://f/p%20ool/im%2Fage/sn%40p', { fsid: 'f', pool: 'p ool', image: 'im/age', snapshot: 'sn@p' }],
      ['rbd://f/p/a%3Ab%40c%20d/s', { fsid: 'f', pool: 'p', image: 'a:b@c d', snapshot: 's' }],
      ['rbd://f/p/100%25/s', { fsid: 'f', pool: 'p', image: '100%', snapshot: 's' }],
      ['rbd://f/p/caf%C3%A9/s', { fsid: 'f', pool: 'p', image: 'café', snapshot: 's' }],
      ['rbd://f/p/%E2%98%83/s', { fsid: 'f', pool: 'p', image: '☃', snapshot: 's' }],
      // a malformed escape stays as it is (Python's unquote)
      ['rbd://f/p/50%zz/s', { fsid: 'f', pool: 'p', image: '50%zz', snapshot: 's' }],
    ];
    for (const [uri, want] of good) {
      it(uri, () => assert.deepEqual(parseLocation(uri), want));
    }
  });

  describe('parseLocation rejects with BadStoreUri', () => {
    const bad: Array<[string, string]> = [
      ['', 'Location URI must start with one of: rbd://'],
      ['http://x/y/z/w', 'Location URI must start with one of: rbd://'],
      ['RBD://a/b/c/d', 'Location URI must start with one of: rbd://'],
      ['rbd:/a', 'Location URI must start with one of: rbd://'],
      ['rbd://a/b', 'URI must have exactly 1 or 4 components'],
      ['rbd://a/b/c', 'URI must have exactly 1 or 4 components'],
      ['rbd://a/b/c/d/e', 'URI must have exactly 1 or 4 components'],
      // the count is checked before emptiness
      ['rbd://a//c', 'URI must have exactly 1 or 4 components'],
      ['rbd:////', 'URI must have exactly 1 or 4 components'],
      ['rbd://', 'URI cannot contain empty components'],
      ['rbd://a//c/d', 'URI cannot contain empty components'],
      ['rbd:///b/c/d', 'URI cannot contain empty components'],
      ['rbd://a/b/c/', 'URI cannot contain empty components'],
      ['rbd:///', 'URI must have exactly 1 or 4 components'],
      ['rbd://f/p/café/s', 'URI contains non-ascii characters'],
      ['rbd://☃', 'URI contains non-ascii characters'],
    ];
    for (const [uri, message] of bad) {
      it(`${JSON.stringify(uri)}: ${message}`, () => {
        assert.throws(() => parseLocation(uri), (e: unknown) => {
          assert.ok(e instanceof BadStoreUri);
          assert.equal(e.name, 'BadStoreUri');
          assert.equal(e.message, message);
          assert.equal(e.uri, uri);
          return true;
        });
      });
    }
    it('a non-string is a TypeError', () => {
      assert.throws(() => parseLocation(42 as unknown as string), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });
  });

  describe('formatLocation', () => {
    const table: Array<[Parameters<typeof formatLocation>[0], string]> = [
      [{ fsid: FSID, pool: 'images', image: 'abc', snapshot: 'snap' }, `rbd://${FSID}/images/abc/snap`],
      [{ fsid: 'f/s', pool: 'p:1', image: 'a/b@c d', snapshot: 's%1' }, 'rbd://f%2Fs/p%3A1/a%2Fb%40c%20d/s%251'],
      [{ fsid: 'f', pool: 'p', image: 'café☃', snapshot: 'snap' }, 'rbd://f/p/caf%C3%A9%E2%98%83/snap'],
      // legacy form (not encoded) when fsid, pool or snapshot is missing or empty
      [{ image: 'a/b c' }, 'rbd://a/b c'],
      [{ fsid: 'f', pool: 'p', image: 'img', snapshot: null }, 'rbd://img'],
      [{ fsid: '', pool: 'p', image: 'img', snapshot: 's' }, 'rbd://img'],
      [{ fsid: 'f', pool: undefined, image: 'img', snapshot: 's' }, 'rbd://img'],
    ];
    for (const [parts, uri] of table) {
      it(`${JSON.stringify(parts)} -> ${uri}`, () => assert.equal(formatLocation(parts), uri));
    }

    it('round-trips every awkward character through parseLocation', () => {
      const names = ['a/b', 'x:y', 'u@v', 'with space', '50%', 'café', '☃', "!*'()", '../..', '%2F'];
      for (const name of names) {
        const parts = { fsid: FSID, pool: `pool ${name}`, image: name, snapshot: `s/${name}` };
        const uri = formatLocation(parts);
        assert.ok(/^rbd:\/\/[\x21-\x7e]+$/.test(uri), `${uri} is plain ASCII without spaces`);
        assert.equal(uri.split('/').length, 6, `${uri} has exactly four parts`);
        assert.deepEqual(parseLocation(uri), parts);
      }
    });

    it('rejects a non-string image with a TypeError', () => {
      assert.throws(() => formatLocation({ image: 42 } as unknown as { image: string }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });
  });
});
