/**
 * Misuse, as an adversary would try it, across the public classes: each case
 * is one way a caller can hand the library something wrong, and the answer
 * must be a clear TypeError/RangeError with a Node code (or a typed error),
 * with no secret echoed, and no change to the cluster. Grows with every bug
 * of this kind found (see docs/RELIABILITY.md); the teardown cases (worker
 * termination, process exit mid-call, detached buffers) are in teardown.ts.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';

import { Image, type IoCtx, Rados, Rbd, RbdVolumeDriver } from '../../lib';
import { uniq } from './support';

const GiB = 1024 ** 3;

interface Coded {
  name: string;
  code?: string;
  message: string;
}

async function rejectsWith(what: string, call: () => unknown, Class: typeof TypeError | typeof RangeError, code: string): Promise<Coded> {
  let caught: unknown;
  try {
    await call();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Class, `${what}: expected a ${Class.name}, got ${String(caught)}`);
  assert.equal((caught as Coded).code, code, `${what}: ${(caught as Coded).message}`);
  return caught as Coded;
}

/** Argument misuse of Rados and Rbd: coded errors, no secret echoed. */
export async function hostileArguments(cluster: Rados, ioctx: IoCtx): Promise<void> {
  // A secret option's value never appears in the error (a key with a NUL).
  const secret = 'AQBvd2VyeXNlY3JldGtleQ==\0tail';
  for (const option of ['key', 'keyring', 'Key', 'key-file']) {
    const err = await rejectsWith(`confSet(${option})`, () => cluster.confSet(option, secret), TypeError, 'ERR_INVALID_ARG_VALUE');
    assert.ok(!err.message.includes('AQBvd2'), `confSet(${option}) echoed the value: ${err.message}`);
    assert.match(err.message, /not shown/);
  }

  // trashPurge options.
  await rejectsWith('trashPurge threshold NaN', () => Rbd.trashPurge(ioctx, { threshold: NaN }), RangeError, 'ERR_OUT_OF_RANGE');
  await rejectsWith('trashPurge threshold 2', () => Rbd.trashPurge(ioctx, { threshold: 2 }), RangeError, 'ERR_OUT_OF_RANGE');
  await rejectsWith('trashPurge threshold "0.5"', () => Rbd.trashPurge(ioctx, { threshold: '0.5' as unknown as number }), TypeError, 'ERR_INVALID_ARG_TYPE');
  await rejectsWith('trashPurge expireTs Invalid Date', () => Rbd.trashPurge(ioctx, { expireTs: new Date(NaN) }), RangeError, 'ERR_OUT_OF_RANGE');
  await rejectsWith('trashPurge expireTs "x"', () => Rbd.trashPurge(ioctx, { expireTs: 'x' as unknown as Date }), TypeError, 'ERR_INVALID_ARG_TYPE');

  // Sizes above 2^53 would come back inexact from size(): refused.
  const name = uniq('hostile');
  for (const size of [2n ** 53n, 2n ** 63n, Number.MAX_SAFE_INTEGER + 1]) {
    await rejectsWith(`Rbd.create(${size})`, () => Rbd.create(ioctx, name, size), RangeError, 'ERR_OUT_OF_RANGE');
  }
  assert.ok(!(await Rbd.list(ioctx)).includes(name), 'nothing created');
  await Rbd.create(ioctx, name, 1024 * 1024);
  try {
    await using image = await Image.open(ioctx, name);
    await rejectsWith('resize(2^53)', () => image.resize(2n ** 53n), RangeError, 'ERR_OUT_OF_RANGE');
    assert.equal(await image.size(), 1024 * 1024);
  } finally {
    await Rbd.remove(ioctx, name);
  }
}

/** The Cinder driver: extendVolume never shrinks, sizes are checked, the volume is unchanged. */
export async function hostileCinder(confFile: string, pool: string): Promise<void> {
  const driver = await RbdVolumeDriver.open({ confFile, pool, connectTimeoutMs: 60_000 });
  const id = randomUUID();
  const volume = { id, name: `volume-${id}`, size: 2 };
  try {
    await driver.createVolume(volume);
    for (const size of [1, 0]) {
      const err = await rejectsWith(`extendVolume(2 GiB -> ${size})`, () => driver.extendVolume(volume, size), RangeError, 'ERR_OUT_OF_RANGE');
      assert.match(err.message, /never shrinks|from 1/);
    }
    for (const size of [NaN, 1.5, -1, Infinity]) {
      await rejectsWith(`extendVolume(${size})`, () => driver.extendVolume(volume, size), RangeError, 'ERR_OUT_OF_RANGE');
    }
    await driver.extendVolume(volume, 2); // the same size: allowed, nothing changes
    await driver.extendVolume(volume, 3);
    const cluster = await Rados.connect({ confFile, timeoutMs: 60_000 });
    try {
      const ioctx = await cluster.openIoctx(pool);
      await using image = await Image.open(ioctx, volume.name, { readOnly: true });
      assert.equal(await image.size(), 3 * GiB);
    } finally {
      await cluster.shutdown();
    }
    // Since issue 19 a missing volumeSize is read from the cluster; a given one that disagrees is refused.
    const snapshot = { id: randomUUID(), volumeName: volume.name, volumeSize: 999 };
    await rejectsWith('createSnapshot(volumeSize 999 on a 3 GiB volume)', () => driver.createSnapshot(snapshot), RangeError, 'ERR_OUT_OF_RANGE');
  } finally {
    await driver.deleteVolume(volume).catch(() => undefined);
    await driver.close();
  }
}
