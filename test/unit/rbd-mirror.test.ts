import { strict as assert } from 'node:assert';

import { type IoCtx, type Rados, Image, MirrorPeerExists, MirrorPeerNotFound, ObjectNotFound, RbdMirror, errorClassFor, mirrorReplayProgress, mirrorSyncPercent } from '../../lib';

/** Argument checks run before anything reaches the addon: a stand-in handle is enough. */
const io = {} as IoCtx;
const image = Object.create(Image.prototype) as Image;

describe('RBD mirroring without a cluster', () => {
  it('refuses names outside the string unions with ERR_INVALID_ARG_VALUE / ERR_INVALID_ARG_TYPE', async () => {
    await assert.rejects(RbdMirror.setMode(io, 'on' as never), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: "Expected one of 'disabled', 'image', 'pool' for mode but received 'on'",
    });
    await assert.rejects(RbdMirror.setMode(io, 1 as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'Expected a string for mode but received 1' });
    await assert.rejects(RbdMirror.addPeer(io, 'site', 'client.x', 'both' as never), { code: 'ERR_INVALID_ARG_VALUE', message: "Expected one of 'rx-only', 'tx-only', 'rx-tx' for direction but received 'both'" });
    await assert.rejects(RbdMirror.setPeerDirection(io, 'uuid', 'toString' as never), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(image.mirrorEnable('journa' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: "Expected one of 'journal', 'snapshot' for mode but received 'journa'" });
    await assert.rejects(RbdMirror.listImageInfo(io, { mode: 'pool' as never }), { code: 'ERR_INVALID_ARG_VALUE', message: /for options\.mode/ });
  });

  it('checks names, options, page sizes and secrets', async () => {
    await assert.rejects(RbdMirror.addPeer(io, '', 'client.x'), { code: 'ERR_INVALID_ARG_VALUE', message: "Expected a non-empty string for siteName but received ''" });
    await assert.rejects(RbdMirror.removePeer(io, 42 as never), { code: 'ERR_INVALID_ARG_TYPE', message: 'Expected a string for uuid but received 42' });
    await assert.rejects(RbdMirror.setSiteName({} as Rados, 'a\0b'), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(RbdMirror.listImageStatus(io, { max: 0 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'Expected an integer from 1 to 4096 for options.max but received 0' });
    await assert.rejects(RbdMirror.listInstanceIds(io, { max: 4097 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(RbdMirror.listImageStatus(io, { startAfter: 7 as never }), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => RbdMirror.imageStatuses(io, { pageSize: 1.5 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => RbdMirror.instanceIds(io, null as never), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(image.mirrorPromote({ force: 'yes' as never }), { code: 'ERR_INVALID_ARG_TYPE', message: "Expected a boolean for options.force but received 'yes'" });
    await assert.rejects(image.mirrorDisable(null as never), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(image.mirrorCreateSnapshot({ skipQuiesce: 1 as never }), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(RbdMirror.setPeerAttributes(io, 'uuid', [] as never), { code: 'ERR_INVALID_ARG_TYPE', message: /for attributes/ });
    // Secrets are described, never shown.
    await assert.rejects(RbdMirror.setPeerAttributes(io, 'uuid', { key: 'AQ\0secret' }), (e: Error) => (e as { code?: string }).code === 'ERR_INVALID_ARG_VALUE' && !e.message.includes('secret') && e.message.includes('not shown'));
    await assert.rejects(RbdMirror.importBootstrapToken(io, ''), (e: Error) => e instanceof TypeError && e.message.includes('not shown'));
  });

  it('maps peer errno to MirrorPeerNotFound / MirrorPeerExists, getUuid ENOENT to ObjectNotFound', () => {
    assert.equal(errorClassFor('ENOENT', 'rbd', 'Mirror.setPeerSiteName'), MirrorPeerNotFound);
    assert.equal(errorClassFor('ENOENT', 'rbd', 'Mirror.getPeerAttributes'), MirrorPeerNotFound);
    assert.equal(errorClassFor('EEXIST', 'rbd', 'Mirror.addPeer'), MirrorPeerExists);
    assert.equal(errorClassFor('ENOENT', 'rbd', 'Mirror.getUuid'), ObjectNotFound);
    assert.equal(errorClassFor('ENOENT', 'rbd', 'Image.mirrorPromote').name, 'ImageNotFound');
  });

  it('mirrorReplayProgress reads journal and snapshot progress from the description', () => {
    const journal = (behind: number, same: boolean) => ({
      state: 'replaying' as const,
      description: `replaying, ${JSON.stringify({
        bytes_per_second: 0,
        entries_behind_primary: behind,
        non_primary_position: same ? { entry_tid: 3, object_number: 3, tag_tid: 1 } : {},
        primary_position: { entry_tid: 3, object_number: 3, tag_tid: 1 },
      })}`,
    });
    assert.equal(mirrorReplayProgress(journal(0, true)).caughtUp, true);
    assert.equal(mirrorReplayProgress(journal(3, false)).caughtUp, false);
    assert.equal(mirrorReplayProgress(journal(0, false)).caughtUp, false);
    const snap = (local: number, state: string) => ({
      state: 'replaying' as const,
      description: `replaying, {"local_snapshot_timestamp":${local},"remote_snapshot_timestamp":1700000000,"replay_state":"${state}"}`,
    });
    assert.equal(mirrorReplayProgress(snap(1700000000, 'idle')).caughtUp, true);
    assert.equal(mirrorReplayProgress(snap(1600000000, 'idle')).caughtUp, false);
    assert.equal(mirrorReplayProgress(snap(1700000000, 'syncing')).caughtUp, false);
    assert.deepEqual(mirrorReplayProgress({ state: 'stopped', description: 'local image is primary' }), { details: null, caughtUp: null });
    assert.deepEqual(mirrorReplayProgress({ state: 'replaying', description: 'replaying, {not json' }), { details: null, caughtUp: null });
    assert.deepEqual(mirrorReplayProgress({ state: 'replaying', description: 'replaying, {"x":1}' }), { details: { x: 1 }, caughtUp: null });
  });

  it('mirrorSyncPercent reads initial-sync progress (journal bootstrapping, snapshot syncing_percent)', () => {
    assert.equal(mirrorSyncPercent({ state: 'syncing', description: 'bootstrapping, IMAGE_SYNC/COPY_IMAGE 51%' }), 51);
    assert.equal(mirrorSyncPercent({ state: 'syncing', description: 'bootstrapping, OPEN_LOCAL_IMAGE' }), 0);
    assert.equal(mirrorSyncPercent({ state: 'replaying', description: 'replaying, {"replay_state":"syncing","syncing_percent":37,"remote_snapshot_timestamp":2,"local_snapshot_timestamp":1}' }), 37);
    const caughtUp = 'replaying, {"primary_position":{"entry_tid":3},"non_primary_position":{"entry_tid":3},"entries_behind_primary":0}';
    assert.equal(mirrorSyncPercent({ state: 'replaying', description: caughtUp }), 100);
    assert.equal(mirrorSyncPercent({ state: 'replaying', description: 'replaying, {"primary_position":{"entry_tid":3},"non_primary_position":{"entry_tid":1},"entries_behind_primary":2}' }), 100);
    assert.equal(mirrorSyncPercent({ state: 'stopped', description: 'local image is primary' }), null);
  });
});
