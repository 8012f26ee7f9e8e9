import { strict as assert } from 'node:assert';

import { RbdError, ReadOnlyImage, TimedOut } from '../../lib';
import { toTypedError } from '../../lib/errors';

describe('a lost exclusive lock (a writable image call with the OSDs stopped)', () => {
  /** What the addon hands toTypedError for a call on a writable image (native/common/errors.cc MakeCephError). */
  function late(op: string, code: 'EROFS' | 'EBADMSG', errno: number, lockTimeoutMs: number, elapsedMs: number, family = 'rbd'): Error {
    const where = family === 'rbd' ? ' (pool=rbd, image=img, snapshot=s)' : '';
    return toTypedError(Object.assign(new Error(`${op}: ${code === 'EROFS' ? 'Read-only file system' : 'Bad message'}${where}`), { code, errno, op, family, pool: 'rbd', image: 'img', snapshot: 's', lockTimeoutMs, elapsedMs }));
  }

  it('EROFS on a writable image after the op timeout is TimedOut with the cause kept', () => {
    const e = late('Image.createSnap', 'EROFS', -30, 5000, 5000) as TimedOut & { cause: unknown };
    assert.ok(e instanceof TimedOut);
    assert.equal(e.code, 'ETIMEDOUT');
    assert.equal(e.errno, -110);
    assert.equal(e.op, 'Image.createSnap');
    assert.equal(e.image, 'img');
    assert.equal(e.snapshot, 's');
    assert.ok(e.cause instanceof ReadOnlyImage);
    assert.equal((e.cause as ReadOnlyImage).code, 'EROFS');
    assert.equal(e.message, 'Image.createSnap: timed out after 5000 ms: librbd lost the exclusive lock (Image.createSnap: Read-only file system (pool=rbd, image=img, snapshot=s)) (pool=rbd, image=img, snapshot=s)');
  });

  it('EBADMSG from librbd on a writable image after the op timeout is TimedOut too (what Pacific answers)', () => {
    const e = late('Image.createSnap', 'EBADMSG', -74, 2000, 4000) as TimedOut & { cause: unknown };
    assert.ok(e instanceof TimedOut);
    assert.equal((e.cause as RbdError).code, 'EBADMSG');
    const rados = late('IoCtx.read', 'EBADMSG', -74, 2000, 4000, 'rados');
    assert.ok(!(rados instanceof TimedOut), 'only librbd errors');
    assert.equal((rados as RbdError).code, 'EBADMSG');
  });

  it('leaves EROFS alone before the timeout or without one, and on lockAcquire (its own answer)', () => {
    assert.ok(late('Image.createSnap', 'EROFS', -30, 5000, 4999) instanceof ReadOnlyImage);
    assert.ok(late('Image.createSnap', 'EROFS', -30, 0, 60_000) instanceof ReadOnlyImage);
    assert.ok(late('Image.lockAcquire', 'EROFS', -30, 5000, 6000) instanceof ReadOnlyImage);
  });
});

describe('toTypedError: every call on a writable image (the addon adds lockTimeoutMs and elapsedMs)', () => {
  /** The raw error the addon hands the factory (native/common/errors.cc MakeCephError). */
  function raw(op: string, code: 'EROFS' | 'EBADMSG' | 'EBUSY', extra: { lockTimeoutMs?: number; elapsedMs?: number } = {}): Error {
    const errno = { EROFS: -30, EBADMSG: -74, EBUSY: -16 }[code];
    return Object.assign(new Error(`${op}: failed (pool=rbd, image=img)`), { code, errno, op, family: 'rbd', pool: 'rbd', image: 'img', ...extra });
  }

  const ops = ['Image.resize', 'Image.removeSnap', 'Image.rollbackSnap', 'Image.protectSnap', 'Image.unprotectSnap', 'Image.flatten', 'Image.metadataSet', 'Image.metadataRemove', 'Image.updateFeatures', 'Image.sparsify', 'Image.write', 'Image.aioWrite', 'Image.createSnap'];
  for (const op of ops) {
    it(`${op}: EROFS/EBADMSG after the op timeout is TimedOut (cause kept), before it stays as it was`, () => {
      for (const code of ['EROFS', 'EBADMSG'] as const) {
        const late = toTypedError(raw(op, code, { lockTimeoutMs: 3000, elapsedMs: 3100 })) as TimedOut & { cause: unknown };
        assert.ok(late instanceof TimedOut, `${op} ${code}: ${String(late)}`);
        assert.equal(late.op, op);
        assert.equal(late.code, 'ETIMEDOUT');
        assert.equal(late.image, 'img');
        assert.equal((late.cause as RbdError).code, code);
        assert.equal(late.retryable, true);
      }
      const early = toTypedError(raw(op, 'EROFS', { lockTimeoutMs: 3000, elapsedMs: 20 }));
      assert.ok(early instanceof ReadOnlyImage);
    });
  }

  it('no timing fields (a read-only image, no op timeout, not an image call): EROFS is ReadOnlyImage; other errnos are never remapped', () => {
    assert.ok(toTypedError(raw('Image.resize', 'EROFS')) instanceof ReadOnlyImage);
    const busy = toTypedError(raw('Image.resize', 'EBUSY', { lockTimeoutMs: 3000, elapsedMs: 9000 })) as RbdError;
    assert.equal(busy.code, 'EBUSY');
    assert.ok(toTypedError(raw('Image.lockAcquire', 'EROFS', { lockTimeoutMs: 3000, elapsedMs: 9000 })) instanceof ReadOnlyImage);
  });
});
