import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';

import {
  AbortError,
  Features,
  Image,
  ImageBusy,
  ImageExists,
  ImageNotFound,
  InvalidArgument,
  IoCtx,
  Rados,
  Rbd,
  SnapNamespaceType,
} from '../../lib';
import { cephError, uniqueName, withPool } from '../helpers/cluster';

const MiB = 1024 * 1024;

/** The AbortError of lib/errors.ts, Node-compatible. */
function abortError(e: unknown): true {
  assert.ok(e instanceof AbortError, `expected AbortError, got ${String(e)}`);
  assert.equal(e.name, 'AbortError');
  assert.equal(e.code, 'ABORT_ERR');
  return true;
}

describe('clones, flatten, copy and deep copy (real cluster)', function () {
  this.timeout(120_000);
  let cluster: Rados;
  let ioctx: IoCtx;
  withPool('rbd', (c, io) => {
    cluster = c;
    ioctx = io;
  });

  /** Removes an image and its snapshots (unprotecting them), if it exists. */
  async function destroy(name: string): Promise<void> {
    let image: Image;
    try {
      image = await Image.open(ioctx, name);
    } catch (e) {
      if (e instanceof ImageNotFound) return;
      throw e;
    }
    try {
      for (const snap of await image.listSnaps()) {
        if (snap.namespaceType !== SnapNamespaceType.USER) continue;
        if (snap.protected) await image.unprotectSnap(snap.name);
        await image.removeSnap(snap.name);
      }
    } finally {
      await image.close();
    }
    await Rbd.remove(ioctx, name);
  }

  /** A parent image of `size` bytes (1 MiB objects) filled with `data`, with a protected snapshot. */
  async function parentWithSnap(size: number, data: Buffer, snap = 'base', protect = true): Promise<string> {
    const name = uniqueName('parent');
    await Rbd.create(ioctx, name, size, { order: 20 });
    const image = await Image.open(ioctx, name);
    try {
      await image.write(data, 0);
      await image.createSnap(snap);
      if (protect) await image.protectSnap(snap);
    } finally {
      await image.close();
    }
    return name;
  }

  it('protect → clone → parentInfo → listChildren → overlap → copy-on-write → flatten → unprotect', async () => {
    const size = 8 * MiB;
    const data = randomBytes(size);
    const parentName = await parentWithSnap(size, data);
    const childName = uniqueName('child');
    const parent = await Image.open(ioctx, parentName);
    try {
      assert.equal(await parent.isProtectedSnap('base'), true);
      await Rbd.clone(ioctx, parentName, 'base', ioctx, childName);

      const child = await Image.open(ioctx, childName);
      try {
        const snapId = (await parent.listSnaps()).find((s) => s.name === 'base')?.id;
        assert.deepEqual(await child.parentInfo(), {
          pool: 'rbd',
          namespace: '',
          image: parentName,
          id: await parent.id(),
          snapshot: 'base',
          snapshotId: snapId,
          trash: false,
        });

        // The children of the snapshot: with the handle set to it, and opened at it.
        const expected = [{ pool: 'rbd', namespace: '', image: childName, id: await child.id(), trash: false }];
        await parent.setSnap('base');
        assert.deepEqual(await parent.listChildren(), expected);
        await parent.setSnap(null);
        const atSnap = await Image.open(ioctx, parentName, { snapshot: 'base', readOnly: true });
        try {
          assert.equal(atSnap.snapshot, 'base');
          assert.deepEqual(await atSnap.listChildren(), expected);
        } finally {
          await atSnap.close();
        }

        assert.equal(await child.overlap(), size);

        // Copy-on-write: the child reads the parent's data; writing it leaves the parent alone.
        assert.ok((await child.read(0, size)).equals(data));
        const patch = randomBytes(MiB + 4096);
        await child.write(patch, 3 * MiB);
        await child.flush();
        assert.ok((await child.read(3 * MiB, patch.length)).equals(patch));
        assert.ok((await parent.read(0, size)).equals(data), 'parent head unchanged');
        await parent.setSnap('base');
        assert.ok((await parent.read(0, size)).equals(data), 'parent snapshot unchanged');
        await parent.setSnap(null);

        // A snapshot with clones can be neither unprotected nor removed.
        await assert.rejects(parent.unprotectSnap('base'), cephError(ImageBusy, 'EBUSY', -16, 'Image.unprotectSnap', { image: parentName, snapshot: 'base' }));
        await assert.rejects(parent.removeSnap('base'), cephError(ImageBusy, 'EBUSY', -16, 'Image.removeSnap', { image: parentName, snapshot: 'base' }));

        // Flatten, with progress.
        const progress: Array<[number, number]> = [];
        await child.flatten({ onProgress: (done, total) => progress.push([done, total]) });
        assert.ok(progress.length >= 1, 'onProgress was called');
        for (const [done, total] of progress) assert.ok(done <= total && total > 0, `progress ${done}/${total}`);

        await assert.rejects(child.parentInfo(), cephError(ImageNotFound, 'ENOENT', -2, 'Image.parentInfo', { image: childName }));
        assert.equal(await child.overlap(), 0);
        const expectedChild = Buffer.from(data);
        patch.copy(expectedChild, 3 * MiB);
        assert.ok((await child.read(0, size)).equals(expectedChild), 'flattened child keeps its data');
      } finally {
        await child.close();
      }

      await parent.setSnap('base');
      assert.deepEqual(await parent.listChildren(), []);
      await parent.setSnap(null);
      await parent.unprotectSnap('base');
      assert.equal(await parent.isProtectedSnap('base'), false);
    } finally {
      await parent.close();
      await destroy(childName);
      await destroy(parentName);
    }
  });

  it('a clone without features gets the pool default (rbd_default_features), not the parent’s', async () => {
    const parentName = uniqueName('parent');
    await Rbd.create(ioctx, parentName, 4 * MiB, { order: 20, features: Features.LAYERING });
    const parent = await Image.open(ioctx, parentName);
    await parent.createSnap('base');
    await parent.protectSnap('base');
    const byDefault = uniqueName('child');
    const explicit = uniqueName('child');
    try {
      await Rbd.clone(ioctx, parentName, 'base', ioctx, byDefault);
      await Rbd.clone(ioctx, parentName, 'base', ioctx, explicit, { features: Features.LAYERING | Features.EXCLUSIVE_LOCK });
      const defaults = Number(cluster.confGet('rbd_default_features'));
      assert.ok(defaults > 0);
      // OPERATIONS is implicit (set by clone v2): compare the rest.
      const features = async (name: string): Promise<number> => {
        const image = await Image.open(ioctx, name);
        try {
          return (await image.features()) & ~Features.OPERATIONS;
        } finally {
          await image.close();
        }
      };
      assert.equal(await features(byDefault), defaults);
      assert.equal(await features(explicit), Features.LAYERING | Features.EXCLUSIVE_LOCK);
    } finally {
      await parent.close();
      await destroy(byDefault);
      await destroy(explicit);
      await destroy(parentName);
    }
  });

  it('clone v2 needs no protected snapshot; removing its parent snapshot moves it to the snapshot trash', async () => {
    const data = randomBytes(2 * MiB);
    const parentName = await parentWithSnap(2 * MiB, data, 'base', false);
    const childName = uniqueName('child');
    const parent = await Image.open(ioctx, parentName);
    try {
      await Rbd.clone(ioctx, parentName, 'base', ioctx, childName, { cloneFormat: 2 });
      const child = await Image.open(ioctx, childName);
      try {
        assert.ok(((await child.features()) & Features.OPERATIONS) !== 0, 'clone v2 sets the operations feature');
        assert.ok((await child.read(0, data.length)).equals(data));
      } finally {
        await child.close();
      }
      await parent.removeSnap('base');
      const snaps = await parent.listSnaps();
      assert.equal(snaps.length, 1);
      assert.equal(snaps[0].namespaceType, SnapNamespaceType.TRASH);
      await Rbd.remove(ioctx, childName);
      assert.deepEqual(await parent.listSnaps(), [], 'the trashed snapshot goes with its last child');
    } finally {
      await parent.close();
      await destroy(childName);
      await destroy(parentName);
    }
  });

  describe('documented failures', () => {
    it('flattening an image that is not a clone is InvalidArgument (EINVAL)', async () => {
      const name = uniqueName();
      await Rbd.create(ioctx, name, MiB);
      const image = await Image.open(ioctx, name);
      try {
        await assert.rejects(image.flatten(), cephError(InvalidArgument, 'EINVAL', -22, 'Image.flatten', { image: name }));
      } finally {
        await image.close();
        await destroy(name);
      }
    });

    it('parentInfo of an image that is not a clone is ImageNotFound (ENOENT), overlap is 0', async () => {
      const name = uniqueName();
      await Rbd.create(ioctx, name, MiB);
      const image = await Image.open(ioctx, name);
      try {
        await assert.rejects(image.parentInfo(), cephError(ImageNotFound, 'ENOENT', -2, 'Image.parentInfo', { image: name }));
        assert.equal(await image.overlap(), 0);
      } finally {
        await image.close();
        await destroy(name);
      }
    });

    it('cloning (format 1) from an unprotected snapshot is InvalidArgument (EINVAL) and creates nothing', async () => {
      const parentName = await parentWithSnap(MiB, randomBytes(MiB), 'base', false);
      const childName = uniqueName('child');
      try {
        await assert.rejects(
          Rbd.clone(ioctx, parentName, 'base', ioctx, childName, { cloneFormat: 1 }),
          cephError(InvalidArgument, 'EINVAL', -22, 'Rbd.clone', { image: parentName, snapshot: 'base' }),
        );
        assert.ok(!(await Rbd.list(ioctx)).includes(childName));
      } finally {
        await destroy(childName);
        await destroy(parentName);
      }
    });

    it('cloning onto an existing name is ImageExists (EEXIST); from a missing snapshot ImageNotFound (ENOENT)', async () => {
      const parentName = await parentWithSnap(MiB, randomBytes(MiB));
      const taken = uniqueName('taken');
      await Rbd.create(ioctx, taken, MiB);
      try {
        await assert.rejects(Rbd.clone(ioctx, parentName, 'base', ioctx, taken), cephError(ImageExists, 'EEXIST', -17, 'Rbd.clone'));
        const missing = uniqueName('child');
        await assert.rejects(
          Rbd.clone(ioctx, parentName, 'nosuchsnap', ioctx, missing),
          cephError(ImageNotFound, 'ENOENT', -2, 'Rbd.clone', { image: parentName, snapshot: 'nosuchsnap' }),
        );
        assert.ok(!(await Rbd.list(ioctx)).includes(missing));
      } finally {
        await destroy(taken);
        await destroy(parentName);
      }
    });

    it('removing a protected snapshot (no clones) is ImageBusy (EBUSY)', async () => {
      const name = await parentWithSnap(MiB, randomBytes(MiB));
      const image = await Image.open(ioctx, name);
      try {
        await assert.rejects(image.removeSnap('base'), cephError(ImageBusy, 'EBUSY', -16, 'Image.removeSnap', { image: name, snapshot: 'base' }));
        assert.equal(await image.snapExists('base'), true);
        await assert.rejects(image.unprotectSnap('nosuchsnap'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.unprotectSnap'));
      } finally {
        await image.close();
        await destroy(name);
      }
    });

    it('removing an image that another handle has open (a watcher) is ImageBusy (EBUSY)', async () => {
      const name = uniqueName();
      await Rbd.create(ioctx, name, MiB);
      const watcher = await Image.open(ioctx, name);
      try {
        await assert.rejects(Rbd.remove(ioctx, name), cephError(ImageBusy, 'EBUSY', -16, 'Rbd.remove', { image: name }));
        assert.ok((await Rbd.list(ioctx)).includes(name), 'the image is still there');
      } finally {
        await watcher.close();
      }
      await Rbd.remove(ioctx, name);
    });
  });

  it('copy (with progress) makes an equal image', async () => {
    const size = 6 * MiB + 12345;
    const srcName = uniqueName('src');
    const destName = uniqueName('copy');
    await Rbd.create(ioctx, srcName, size, { order: 20 });
    const src = await Image.open(ioctx, srcName);
    try {
      const data = randomBytes(size);
      await src.write(data, 0);
      await src.createSnap('s1');
      let calls = 0;
      await src.copy(ioctx, destName, { onProgress: () => calls++ });
      assert.ok(calls >= 1, 'onProgress was called');
      const dest = await Image.open(ioctx, destName);
      try {
        assert.equal(await dest.size(), size);
        assert.ok((await dest.read(0, size)).equals(data));
        assert.deepEqual(await dest.listSnaps(), [], 'copy does not take snapshots along');
        assert.equal((await dest.stat()).order, 20);
      } finally {
        await dest.close();
      }
      // Options apply to the new image.
      const small = uniqueName('copy');
      try {
        await src.copy(ioctx, small, { order: 22 });
        const dest2 = await Image.open(ioctx, small);
        try {
          assert.equal((await dest2.stat()).order, 22);
          assert.ok((await dest2.read(0, size)).equals(data));
        } finally {
          await dest2.close();
        }
      } finally {
        await destroy(small);
      }
    } finally {
      await src.close();
      await destroy(destName);
      await destroy(srcName);
    }
  });

  it('deepCopy preserves snapshots and their data', async () => {
    const size = 4 * MiB;
    const srcName = uniqueName('src');
    const destName = uniqueName('deep');
    await Rbd.create(ioctx, srcName, size, { order: 20 });
    const src = await Image.open(ioctx, srcName);
    try {
      const v1 = randomBytes(size);
      const v2 = randomBytes(MiB);
      await src.write(v1, 0);
      await src.createSnap('s1');
      await src.write(v2, MiB);
      await src.createSnap('s2');
      const head = Buffer.from(v1);
      v2.copy(head, MiB);
      let calls = 0;
      await src.deepCopy(ioctx, destName, { onProgress: () => calls++ });
      assert.ok(calls >= 1, 'onProgress was called');
      const dest = await Image.open(ioctx, destName);
      try {
        assert.deepEqual(
          (await dest.listSnaps()).map((s) => s.name),
          ['s1', 's2'],
        );
        assert.ok((await dest.read(0, size)).equals(head));
        await dest.setSnap('s1');
        assert.ok((await dest.read(0, size)).equals(v1), 'snapshot s1 has its own data');
        await dest.setSnap('s2');
        assert.ok((await dest.read(0, size)).equals(head));
      } finally {
        await dest.close();
      }
    } finally {
      await src.close();
      await destroy(destName);
      await destroy(srcName);
    }
  });

  describe('AbortSignal', () => {
    const size = 64 * MiB; // 64 objects of 1 MiB
    let data: Buffer;
    let parentName: string;
    before(async () => {
      data = randomBytes(size);
      parentName = await parentWithSnap(size, data);
    });
    after(async () => {
      if (parentName) await destroy(parentName);
    });

    it('aborting a flatten from onProgress rejects with AbortError; the image stays a clone', async () => {
      const childName = uniqueName('child');
      await Rbd.clone(ioctx, parentName, 'base', ioctx, childName);
      const child = await Image.open(ioctx, childName);
      try {
        const controller = new AbortController();
        let calls = 0;
        await assert.rejects(
          child.flatten({
            signal: controller.signal,
            onProgress: () => {
              calls++;
              controller.abort();
            },
          }),
          abortError,
        );
        assert.ok(calls >= 1);
        assert.equal((await child.parentInfo()).image, parentName, 'still a clone');
        assert.ok((await child.read(0, MiB)).equals(data.subarray(0, MiB)));
      } finally {
        await child.close();
        await destroy(childName);
      }
    });

    it('aborting a copy from onProgress rejects with AbortError (the destination is left to remove)', async () => {
      const src = await Image.open(ioctx, parentName);
      const destName = uniqueName('copy');
      try {
        const controller = new AbortController();
        await assert.rejects(
          src.copy(ioctx, destName, { signal: controller.signal, onProgress: () => controller.abort() }),
          abortError,
        );
      } finally {
        await src.close();
        await destroy(destName);
      }
    });

    it('an already aborted signal rejects at once and creates nothing', async () => {
      const src = await Image.open(ioctx, parentName);
      const destName = uniqueName('copy');
      try {
        await assert.rejects(src.deepCopy(ioctx, destName, { signal: AbortSignal.abort() }), abortError);
        assert.ok(!(await Rbd.list(ioctx)).includes(destName));
      } finally {
        await src.close();
        await destroy(destName);
      }
    });
  });

  it('copy and clone reject on a closed destination I/O context, and keep it open while they run', async () => {
    const srcName = uniqueName('src');
    await Rbd.create(ioctx, srcName, 2 * MiB, { order: 20 });
    const src = await Image.open(ioctx, srcName);
    const other = await cluster.openIoctx('rbd');
    const destName = uniqueName('copy');
    try {
      await src.write(randomBytes(2 * MiB), 0);
      await src.createSnap('base');
      // close() requested while the copy runs waits for it.
      const copying = src.copy(other, destName);
      const closing = other.close();
      assert.equal(other.state, 'closing');
      await copying;
      await closing;
      assert.equal(other.state, 'closed');
      assert.ok((await Rbd.list(ioctx)).includes(destName));
      await assert.rejects(src.copy(other, uniqueName('copy')), { name: 'HandleClosedError', code: 'ERR_CEPH_CLOSED', op: 'Image.copy' });
      await assert.rejects(Rbd.clone(ioctx, srcName, 'base', other, uniqueName('child'), { cloneFormat: 2 }), {
        name: 'HandleClosedError',
        code: 'ERR_CEPH_CLOSED',
        op: 'Rbd.clone',
      });
    } finally {
      await src.close();
      await destroy(destName);
      await destroy(srcName);
    }
  });
});
