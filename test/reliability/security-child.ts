/**
 * Child process of the cephx tests (security.ts): everything it does goes to
 * its own stdout/stderr, fd level included (librados writes there directly),
 * so the parent can search all of it for the secrets. Prints one JSON line
 * `RESULT {...}` at the end.
 *
 * argv: confFile clusterDir
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';

import {
  BackendException,
  BadStoreConfiguration,
  GlanceStore,
  Image,
  PermissionDenied,
  Rados,
  Rbd,
  RbdVolumeDriver,
} from '../../lib';

const [confFile, dir] = process.argv.slice(2);
const keyringFile = path.join(dir, 'client.glance.keyring');
const secret = /key = (\S+)/.exec(readFileSync(keyringFile, 'utf8'))?.[1] as string;
// A well-formed key that is not the right one: one character of the secret
// bytes changed (the first base64 characters encode the key type and its
// creation time, which authentication does not use).
const at = secret.replace(/=+$/, '').length - 2;
const wrongKey = `${secret.slice(0, at)}${secret[at] === 'A' ? 'B' : 'A'}${secret.slice(at + 1)}`;

const logged: string[] = [];
const logger = {
  debug: (m: string) => logged.push(`debug ${m}`),
  info: (m: string) => logged.push(`info ${m}`),
  warn: (m: string) => logged.push(`warn ${m}`),
  error: (m: string) => logged.push(`error ${m}`),
};
const inspected: string[] = [];
const errors: unknown[] = [];
const checks: Record<string, unknown> = {};

function look(label: string, value: unknown): void {
  inspected.push(`${label}: ${inspect(value, { depth: 8, showHidden: true, getters: true })}`);
}

async function catchErr(label: string, p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    errors.push(err);
    look(`error ${label}`, err);
    const e = err as Error & { code?: string; errno?: number; op?: string; cause?: Error & { code?: string; errno?: number; op?: string } };
    checks[label] = { name: e.name, code: e.code, errno: e.errno, op: e.op, message: e.message, cause: e.cause && { name: e.cause.name, code: e.cause.code, errno: e.cause.errno, op: e.cause.op } };
    return err;
  }
  checks[label] = 'resolved';
  return undefined;
}

async function main(): Promise<void> {
  // As the restricted client, with its keyring file: uploads to `images`.
  const conf = { keyring: keyringFile };
  const store = await GlanceStore.open({ confFile, user: 'glance', conf, chunkSizeMiB: 1, connectTimeoutMs: 10_000, logger });
  look('GlanceStore', store);
  const data = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
  const added = await store.add('cephx-image', data, data.length);
  checks.uploadToImages = { size: added.size, location: added.location };
  const got = await store.get(added.location);
  const parts: Buffer[] = [];
  for await (const p of got.stream) parts.push(p as Buffer);
  checks.readBack = Buffer.concat(parts).equals(data);
  await store.delete(added.location);

  // The same client in pool `rbd`: refused, nothing created.
  const rbdStore = await GlanceStore.open({ confFile, user: 'glance', pool: 'rbd', conf, chunkSizeMiB: 1, connectTimeoutMs: 10_000, logger });
  const refused = await catchErr('uploadToRbd', rbdStore.add('cephx-refused', data, data.length));
  checks.uploadToRbdIsPermissionDenied = refused instanceof PermissionDenied;
  await rbdStore.close();

  const glance = await Rados.connect({ confFile, clientId: 'glance', key: secret, timeoutMs: 10_000 });
  look('Rados', glance);
  const rbdIo = await glance.openIoctx('rbd');
  look('IoCtx', rbdIo);
  await catchErr('listRbd', Rbd.list(rbdIo));
  await catchErr('createInRbd', Rbd.create(rbdIo, 'cephx-direct', 1024 * 1024));
  await catchErr('objectWriteInRbd', rbdIo.write('cephx-object', Buffer.from('x')));
  const imagesIo = await glance.openIoctx('images');
  await Rbd.create(imagesIo, 'cephx-open', 1024 * 1024);
  const image = await Image.open(imagesIo, 'cephx-open');
  look('Image', image);
  await image.close();
  await Rbd.remove(imagesIo, 'cephx-open');
  await glance.shutdown();

  // A wrong key: refused at connect.
  await catchErr('wrongKey', Rados.connect({ confFile, clientId: 'glance', key: wrongKey, timeoutMs: 10_000 }));
  await catchErr('wrongKeyStore', GlanceStore.open({ confFile, user: 'glance', conf: { key: wrongKey }, connectTimeoutMs: 10_000, logger }));
  await catchErr('wrongKeyring', Rados.connect({ confFile, clientId: 'glance', keyring: path.join(dir, 'keyring'), timeoutMs: 10_000 }));
  // Malformed secrets: argument errors that must not echo them.
  await catchErr('keyWithNul', () => Rados.connect({ confFile, clientId: 'glance', key: `${secret}\0`, timeoutMs: 10_000 }));
  await catchErr('keyNotBase64', Rados.connect({ confFile, clientId: 'glance', key: `${secret.slice(0, 20)}%%%%${secret.slice(20)}`, timeoutMs: 10_000 }));
  await catchErr('confKeyWithNul', GlanceStore.open({ confFile, user: 'glance', conf: { key: `${secret}\0` } }));
  await catchErr('confKeyNotString', () => Rados.connect({ confFile, clientId: 'glance', conf: { key: Buffer.from(secret) as unknown as string } }));

  // The Cinder driver with the keyring file (rbd_keyring_conf).
  const driver = await RbdVolumeDriver.open({ confFile, user: 'glance', pool: 'images', keyringConf: keyringFile, connectTimeoutMs: 10_000, connectionRetries: 1, logger });
  await driver.checkForSetupError();
  const info = await driver.initializeConnection({ id: 'cephx-vol', size: 1 });
  // Cinder hands the keyring to the hypervisor (rbd_keyring_conf): that is the one place it may appear.
  checks.connectionInfoHasKeyring = typeof info.data.keyring === 'string' && info.data.keyring.includes(secret);
  look('RbdVolumeDriver', driver);
  look('driver.config', driver.config);
  await catchErr('driverRefusedPool', (await RbdVolumeDriver.open({ confFile, user: 'glance', pool: 'rbd', connectTimeoutMs: 10_000, connectionRetries: 1, logger })).createVolume({ id: 'cephx-x', size: 1 }));
  await driver.close();
  await store.close();

  for (const err of errors) {
    const e = err as Error;
    inspected.push(`stack: ${e.stack ?? ''}`, `json: ${JSON.stringify(err)}`, `string: ${String(err)}`);
  }
  checks.errorsAreTyped = errors.map((e) => (e as Error).constructor.name);
  checks.wrongKeyStoreIsBackendException = errors.some((e) => e instanceof BackendException);
  checks.confKeyWithNulIsBadStoreConfiguration = errors.some((e) => e instanceof BadStoreConfiguration);
  // Everything seen goes to stdout too: the parent searches all output.
  process.stdout.write(`${logged.join('\n')}\n${inspected.join('\n')}\n`);
  process.stdout.write(`RESULT ${JSON.stringify({ checks, logged: logged.length, inspected: inspected.length })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
