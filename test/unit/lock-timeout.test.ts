import { strict as assert } from 'node:assert';

import { RbdError, ReadOnlyImage, TimedOut } from '../../lib';
import { cephError, lockLostToTimeout } from '../../lib/internal/ceph-error';

describe('lockLostToTimeout (createSnap with the OSDs stopped)', () => {
  const erofs = () => cephError(ReadOnlyImage, 'Image.createSnap', 30, 'Read-only file system', { family: 'rbd', pool: 'rbd', image: 'img', snapshot: 's' });

  it('EROFS on a writable image after the op timeout is TimedOut with the cause kept', () => {
    const cause = erofs();
    const e = lockLostToTimeout(cause, false, 5000, 5000) as TimedOut & { cause: unknown };
    assert.ok(e instanceof TimedOut);
    assert.equal(e.code, 'ETIMEDOUT');
    assert.equal(e.errno, -110);
    assert.equal(e.op, 'Image.createSnap');
    assert.equal(e.image, 'img');
    assert.equal(e.cause, cause);
  });

  it('EBADMSG from librbd on a writable image after the op timeout is TimedOut too (what Pacific answers)', () => {
    const cause = cephError(RbdError, 'Image.createSnap', 74, 'Bad message', { family: 'rbd', pool: 'rbd', image: 'img', snapshot: 's' });
    const e = lockLostToTimeout(cause, false, 2000, 4000) as TimedOut & { cause: unknown };
    assert.ok(e instanceof TimedOut);
    assert.equal(e.cause, cause);
    const rados = cephError(RbdError, 'IoCtx.read', 74, 'Bad message', { family: 'rados' });
    assert.equal(lockLostToTimeout(rados, false, 2000, 4000), rados, 'only librbd errors');
  });

  it('leaves EROFS alone on a read-only image, before the timeout, or without a timeout; other errors too', () => {
    const cause = erofs();
    assert.equal(lockLostToTimeout(cause, true, 5000, 6000), cause);
    assert.equal(lockLostToTimeout(cause, false, 5000, 4999), cause);
    assert.equal(lockLostToTimeout(cause, false, 0, 60_000), cause);
    const other = new Error('x');
    assert.equal(lockLostToTimeout(other, false, 5000, 6000), other);
    assert.equal(lockLostToTimeout(null, false, 5000, 6000), null);
  });
});
