import { strict as assert } from 'node:assert';

import { ImageUnacceptable } from '../../lib/cinder/errors';
import { formatRbdSnapshotLocation, parseRbdSnapshotLocation, unquote } from '../../lib/cinder/location';

const FSID = '95d572b8-538c-45ae-a1b6-624e3f8407fd';

describe('Cinder/Nova image location parser', () => {
  const good: Array<[string, string, [string, string, string, string]]> = [
    ['plain', `rbd://${FSID}/images/img-1/snap`, [FSID, 'images', 'img-1', 'snap']],
    ['percent-encoded pieces are decoded', 'rbd://f%2Fs/po%3Aol/im%40age/sn%20ap', ['f/s', 'po:ol', 'im@age', 'sn ap']],
    ['encoded slash does not split', 'rbd://a/b/c%2Fd/e', ['a', 'b', 'c/d', 'e']],
    ['UTF-8 escapes', 'rbd://a/b/caf%C3%A9/s', ['a', 'b', 'café', 's']],
    ['a lone % is kept (as Python unquote)', 'rbd://a/b/100%/s', ['a', 'b', '100%', 's']],
    ['invalid escapes are kept', 'rbd://a/b/%zz/s', ['a', 'b', '%zz', 's']],
    ['lowercase hex', 'rbd://a/b/%2f/s', ['a', 'b', '/', 's']],
  ];
  for (const [what, url, [fsid, pool, image, snapshot]] of good) {
    it(`parses: ${what}`, () => {
      assert.deepEqual(parseRbdSnapshotLocation(url), { fsid, pool, image, snapshot });
    });
  }

  const bad: Array<[string, string, string]> = [
    ['http URL', 'http://a/b/c/d', 'Not stored in RBD'],
    ['file path', '/var/lib/glance/images/x', 'Not stored in RBD'],
    ['upper-case scheme', 'RBD://a/b/c/d', 'Not stored in RBD'],
    ['empty string', '', 'Not stored in RBD'],
    ['nothing after the scheme', 'rbd://', 'Blank components'],
    ['an empty piece among four', 'rbd://a//c/d', 'Blank components'],
    // Blank components are reported before the count: five pieces with a blank one.
    ['blank piece and wrong count', 'rbd://a/b/c/d/', 'Blank components'],
    ['trailing slash on two pieces', 'rbd://a/', 'Blank components'],
    ['legacy one-piece form', 'rbd://image-only', 'Not an RBD snapshot'],
    ['three pieces', 'rbd://a/b/c', 'Not an RBD snapshot'],
    ['five pieces', 'rbd://a/b/c/d/e', 'Not an RBD snapshot'],
  ];
  for (const [what, url, reason] of bad) {
    it(`rejects ${what} with ImageUnacceptable (${reason})`, () => {
      assert.throws(
        () => parseRbdSnapshotLocation(url),
        (e: unknown) => {
          assert.ok(e instanceof ImageUnacceptable);
          assert.equal(e.reason, reason);
          assert.equal(e.code, 'ERR_CINDER_IMAGE_UNACCEPTABLE');
          assert.equal(e.message, `Image ${url} is unacceptable: ${reason}`);
          return true;
        },
      );
    });
  }

  it('rejects a non-string location as not stored in RBD', () => {
    assert.throws(() => parseRbdSnapshotLocation(42 as unknown as string), { name: 'ImageUnacceptable', reason: 'Not stored in RBD' } as object);
  });

  it('formats a location, percent-encoding every piece unless asked not to', () => {
    const loc = { fsid: FSID, pool: 'images', image: 'a/b c', snapshot: 'snap' };
    assert.equal(formatRbdSnapshotLocation(loc), `rbd://${FSID}/images/a%2Fb%20c/snap`);
    assert.equal(formatRbdSnapshotLocation({ ...loc, image: "x!'()*" }), `rbd://${FSID}/images/x%21%27%28%29%2A/snap`);
    assert.equal(formatRbdSnapshotLocation({ ...loc, image: 'plain' }, false), `rbd://${FSID}/images/plain/snap`);
    assert.deepEqual(parseRbdSnapshotLocation(formatRbdSnapshotLocation(loc)), loc);
  });

  it('unquote matches Python urllib.parse.unquote on edge cases', () => {
    const table: Array<[string, string]> = [
      ['', ''],
      ['abc', 'abc'],
      ['%41%42', 'AB'],
      ['%', '%'],
      ['%4', '%4'],
      ['%%41', '%A'],
      ['%C3', '\ufffd'],
      ['é%C3%A9', 'éé'],
    ];
    for (const [input, out] of table) assert.equal(unquote(input), out, input);
  });
});
