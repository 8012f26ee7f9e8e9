import { strict as assert } from 'node:assert';

import { Image, ImageNotFound, InvalidArgument, IoCtx, PermissionDenied, Rbd, RbdConfig } from '../../lib';
import { cephError, cli, uniqueName, withPool } from '../helpers/cluster';

const MiB = 1024 * 1024;

describe('client-side encryption (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('rbd', (_c, io) => {
    ioctx = io;
  });

  for (const format of ['luks1', 'luks2'] as const) {
    it(`${format}: unreadable without the passphrase, readable with it; a wrong passphrase is PermissionDenied`, async () => {
      const name = uniqueName(`enc-${format}`);
      await Rbd.create(ioctx, name, 32 * MiB);
      try {
        const secret = 'correct horse battery staple';
        const marker = Buffer.from(`secret data ${format}`.padEnd(4096, '.'));
        const img = await Image.open(ioctx, name);
        await img.encryptionFormat(format, secret, { algorithm: format === 'luks1' ? 'aes-128' : 'aes-256' });
        await img.close();

        const loaded = await Image.open(ioctx, name);
        await loaded.encryptionLoad(format, Buffer.from(secret));
        // the LUKS header takes space: the usable size is smaller than the image
        assert.ok((await loaded.size()) < 32 * MiB);
        await loaded.write(marker, 0);
        await loaded.flush();
        assert.deepEqual(await loaded.read(0, marker.length), marker);
        await loaded.close();

        // without the key: the header, then ciphertext (the marker appears nowhere)
        const raw = await Image.open(ioctx, name, { readOnly: true });
        const bytes = await raw.read(0, 8 * MiB);
        assert.equal(bytes.subarray(0, 4).toString('latin1'), 'LUKS');
        assert.equal(bytes.indexOf(marker.subarray(0, 16)), -1);
        await raw.close();

        if (format === 'luks1') return; // a wrong passphrase: once is enough (each load costs a key derivation)
        const wrong = await Image.open(ioctx, name);
        await assert.rejects(wrong.encryptionLoad(format, 'not the passphrase'), cephError(PermissionDenied, 'EPERM', -1, 'Image.encryptionLoad', { image: name }));
        await wrong.close();
      } finally {
        await Rbd.remove(ioctx, name);
      }
    });
  }

  it('load on an unformatted image is InvalidArgument; bad arguments are TypeErrors', async () => {
    const name = uniqueName('enc-none');
    await Rbd.create(ioctx, name, 8 * MiB);
    const img = await Image.open(ioctx, name);
    try {
      await assert.rejects(img.encryptionLoad('luks2', 'x'), cephError(InvalidArgument, 'EINVAL', -22, 'Image.encryptionLoad'));
      await assert.rejects(img.encryptionFormat('luks3' as never, 'x'), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(img.encryptionFormat('luks2', ''), { code: 'ERR_INVALID_ARG_VALUE' });
      await assert.rejects(img.encryptionFormat('luks2', 42 as never), { code: 'ERR_INVALID_ARG_TYPE' });
      await assert.rejects(img.encryptionFormat('luks2', 'x', { algorithm: 'des' as never }), { code: 'ERR_INVALID_ARG_VALUE' });
    } finally {
      await img.close();
      await Rbd.remove(ioctx, name);
    }
  });
});

describe('pool metadata and config overrides (real cluster)', () => {
  let ioctx: IoCtx;
  withPool('images', (_c, io) => {
    ioctx = io;
  });

  it('pool metadata: set, get, page through with the async iterator, remove', async () => {
    const prefix = uniqueName('pm');
    const keys = Array.from({ length: 7 }, (_, i) => `${prefix}-${i}`);
    for (const k of keys) await RbdConfig.poolMetadataSet(ioctx, k, `v-${k}`);
    try {
      assert.equal(await RbdConfig.poolMetadataGet(ioctx, keys[3]), `v-${keys[3]}`);
      const seen: Array<[string, string]> = [];
      for await (const entry of RbdConfig.poolMetadata(ioctx, { pageSize: 2 })) if (entry[0].startsWith(prefix)) seen.push(entry);
      assert.deepEqual(seen.map(([k]) => k), keys);
      assert.deepEqual(seen.map(([, v]) => v), keys.map((k) => `v-${k}`));
    } finally {
      for (const k of keys) await RbdConfig.poolMetadataRemove(ioctx, k);
    }
    await assert.rejects(RbdConfig.poolMetadataGet(ioctx, keys[0]), cephError(ImageNotFound, 'ENOENT', -2, 'PoolMetadata.get'));
    await assert.rejects(RbdConfig.poolMetadataRemove(ioctx, keys[0]), cephError(ImageNotFound, 'ENOENT', -2, 'PoolMetadata.remove'));
  });

  it('pool config override: seen by `rbd config pool get` and by images; removed again', async () => {
    await RbdConfig.poolSet(ioctx, 'rbd_qos_bps_limit', '1048576');
    try {
      assert.equal(await RbdConfig.poolGet(ioctx, 'rbd_qos_bps_limit'), '1048576');
      assert.equal((await cli('rbd', ['config', 'pool', 'get', 'images', 'rbd_qos_bps_limit'])).trim(), '1048576');
      const opt = (await RbdConfig.poolList(ioctx)).find((o) => o.name === 'rbd_qos_bps_limit');
      assert.deepEqual(opt, { name: 'rbd_qos_bps_limit', value: '1048576', source: 'pool' });
    } finally {
      await RbdConfig.poolRemove(ioctx, 'rbd_qos_bps_limit');
    }
    assert.equal(await RbdConfig.poolGet(ioctx, 'rbd_qos_bps_limit'), undefined);
    assert.equal((await RbdConfig.poolList(ioctx)).find((o) => o.name === 'rbd_qos_bps_limit')?.source, 'config');
    await assert.rejects(RbdConfig.poolSet(ioctx, 'qos', '1'), { code: 'ERR_INVALID_ARG_VALUE' });
  });

  it('image config override (Cinder QoS): imageSet / imageGet / imageList / imageRemove, seen by `rbd config image get`', async () => {
    const name = uniqueName('cfg');
    await Rbd.create(ioctx, name, 4 * MiB);
    const img = await Image.open(ioctx, name);
    try {
      assert.equal((await RbdConfig.imageGet(img, 'rbd_qos_iops_limit')).source, 'config');
      await RbdConfig.imageSet(img, 'rbd_qos_iops_limit', '500');
      assert.deepEqual(await RbdConfig.imageGet(img, 'rbd_qos_iops_limit'), { name: 'rbd_qos_iops_limit', value: '500', source: 'image' });
      assert.equal((await cli('rbd', ['config', 'image', 'get', `images/${name}`, 'rbd_qos_iops_limit'])).trim(), '500');
      assert.ok((await RbdConfig.imageList(img)).length > 50);
      await RbdConfig.imageRemove(img, 'rbd_qos_iops_limit');
      assert.equal((await RbdConfig.imageGet(img, 'rbd_qos_iops_limit')).source, 'config');
      await assert.rejects(RbdConfig.imageRemove(img, 'rbd_qos_iops_limit'), cephError(ImageNotFound, 'ENOENT', -2, 'Image.metadataRemove'));
      await assert.rejects(RbdConfig.imageGet(img, 'rbd_no_such_option'), { code: 'ERR_INVALID_ARG_VALUE' });
    } finally {
      await img.close();
      await Rbd.remove(ioctx, name);
    }
  });
});
