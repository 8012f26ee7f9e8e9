import { strict as assert } from 'node:assert';

import type { FastifyRequest } from 'fastify';

import { callerOf, microversionOf } from '../../lib/serve/context';
import { ApiError, errorBody } from '../../lib/serve/errors';
import { pageOf } from '../../lib/serve/volume-api/context';

const req = (headers: Record<string, string>): FastifyRequest => ({ headers }) as unknown as FastifyRequest;

function apiError(fn: () => unknown, status: number, message: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ApiError && err.status === status && message.test(err.message));
}

describe('serve: request context (no cluster)', () => {
  it('takes user and project from the noauth token, percent-encoded or not', () => {
    assert.deepEqual(callerOf(req({ 'x-auth-token': 'alice:demo' })), { userId: 'alice', projectId: 'demo', isAdmin: false });
    assert.deepEqual(callerOf(req({ 'x-auth-token': 'alice%3Ademo' })), { userId: 'alice', projectId: 'demo', isAdmin: false });
    assert.deepEqual(callerOf(req({ 'x-auth-token': 'solo' })), { userId: 'solo', projectId: 'solo', isAdmin: false });
    assert.equal(callerOf(req({ 'x-auth-token': 'admin:x' })).isAdmin, true);
    assert.deepEqual(callerOf(req({}), 'demo'), { userId: 'demo', projectId: 'demo', isAdmin: false });
  });

  it('refuses another project in the URL, malformed ids and no credentials', () => {
    apiError(() => callerOf(req({ 'x-auth-token': 'alice:demo' }), 'other'), 403, /not the caller's project/);
    apiError(() => callerOf(req({ 'x-auth-token': 'alice:../etc' })), 400, /Malformed/);
    apiError(() => callerOf(req({ 'x-auth-token': '%E0%A4%A' })), 400, /Malformed X-Auth-Token/);
    apiError(() => callerOf(req({})), 401, /No credentials/);
  });

  it('parses microversions: default 3.0, latest 3.70, 406 outside, 400 malformed', () => {
    assert.deepEqual(microversionOf(req({})), { major: 3, minor: 0 });
    assert.deepEqual(microversionOf(req({ 'openstack-api-version': 'volume latest' })), { major: 3, minor: 70 });
    assert.deepEqual(microversionOf(req({ 'openstack-api-version': 'volume 3.40' })), { major: 3, minor: 40 });
    assert.deepEqual(microversionOf(req({ 'x-openstack-volume-api-version': '3.27' })), { major: 3, minor: 27 });
    apiError(() => microversionOf(req({ 'openstack-api-version': 'volume 3.71' })), 406, /3\.71 is not supported.*maximum is 3\.70/);
    apiError(() => microversionOf(req({ 'openstack-api-version': 'volume 2.9' })), 406, /Minimum is 3\.0/);
    apiError(() => microversionOf(req({ 'openstack-api-version': 'volume 3.x' })), 400, /invalid format/);
  });

  it('parses list pages and answers errors in the OpenStack shape', () => {
    assert.deepEqual(pageOf({ limit: '5', marker: 'm', sort: 'display_name:asc', name: 'x' }), {
      limit: 5,
      marker: 'm',
      sort: [
        { key: 'name', dir: 'asc' },
        { key: 'id', dir: 'desc' },
      ],
      filters: { name: 'x' },
    });
    assert.equal(pageOf({ limit: '5000' }).limit, 1000);
    apiError(() => pageOf({ limit: '-1' }), 400, /limit/);
    apiError(() => pageOf({ sort: 'password:asc' }), 400, /sort key/);
    assert.deepEqual(errorBody('cinder', 413, 'too many'), { overLimit: { code: 413, message: 'too many' } });
    assert.deepEqual(errorBody('glance', 404, 'gone'), { itemNotFound: { code: 404, title: 'Not Found', message: 'gone' } });
  });
});
