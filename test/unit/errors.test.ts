import { strict as assert } from 'node:assert';

import {
  CephError,
  CompareMismatch,
  ConnectionError,
  ConnectionShutdown,
  InProgress,
  Interrupted,
  IsConnected,
  NotConnected,
  OutOfRange,
  HandleClosedError,
  ImageBusy,
  ImageExists,
  ImageHasSnapshots,
  ImageNotFound,
  InvalidArgument,
  NoSpace,
  ObjectNotFound,
  PermissionDenied,
  RadosError,
  RbdError,
  TimedOut,
  toTypedError,
} from '../../lib/errors';

function raw(code: string, errno: number, family: 'rados' | 'rbd', op = 'Image.open'): Error {
  return Object.assign(new Error(`${op}: x (pool=p, image=i)`), { code, errno, family, op, pool: 'p', image: 'i' });
}

describe('errno to error class', () => {
  const cases: Array<[string, number, 'rados' | 'rbd', Function]> = [
    ['ENOENT', -2, 'rbd', ImageNotFound],
    ['ENOENT', -2, 'rados', ObjectNotFound],
    ['EEXIST', -17, 'rbd', ImageExists],
    ['EBUSY', -16, 'rbd', ImageBusy],
    ['ENOTEMPTY', -39, 'rbd', ImageHasSnapshots],
    ['EINVAL', -22, 'rbd', InvalidArgument],
    ['EPERM', -1, 'rados', PermissionDenied],
    ['EACCES', -13, 'rbd', PermissionDenied],
    ['ENOSPC', -28, 'rbd', NoSpace],
    ['ETIMEDOUT', -110, 'rados', TimedOut],
    ['ESHUTDOWN', -108, 'rados', ConnectionShutdown],
    ['ENOTCONN', -107, 'rbd', NotConnected],
    ['EINTR', -4, 'rados', Interrupted],
    ['EINPROGRESS', -115, 'rados', InProgress],
    ['EISCONN', -106, 'rados', IsConnected],
    ['EILSEQ', -84, 'rados', CompareMismatch],
    ['ERANGE', -34, 'rados', OutOfRange],
  ];
  for (const [code, errno, family, Class] of cases) {
    it(`${family} ${code} -> ${Class.name}`, () => {
      const e = toTypedError(raw(code, errno, family));
      assert.ok(e instanceof Class);
      assert.ok(e instanceof CephError);
      assert.ok(e instanceof RadosError);
      assert.equal((e as CephError).code, code);
      assert.equal((e as CephError).errno, errno);
      assert.equal((e as CephError).op, 'Image.open');
      assert.equal((e as CephError).pool, 'p');
      assert.equal(e.name, Class.name);
      assert.equal(e instanceof RbdError, family === 'rbd');
    });
  }

  it('maps every connect failure but a refused key to ConnectionError', () => {
    assert.ok(toTypedError(raw('ETIMEDOUT', -110, 'rados', 'Rados.connect')) instanceof ConnectionError);
    assert.ok(toTypedError(raw('ENOENT', -2, 'rados', 'Rados.connect')) instanceof ConnectionError);
    assert.ok(toTypedError(raw('EACCES', -13, 'rados', 'Rados.connect')) instanceof PermissionDenied);
  });

  it('tells ENOTCONN and ESHUTDOWN apart, both still ConnectionErrors', () => {
    const notConn = toTypedError(raw('ENOTCONN', -107, 'rados', 'Watch.check'));
    const shut = toTypedError(raw('ESHUTDOWN', -108, 'rados', 'IoCtx.read'));
    assert.ok(notConn instanceof NotConnected && !(notConn instanceof ConnectionShutdown));
    assert.ok(shut instanceof ConnectionShutdown && !(shut instanceof NotConnected));
    assert.ok(notConn instanceof ConnectionError && shut instanceof ConnectionError);
  });

  it('keeps unknown errnos as the family base class', () => {
    const e = toTypedError(raw('EXDEV', -18, 'rbd'));
    assert.equal(e.constructor, RbdError);
  });

  it('turns closed-handle errors into HandleClosedError', () => {
    const e = toTypedError(Object.assign(new Error('Image.read: the image is closed'), { code: 'ERR_CEPH_CLOSED', op: 'Image.read' }));
    assert.ok(e instanceof HandleClosedError);
    assert.equal((e as HandleClosedError).code, 'ERR_CEPH_CLOSED');
  });
});
