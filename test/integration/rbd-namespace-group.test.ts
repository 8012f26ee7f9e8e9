import { strict as assert } from 'node:assert';

import {
  GroupExists,
  GroupNotFound,
  HandleClosedError,
  Image,
  ImageExists,
  ImageNotFound,
  InvalidArgument,
  IoCtx,
  NamespaceExists,
  NamespaceNotFound,
  ObjectBusy,
  Rados,
  Rbd,
  RbdGroup,
  RbdNamespace,
  SnapNamespaceType,
} from '../../lib';
import { cephError, connect, uniqueName } from '../helpers/cluster';

const MiB = 1024 * 1024;

describe('RBD namespaces (real cluster)', () => {
  let cluster: Rados;
  let ioctx: IoCtx;
  before(async () => {
    cluster = await connect();
    ioctx = await cluster.openIoctx('rbd');
  });
  after(() => cluster.shutdown());

  it('creates, lists, checks and removes namespaces; errors are NamespaceExists / NamespaceNotFound', async () => {
    const ns = uniqueName('ns');
    assert.equal(await RbdNamespace.exists(ioctx, ns), false);
    await RbdNamespace.create(ioctx, ns);
    try {
      assert.equal(await RbdNamespace.exists(ioctx, ns), true);
      assert.ok((await RbdNamespace.list(ioctx)).includes(ns));
      await assert.rejects(RbdNamespace.create(ioctx, ns), cephError(NamespaceExists, 'EEXIST', -17, 'Namespace.create'));
    } finally {
      await RbdNamespace.remove(ioctx, ns);
    }
    assert.equal(await RbdNamespace.exists(ioctx, ns), false);
    assert.ok(!(await RbdNamespace.list(ioctx)).includes(ns));
    await assert.rejects(RbdNamespace.remove(ioctx, ns), cephError(NamespaceNotFound, 'ENOENT', -2, 'Namespace.remove'));
    await assert.rejects(RbdNamespace.create(ioctx, ''), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('isolates images and objects per namespace; setNamespace switches an open IoCtx', async () => {
    const ns = uniqueName('ns');
    const name = uniqueName('nsimg');
    await RbdNamespace.create(ioctx, ns);
    const nsIo = await cluster.openIoctx('rbd');
    try {
      assert.equal(nsIo.getNamespace(), '');
      nsIo.setNamespace(ns);
      assert.equal(nsIo.getNamespace(), ns);
      assert.equal(nsIo.namespace, ns);
      await Rbd.create(nsIo, name, 4 * MiB);
      await nsIo.writeFull(`obj-${name}`, Buffer.from('inside'));
      // the default namespace sees neither the image nor the object
      assert.ok(!(await Rbd.list(ioctx)).includes(name));
      await assert.rejects(Image.open(ioctx, name), cephError(ImageNotFound, 'ENOENT', -2, 'Image.open'));
      await assert.rejects(ioctx.stat(`obj-${name}`), { code: 'ENOENT' });
      assert.deepEqual(await Rbd.list(nsIo), [name]);
      // an image opened in the namespace keeps it after the IoCtx switches back
      const img = await Image.open(nsIo, name);
      nsIo.setNamespace('');
      assert.equal((await img.read(0, 4)).length, 4);
      await img.close();
      assert.ok(!(await Rbd.list(nsIo)).includes(name));
      // a namespace holding an image cannot be removed
      await assert.rejects(RbdNamespace.remove(ioctx, ns), (e: Error & { code?: string }) => e.code === 'EBUSY' || e.code === 'ENOTEMPTY');
      nsIo.setNamespace(ns);
      await Rbd.remove(nsIo, name);
      await nsIo.remove(`obj-${name}`);
    } finally {
      await nsIo.close();
      await RbdNamespace.remove(ioctx, ns);
    }
  });

  it('setNamespace refuses while a call is in flight, and on a closed IoCtx', async () => {
    const io = await cluster.openIoctx('rbd');
    const pending = Rbd.list(io);
    assert.throws(() => io.setNamespace('x'), (e: unknown) => e instanceof ObjectBusy && (e as ObjectBusy).code === 'EBUSY' && (e as ObjectBusy).op === 'IoCtx.setNamespace');
    await pending;
    assert.throws(() => io.setNamespace(1 as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' });
    await io.close();
    assert.throws(() => io.setNamespace('x'), HandleClosedError);
  });
});

describe('RBD groups (real cluster)', () => {
  let cluster: Rados;
  let ioctx: IoCtx;
  before(async () => {
    cluster = await connect();
    ioctx = await cluster.openIoctx('rbd');
  });
  after(() => cluster.shutdown());

  it('creates, renames, lists and removes groups with typed errors', async () => {
    const g = uniqueName('grp');
    const g2 = `${g}-b`;
    await RbdGroup.create(ioctx, g);
    try {
      assert.ok((await RbdGroup.list(ioctx)).includes(g));
      await assert.rejects(RbdGroup.create(ioctx, g), cephError(GroupExists, 'EEXIST', -17, 'Group.create'));
      await RbdGroup.rename(ioctx, g, g2);
      const names = await RbdGroup.list(ioctx);
      assert.ok(names.includes(g2) && !names.includes(g));
    } finally {
      await RbdGroup.remove(ioctx, g2);
    }
    // librbd lists a missing group as empty (it only logs the ENOENT)
    assert.deepEqual(await RbdGroup.listImages(ioctx, g2), []);
    await assert.rejects(RbdGroup.createSnap(ioctx, g2, 's'), cephError(GroupNotFound, 'ENOENT', -2, 'Group.createSnap'));
    await assert.rejects(RbdGroup.rename(ioctx, g2, g), cephError(GroupNotFound, 'ENOENT', -2, 'Group.rename'));
  });

  it('a group snapshot of 3 images is consistent: markers, snapshot, overwrite, compare, rollback', async () => {
    const g = uniqueName('grp');
    const names = [0, 1, 2].map((i) => uniqueName(`gimg${i}`));
    await RbdGroup.create(ioctx, g);
    for (const n of names) await Rbd.create(ioctx, n, 8 * MiB);
    try {
      for (const n of names) await RbdGroup.addImage(ioctx, g, ioctx, n);
      // adding a member again is a no-op; adding it to another group is ImageExists
      await RbdGroup.addImage(ioctx, g, ioctx, names[0]);
      await RbdGroup.create(ioctx, `${g}-other`);
      try {
        await assert.rejects(RbdGroup.addImage(ioctx, `${g}-other`, ioctx, names[0]), cephError(ImageExists, 'EEXIST', -17, 'Group.addImage', { image: names[0] }));
      } finally {
        await RbdGroup.remove(ioctx, `${g}-other`);
      }
      const members = await RbdGroup.listImages(ioctx, g);
      assert.deepEqual(members.map((m) => m.name).sort(), [...names].sort());
      assert.ok(members.every((m) => m.state === 'attached' && m.poolId === ioctx.poolId));

      const images = await Promise.all(names.map((n) => Image.open(ioctx, n)));
      try {
        await Promise.all(images.map((img, i) => img.write(Buffer.from(`before-${i}`), 0)));
        assert.deepEqual(await images[0].getGroup(), { name: g, poolId: ioctx.poolId });
        await RbdGroup.createSnap(ioctx, g, 'gs1');
        await RbdGroup.createSnap(ioctx, g, 'gs2', { skipQuiesce: true });
        await Promise.all(images.map((img, i) => img.write(Buffer.from(`after--${i}`), 0)));
        const snaps = await RbdGroup.listSnaps(ioctx, g);
        assert.deepEqual(snaps.map((s) => s.name).sort(), ['gs1', 'gs2']);
        assert.ok(snaps.every((s) => s.state === 'complete'));
        await RbdGroup.renameSnap(ioctx, g, 'gs2', 'gs2b');
        assert.deepEqual((await RbdGroup.listSnaps(ioctx, g)).map((s) => s.name).sort(), ['gs1', 'gs2b']);
        // each image holds a group-namespace snapshot naming the group snapshot
        for (const img of images) {
          const [snap] = (await img.listSnaps()).filter((s) => s.namespaceType === SnapNamespaceType.GROUP);
          assert.ok(snap);
          assert.equal(await img.snapGetNamespaceType(snap.id), SnapNamespaceType.GROUP);
          const gns = await img.snapGetGroupNamespace(snap.id);
          assert.equal(gns.group, g);
          assert.equal(gns.poolId, ioctx.poolId);
          assert.ok(['gs1', 'gs2b'].includes(gns.groupSnapshot));
          // reading at the group snapshot shows the marker written before it
          await img.snapSetById(snap.id);
          assert.ok(img.snapshot !== null);
          assert.match((await img.read(0, 8)).toString(), /^before-\d$/);
          await img.snapSetById(null);
          assert.equal(img.snapshot, null);
          assert.match((await img.read(0, 8)).toString(), /^after--\d$/);
        }
        const userSnapId = await (async () => {
          await images[0].createSnap('user');
          return images[0].snapGetId('user');
        })();
        await assert.rejects(images[0].snapGetGroupNamespace(userSnapId), cephError(InvalidArgument, 'EINVAL', -22, 'Image.snapGetGroupNamespace'));
        await images[0].removeSnap('user');
      } finally {
        await Promise.all(images.map((img) => img.close()));
      }
      // rollback (plain call, then with progress) restores every marker
      await RbdGroup.rollbackToSnap(ioctx, g, 'gs1');
      for (const [i, n] of names.entries()) {
        const img = await Image.open(ioctx, n);
        assert.equal((await img.read(0, 8)).toString(), `before-${i}`);
        await img.write(Buffer.from('changed!'), 0);
        await img.close();
      }
      const progress: number[] = [];
      await RbdGroup.rollbackToSnap(ioctx, g, 'gs2b', { onProgress: (done) => progress.push(done) });
      assert.ok(progress.length > 0);
      const img0 = await Image.open(ioctx, names[0]);
      assert.equal((await img0.read(0, 8)).toString(), 'before-0');
      await img0.close();
      await assert.rejects(RbdGroup.rollbackToSnap(ioctx, g, 'nope'), (e: unknown) => e instanceof ImageNotFound || e instanceof GroupNotFound);

      await RbdGroup.removeSnap(ioctx, g, 'gs1');
      await RbdGroup.removeSnap(ioctx, g, 'gs2b');
      assert.deepEqual(await RbdGroup.listSnaps(ioctx, g), []);
      // remove members by name and by id
      await RbdGroup.removeImage(ioctx, g, ioctx, names[0]);
      const id1 = await (async () => {
        const img = await Image.open(ioctx, names[1]);
        const id = await img.id();
        await img.close();
        return id;
      })();
      await RbdGroup.removeImage(ioctx, g, ioctx, id1, { byId: true });
      assert.deepEqual((await RbdGroup.listImages(ioctx, g)).map((m) => m.name), [names[2]]);
      const img1 = await Image.open(ioctx, names[1]);
      assert.equal(await img1.getGroup(), null);
      await img1.close();
    } finally {
      await RbdGroup.remove(ioctx, g).catch(() => undefined);
      for (const n of names) await Rbd.remove(ioctx, n).catch(() => undefined);
    }
  });
});
