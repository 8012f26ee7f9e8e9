/**
 * Property tests of the parsers and argument checks that need no cluster:
 * the Glance location parser, the Cinder location and existingRef parsers,
 * volume/snapshot objects, pagination markers, image locations. `runs` sets
 * the number of inputs per property (>= 100k in test/reliability, a few
 * thousand in npm test).
 */
import { strict as assert } from 'node:assert';

import fc from 'fast-check';

import {
  BadStoreUri,
  formatGlanceLocation,
  formatRbdSnapshotLocation,
  ImageUnacceptable,
  InvalidInput,
  ManageExistingInvalidReference,
  parseGlanceLocation,
  parseRbdSnapshotLocation,
  RbdVolumeDriver,
  VolumeBackendAPIException,
} from '../../lib';
import { candidateLocations, checkSnapshot, checkVolume } from '../../lib/cinder/options';
import { paginateEntries } from '../../lib/cinder/manage';
import { quote, unquote as glanceUnquote } from '../../lib/glance/location';
import { unquote as cinderUnquote } from '../../lib/cinder/location';
import { contractViolation, recordFigure, seconds } from './support';

/** Pieces a location is made of: hostile ones included. */
export const piece = fc.oneof(
  fc.constantFrom('', 'a', 'images', 'snap', '%', '%2', '%2F', '%zz', '%00', '%E2%82%AC', '%C3', '..', '@', ':', '?', '#', ' ', '\0', '/', 'é', '😀', '\uD800'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.stringMatching(/^[0-9a-f-]{36}$/),
  fc.string({ unit: fc.constantFrom('%', '2', 'F', 'a', '/', 'é'), maxLength: 10 }),
);

/** Location-like strings: mostly rbd://… with 0–6 pieces, sometimes anything. */
export const locationString = fc.oneof(
  { weight: 6, arbitrary: fc.array(piece, { minLength: 0, maxLength: 6 }).map((p) => `rbd://${p.join('/')}`) },
  { weight: 1, arbitrary: fc.array(piece, { minLength: 1, maxLength: 5 }).map((p) => `${fc.sample(fc.constantFrom('RBD://', 'rbd:/', 'rbd:', 'http://', ' rbd://', ''), 1)[0]}${p.join('/')}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constant(`rbd://${'x'.repeat(10_000)}/p/i/s`) },
);

/** Non-empty strings that survive UTF-8 (no lone surrogates). */
const wellFormed = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });

function expectOnly(fn: () => unknown, allowed: Array<abstract new (...a: never[]) => Error>): unknown {
  try {
    return fn();
  } catch (err) {
    assert.ok(
      allowed.some((C) => err instanceof C),
      `threw ${String(err)}`,
    );
    assert.equal(contractViolation(err), null);
    return err;
  }
}

/** Every property, `runs` inputs each. Returns the number of inputs tried. */
export async function parserProperties(runs: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const params = { numRuns: runs };
  const count = (name: string) => (counts[name] = (counts[name] ?? 0) + 1);

  // Glance: BadStoreUri or a location whose pieces are what the URI says.
  fc.assert(
    fc.property(fc.oneof({ weight: 9, arbitrary: locationString }, { weight: 1, arbitrary: fc.anything() }), (uri) => {
      count('glance.parseLocation');
      const out = expectOnly(() => parseGlanceLocation(uri as string), [BadStoreUri, TypeError]);
      if (out instanceof Error) {
        if (typeof uri === 'string') assert.ok(out instanceof BadStoreUri);
        return;
      }
      const loc = out as ReturnType<typeof parseGlanceLocation>;
      assert.ok(typeof uri === 'string' && uri.startsWith('rbd://') && [...uri].every((ch) => ch.charCodeAt(0) < 0x80));
      assert.ok(typeof loc.image === 'string');
      if (loc.fsid === null) {
        assert.equal(loc.image, uri.slice(6));
        assert.ok(loc.image.length > 0 && !loc.image.includes('/'));
      } else {
        assert.equal(uri.slice(6).split('/').length, 4);
        for (const p of [loc.fsid, loc.pool, loc.image, loc.snapshot]) assert.equal(typeof p, 'string');
      }
    }),
    params,
  );

  // Glance: format then parse gives the parts back.
  fc.assert(
    fc.property(wellFormed, wellFormed, wellFormed, wellFormed, (fsid, pool, image, snapshot) => {
      count('glance.roundtrip');
      const uri = formatGlanceLocation({ fsid, pool, image, snapshot });
      assert.deepEqual(parseGlanceLocation(uri), { fsid, pool, image, snapshot });
      assert.equal(glanceUnquote(quote(image)), image);
    }),
    params,
  );

  // Cinder: ImageUnacceptable, or four non-empty decoded pieces.
  fc.assert(
    fc.property(fc.oneof({ weight: 9, arbitrary: locationString }, { weight: 1, arbitrary: fc.anything() }), (uri) => {
      count('cinder.parseRbdSnapshotLocation');
      const out = expectOnly(() => parseRbdSnapshotLocation(uri as string), [ImageUnacceptable]);
      if (out instanceof Error) return;
      const loc = out as ReturnType<typeof parseRbdSnapshotLocation>;
      for (const p of [loc.fsid, loc.pool, loc.image, loc.snapshot]) assert.ok(typeof p === 'string' && p.length > 0);
      // Where the Glance parser accepts a 4-part URI, both read the same pieces.
      let glance: ReturnType<typeof parseGlanceLocation> | undefined;
      try {
        glance = parseGlanceLocation(uri as string);
      } catch {
        glance = undefined;
      }
      if (glance && glance.fsid !== null) assert.deepEqual(glance, loc);
    }),
    params,
  );

  fc.assert(
    fc.property(wellFormed, wellFormed, wellFormed, wellFormed, (fsid, pool, image, snapshot) => {
      count('cinder.roundtrip');
      const loc = { fsid, pool, image, snapshot };
      assert.deepEqual(parseRbdSnapshotLocation(formatRbdSnapshotLocation(loc)), loc);
    }),
    params,
  );

  // Both unquotes never throw, and agree.
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), piece), (s) => {
      count('unquote');
      assert.equal(glanceUnquote(s), cinderUnquote(s));
    }),
    params,
  );

  // existingRef (manage_existing): ManageExistingInvalidReference unless
  // it is an object with a non-empty string 'source-name'; a valid one gets
  // as far as connecting (which fails here: no such conf file).
  const driver = await RbdVolumeDriver.open({ confFile: '/nonexistent/ceph-rbd-fuzz.conf', connectionRetries: 1, connectionIntervalMs: 0, connectTimeoutMs: 1000 });
  try {
    const ref = fc.oneof(
      fc.anything(),
      fc.record({ 'source-name': fc.oneof(piece, fc.anything()) }),
      fc.record({ 'source-name': piece, 'source-id': fc.anything() }),
      fc.dictionary(fc.constantFrom('source-name', 'source_name', 'sourceName', 'name', '__proto__'), fc.anything()),
    );
    await fc.assert(
      fc.asyncProperty(ref, fc.boolean(), async (r, getSize) => {
        count('cinder.existingRef');
        const valid = r !== null && typeof r === 'object' && typeof (r as Record<string, unknown>)['source-name'] === 'string' && (r as Record<string, string>)['source-name'] !== '';
        const vol = { id: 'fuzz', size: 1 };
        const call = getSize ? driver.manageExistingGetSize(vol, r as never) : driver.manageExisting(vol, r as never);
        const err = await call.then(
          () => null,
          (e: unknown) => e,
        );
        assert.equal(contractViolation(err), null, String(err));
        if (valid) assert.ok(err instanceof VolumeBackendAPIException, `valid ref ${JSON.stringify(r)}: ${String(err)}`);
        else assert.ok(err instanceof ManageExistingInvalidReference, `invalid ref: ${String(err)}`);
      }),
      params,
    );
  } finally {
    await driver.close();
  }

  // Volume and snapshot objects, image locations, pagination: argument errors or results.
  const volumeLike = fc.oneof(
    fc.anything(),
    fc.record(
      { id: fc.oneof(piece, fc.anything()), name: fc.oneof(piece, fc.anything()), size: fc.oneof(fc.integer(), fc.double(), fc.bigInt(), fc.anything()), encrypted: fc.anything() },
      { requiredKeys: [] },
    ),
  );
  fc.assert(
    fc.property(volumeLike, (v) => {
      count('cinder.volumeObjects');
      expectOnly(() => checkVolume(v as never), [TypeError, RangeError]);
      expectOnly(() => checkSnapshot(v as never), [TypeError, RangeError]);
    }),
    params,
  );
  const imageLocation = fc.oneof(
    fc.anything(),
    fc.tuple(fc.oneof(locationString, fc.anything()), fc.oneof(fc.array(fc.record({ url: fc.oneof(locationString, fc.anything()) })), fc.anything())),
    fc.record({ directUrl: fc.oneof(locationString, fc.anything()), locations: fc.oneof(fc.array(fc.oneof(fc.record({ url: locationString }), fc.anything())), fc.anything()) }, { requiredKeys: [] }),
  );
  fc.assert(
    fc.property(imageLocation, (loc) => {
      count('cinder.imageLocation');
      const out = expectOnly(() => candidateLocations(loc as never), [TypeError]);
      if (!(out instanceof Error)) assert.ok(Array.isArray(out) && out.every((u) => typeof u === 'string'));
    }),
    params,
  );
  const entries = [{ reference: { 'source-name': 'a' }, size: 1 }, { reference: { 'source-name': 'b' }, size: 2 }];
  fc.assert(
    fc.property(fc.oneof(fc.anything(), fc.json(), fc.constant(JSON.stringify({ 'source-name': 'a' }))), fc.option(fc.integer({ min: -5, max: 5 })), fc.option(fc.integer({ min: -5, max: 5 })), (marker, limit, offset) => {
      count('cinder.paginate');
      expectOnly(() => paginateEntries(entries, marker, limit, offset, ['size'], ['asc']), [InvalidInput, TypeError, RangeError]);
    }),
    params,
  );
  return counts;
}

/** parserProperties with `runs` inputs per property, recorded as a row of the figures table. */
export async function parserPropertiesRecorded(runs: number, suite: 'short' | 'long'): Promise<void> {
  const t0 = Date.now();
  const counts = await parserProperties(runs);
  recordFigure({
    suite,
    test: 'parser properties',
    tried: Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', '),
    held: 'only the documented error classes; round trips exact; Glance and Cinder parsers agree',
    figures: { seconds: seconds(Date.now() - t0) },
  });
}
