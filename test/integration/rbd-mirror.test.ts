/**
 * RBD mirroring end to end on a mirrored pair of micro clusters started by
 * scripts/mirror-pair.sh (its own temp dirs; rx-tx peers, one rbd-mirror per
 * site): pool mode, site names, peers, journal- and snapshot-mode images
 * replicated from A to B, demote/promote, status summary and paged listings,
 * typed errors.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';

import {
  HandleClosedError,
  Image,
  InvalidArgument,
  MirrorPeerExists,
  MirrorPeerNotFound,
  type Rados,
  Rbd,
  RbdMirror,
  ReadOnlyImage,
  RBD_FEATURE_EXCLUSIVE_LOCK,
  RBD_FEATURE_JOURNALING,
  RBD_FEATURE_LAYERING,
  SnapNamespaceType,
  type IoCtx,
} from '../../lib';
import { uniqueName } from '../helpers/cluster';
import { type MirrorPair, exportMd5, localStatus, removeMirrored, startMirrorPair, waitExportMd5, waitFor, waitReplayed } from '../helpers/mirror-pair';

const POOL = 'volumes';
const FEATURES = RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK;

describe('RBD mirroring between two micro clusters (scripts/mirror-pair.sh)', function () {
  this.timeout(60_000);
  let pair: MirrorPair | undefined;
  let confA = '';
  let confB = '';
  let radosA: Rados;
  let radosB: Rados;
  let ioA: IoCtx;
  let ioB: IoCtx;
  let rbdA: IoCtx;

  before(async function () {
    this.timeout(240_000);
    pair = await startMirrorPair([POOL]);
    ({ confA, confB, radosA, radosB } = pair);
    ioA = await radosA.openIoctx(POOL);
    ioB = await radosB.openIoctx(POOL);
    rbdA = await radosA.openIoctx('rbd');
  });

  after(async function () {
    this.timeout(120_000);
    await pair?.stop();
  });

  it('pool mirror mode, site names and mirror uuids', async () => {
    assert.equal(await RbdMirror.getMode(ioA), 'image');
    assert.equal(await RbdMirror.getMode(ioB), 'image');
    assert.equal(await RbdMirror.getMode(rbdA), 'disabled');
    await RbdMirror.setMode(rbdA, 'pool');
    assert.equal(await RbdMirror.getMode(rbdA), 'pool');
    await RbdMirror.setMode(rbdA, 'disabled');
    assert.equal(await RbdMirror.getMode(rbdA), 'disabled');
    await assert.rejects(RbdMirror.getUuid(rbdA), { name: 'ObjectNotFound', code: 'ENOENT', op: 'Mirror.getUuid' });

    assert.equal(await RbdMirror.getSiteName(radosA), 'site-a');
    assert.equal(await RbdMirror.getSiteName(radosB), 'site-b');
    await RbdMirror.setSiteName(radosA, 'site-x');
    try {
      assert.equal(await RbdMirror.getSiteName(radosA), 'site-x');
    } finally {
      await RbdMirror.setSiteName(radosA, 'site-a');
    }
    assert.equal(await RbdMirror.getSiteName(radosA), 'site-a');
    assert.match(await RbdMirror.getUuid(ioA), /^[0-9a-f-]{36}$/);
  });

  it('peers are bootstrapped on both sides (rx-tx), with mon_host and key attributes', async () => {
    const [uuidA, uuidB] = [await RbdMirror.getUuid(ioA), await RbdMirror.getUuid(ioB)];
    const peersA = await RbdMirror.listPeers(ioA);
    const peersB = await RbdMirror.listPeers(ioB);
    assert.equal(peersA.length, 1);
    assert.equal(peersB.length, 1);
    assert.deepEqual([peersA[0].siteName, peersA[0].direction, peersA[0].mirrorUuid], ['site-b', 'rx-tx', uuidB]);
    assert.deepEqual([peersB[0].siteName, peersB[0].direction, peersB[0].mirrorUuid], ['site-a', 'rx-tx', uuidA]);
    const attrs = await RbdMirror.getPeerAttributes(ioB, peersB[0].uuid);
    assert.deepEqual(Object.keys(attrs).sort(), ['key', 'mon_host']);
    const monA = radosA.confGet('mon_host');
    assert.ok(monA !== null && attrs.mon_host.includes(monA.replace(/^v1:/, '')), `${attrs.mon_host} vs ${monA}`);
  });

  it('peer sites by hand: add, rename, client, direction, attributes, remove; typed errors', async function () {
    this.timeout(90_000);
    // A pool of its own: a peer once added keeps the pool busy for the
    // site's rbd-mirror for a while (mode 'disabled' then answers EBUSY).
    const pool = uniqueName('mirror-peers');
    await radosA.createPool(pool);
    const io = await radosA.openIoctx(pool);
    try {
      assert.equal(await RbdMirror.getMode(io), 'disabled');
      await assert.rejects(RbdMirror.createBootstrapToken(io), { name: 'InvalidArgument', op: 'Mirror.bootstrapCreate' });
      await RbdMirror.setMode(io, 'image');
      const token = await RbdMirror.createBootstrapToken(io);
      assert.equal(JSON.parse(Buffer.from(token, 'base64').toString()).fsid, radosA.clusterFsid);
      const uuid = await RbdMirror.addPeer(io, 'site-c', 'client.c', 'rx-only');
      await assert.rejects(RbdMirror.addPeer(io, 'site-c', 'client.c'), (e: unknown) => e instanceof MirrorPeerExists && e.code === 'EEXIST');
      await assert.rejects(RbdMirror.addPeer(io, 'site-t', 'client.t', 'tx-only'), { name: 'InvalidArgument', code: 'EINVAL', op: 'Mirror.addPeer' });
      await RbdMirror.setPeerSiteName(io, uuid, 'site-d');
      await RbdMirror.setPeerClient(io, uuid, 'client.d');
      await RbdMirror.setPeerDirection(io, uuid, 'rx-tx');
      let [peer] = await RbdMirror.listPeers(io);
      assert.deepEqual([peer.uuid, peer.siteName, peer.clientName, peer.direction], [uuid, 'site-d', 'client.d', 'rx-tx']);
      await RbdMirror.setPeerCluster(io, uuid, 'site-e');
      [peer] = await RbdMirror.listPeers(io);
      assert.equal(peer.siteName, 'site-e');
      // No attributes yet: librbd answers ENOENT, as for an unknown peer.
      await assert.rejects(RbdMirror.getPeerAttributes(io, uuid), (e: unknown) => e instanceof MirrorPeerNotFound);
      const attrs = { mon_host: '127.0.0.1:1', key: 'AQAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA==' };
      await RbdMirror.setPeerAttributes(io, uuid, attrs);
      assert.deepEqual(await RbdMirror.getPeerAttributes(io, uuid), attrs);
      await RbdMirror.removePeer(io, uuid);
      assert.deepEqual(await RbdMirror.listPeers(io), []);
      const notFound = (op: string) => (e: unknown) => e instanceof MirrorPeerNotFound && e.code === 'ENOENT' && e.op === op && e.object === uuid;
      await assert.rejects(RbdMirror.setPeerSiteName(io, uuid, 'x'), notFound('Mirror.setPeerSiteName'));
      await assert.rejects(RbdMirror.setPeerClient(io, uuid, 'client.x'), notFound('Mirror.setPeerClient'));
      await assert.rejects(RbdMirror.getPeerAttributes(io, uuid), notFound('Mirror.getPeerAttributes'));
    } finally {
      await io.close();
      await radosA.deletePool(pool);
    }
  });

  it('journal mode: A -> B replay (16 MiB, md5 of rbd export equal), demote A + promote B, writes on B reach A', async function () {
    this.timeout(150_000);
    const name = uniqueName('mirror-journal');
    await Rbd.create(ioA, name, 16 << 20, { features: FEATURES });
    try {
      const a = await Image.open(ioA, name);
      try {
        await a.mirrorEnable('journal');
        assert.equal(await a.mirrorGetMode(), 'journal');
        const info = await a.mirrorGetInfo();
        assert.deepEqual([info.state, info.primary], ['enabled', true]);
        assert.match(info.globalId, /^[0-9a-f-]{36}$/);
        assert.ok((Number(await a.features()) & RBD_FEATURE_JOURNALING) !== 0, 'journal mode turns journaling on');
        await assert.rejects(a.mirrorPromote(), { name: 'InvalidArgument', code: 'EINVAL', op: 'Image.mirrorPromote', image: name });
        await assert.rejects(a.mirrorCreateSnapshot(), { name: 'InvalidArgument', op: 'Image.mirrorCreateSnapshot' });

        await waitFor(`${name} up+replaying on B`, 60_000, async () => {
          const s = await localStatus(ioB, name);
          return s?.up && s.state === 'replaying' ? s : undefined;
        });
        const data = randomBytes(16 << 20);
        for (let off = 0; off < data.length; off += 8 << 20) await a.write(data.subarray(off, off + (8 << 20)), off);
        await a.flush();
        await waitReplayed(ioB, name, 90_000);
        const want = createHash('md5').update(data).digest('hex');
        assert.equal(await exportMd5(confA, POOL, name), want);
        await waitExportMd5(confB, POOL, name, want, 60_000);

        // A sees B's status of its image too (the peer's mirror uuid).
        const uuidB = await RbdMirror.getUuid(ioB);
        const remote = (await a.mirrorGetGlobalStatus()).siteStatuses.find((s) => s.mirrorUuid === uuidB);
        assert.equal(remote?.state, 'replaying');

        const b = await Image.open(ioB, name);
        try {
          assert.equal((await b.mirrorGetInfo()).primary, false);
          const instance = await b.mirrorGetInstanceId();
          assert.match(instance, /^\d+$/);
          const listed = [];
          for await (const e of RbdMirror.instanceIds(ioB, { pageSize: 1 })) listed.push(e);
          const bId = await b.id();
          assert.ok(listed.some((e) => e.id === bId && e.instanceId === instance), JSON.stringify(listed));
          assert.equal((await RbdMirror.listInstanceIds(ioB, { max: 1 })).length, 1);
          await assert.rejects(b.write(Buffer.alloc(512, 1), 0), (e: unknown) => e instanceof ReadOnlyImage);
          await assert.rejects(b.mirrorPromote(), { name: 'ImageBusy', code: 'EBUSY' }); // A is still primary
          await a.mirrorDemote();
          assert.equal((await a.mirrorGetInfo()).primary, false);
          // B's daemon must replay the demotion before an orderly promote.
          await waitFor('promote on B', 30_000, async () => {
            await b.mirrorPromote();
            return true;
          });
          assert.equal((await b.mirrorGetInfo()).primary, true);
          const patch = randomBytes(1 << 20);
          await b.write(patch, 0);
          await b.flush();
          await waitReplayed(ioA, name, 60_000);
          await waitExportMd5(confA, POOL, name, await exportMd5(confB, POOL, name), 60_000);
          // A read-write open of a non-primary journaling copy reads EROFS (librbd
          // wants the exclusive lock, which only the primary grants): read-only.
          const fresh = await Image.open(ioA, name, { readOnly: true });
          const back = await fresh.read(0, patch.length).finally(() => fresh.close());
          assert.ok(back.equals(patch), 'the write on B reached A');
          await assert.rejects(a.write(Buffer.alloc(512), 0), (e: unknown) => e instanceof ReadOnlyImage);
          await b.mirrorDisable();
        } finally {
          await b.close();
        }
      } finally {
        await a.close();
      }
    } finally {
      await removeMirrored(ioB, name);
      await removeMirrored(ioA, name);
    }
  });

  it('snapshot mode: a mirror snapshot is copied to B', async function () {
    this.timeout(120_000);
    const name = uniqueName('mirror-snap');
    await Rbd.create(ioA, name, 8 << 20, { features: FEATURES });
    try {
      const a = await Image.open(ioA, name);
      try {
        await a.mirrorEnable('snapshot');
        assert.equal(await a.mirrorGetMode(), 'snapshot');
        assert.equal((Number(await a.features()) & RBD_FEATURE_JOURNALING), 0);
        const data = randomBytes(8 << 20);
        await a.write(data, 0);
        await a.flush();
        const id = await a.mirrorCreateSnapshot({ skipQuiesce: true });
        assert.equal(await a.snapGetNamespaceType(id), SnapNamespaceType.MIRROR);
        const ns = await a.snapGetMirrorNamespace(id);
        assert.equal(ns.state, 'primary');
        await waitReplayed(ioB, name, 90_000);
        const b = await Image.open(ioB, name);
        try {
          assert.equal(await b.mirrorGetMode(), 'snapshot');
          assert.equal((await b.mirrorGetInfo()).primary, false);
          const copied = (await b.listSnaps()).filter((s) => s.namespaceType === SnapNamespaceType.MIRROR);
          assert.ok(copied.length >= 1);
          const last = await b.snapGetMirrorNamespace(copied[copied.length - 1].id);
          assert.deepEqual([last.state, last.complete, last.primarySnapId], ['non-primary', true, id]);
        } finally {
          await b.close();
        }
        await waitExportMd5(confB, POOL, name, createHash('md5').update(data).digest('hex'), 60_000);
        await a.mirrorDisable();
      } finally {
        await a.close();
      }
    } finally {
      await removeMirrored(ioA, name);
      await removeMirrored(ioB, name);
    }
  });

  it('status summary and paged listings of statuses, infos and instance ids', async function () {
    this.timeout(90_000);
    const names = [uniqueName('mirror-page'), uniqueName('mirror-page'), uniqueName('mirror-page')];
    try {
      for (const n of names) {
        await Rbd.create(ioA, n, 1 << 20, { features: FEATURES });
        const img = await Image.open(ioA, n);
        await img.mirrorEnable('snapshot');
        await img.close();
      }
      const ids = new Map<string, string>();
      for (const n of names) {
        const img = await Image.open(ioA, n);
        ids.set(await img.id(), n);
        await img.close();
      }
      const first = await RbdMirror.listImageStatus(ioA, { max: 2 });
      assert.equal(first.length, 2);
      const rest = await RbdMirror.listImageStatus(ioA, { startAfter: first[1].id, max: 4096 });
      const all: string[] = [];
      for await (const e of RbdMirror.imageStatuses(ioA, { pageSize: 1 })) all.push(e.id);
      assert.deepEqual(all, [...first, ...rest].map((e) => e.id));
      assert.deepEqual([...all].sort(), all, 'listed by image id');
      for (const [id, n] of ids) {
        assert.ok(all.includes(id), `${n} listed`);
        const entry = [...first, ...rest].find((e) => e.id === id);
        assert.equal(entry?.status.name, n);
        // librbd's listing leaves info.primary false (it reads no image header).
        assert.equal(entry?.status.info.state, 'enabled');
      }
      const snapInfos: string[] = [];
      for await (const e of RbdMirror.imageInfos(ioA, { pageSize: 2, mode: 'snapshot' })) {
        assert.equal(e.mode, 'snapshot');
        snapInfos.push(e.id);
      }
      for (const id of ids.keys()) assert.ok(snapInfos.includes(id));
      const journalInfos = await RbdMirror.listImageInfo(ioA, { mode: 'journal' });
      for (const id of ids.keys()) assert.ok(!journalInfos.some((e) => e.id === id));
      const summary = await RbdMirror.imageStatusSummary(ioA);
      const total = Object.values(summary).reduce((x, y) => x + (y ?? 0), 0);
      assert.ok(total >= names.length, JSON.stringify(summary));
    } finally {
      for (const n of names) {
        await removeMirrored(ioA, n);
        await removeMirrored(ioB, n);
      }
    }
  });

  it('typed errors: enable on a pool without mirroring, bad arguments, closed handles', async () => {
    const name = uniqueName('mirror-err');
    await Rbd.create(rbdA, name, 1 << 20, { features: FEATURES });
    try {
      const img = await Image.open(rbdA, name);
      try {
        for (const mode of ['journal', 'snapshot'] as const) {
          await assert.rejects(img.mirrorEnable(mode), (e: unknown) => e instanceof InvalidArgument && e.code === 'EINVAL' && e.errno === -22 && e.op === 'Image.mirrorEnable' && e.pool === 'rbd' && e.image === name);
        }
        assert.deepEqual(await img.mirrorGetInfo(), { globalId: '', state: 'disabled', primary: false });
        await assert.rejects(img.mirrorPromote(), { name: 'ImageNotFound', code: 'ENOENT' });
        await assert.rejects(img.mirrorEnable('both' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: "Expected one of 'journal', 'snapshot' for mode but received 'both'" });
        await assert.rejects(img.mirrorPromote({ force: 1 as never }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'Expected a boolean for options.force but received 1' });
      } finally {
        await img.close();
      }
      await assert.rejects(img.mirrorGetInfo(), (e: unknown) => e instanceof HandleClosedError);
    } finally {
      await Rbd.remove(rbdA, name);
    }
    await assert.rejects(RbdMirror.setMode(ioA, 'on' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(RbdMirror.listImageStatus(ioA, { max: 0 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'Expected an integer from 1 to 4096 for options.max but received 0' });
    await assert.rejects(RbdMirror.importBootstrapToken(ioA, 'not a token'), { name: 'InvalidArgument', op: 'Mirror.bootstrapImport' });
  });
});
