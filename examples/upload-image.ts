/**
 * Upload a file as a Glance image, read it back, delete it.
 *
 *   CEPH_CONF=/etc/ceph/ceph.conf node dist/examples/upload-image.js [FILE] [--keep]
 *
 * Without FILE it uploads a generated 4 MiB file. Prints the location,
 * size and checksums; checks that get() returns the same bytes (MD5); then
 * deletes the image unless --keep is given. In your own project, import from
 * 'ceph-rbd' instead of '../lib'.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { GlanceStore } from '../lib';

async function md5(stream: AsyncIterable<Buffer | Uint8Array>): Promise<string> {
  const h = createHash('md5');
  for await (const piece of stream) h.update(piece);
  return h.digest('hex');
}

async function main(): Promise<void> {
  const confFile = process.env.CEPH_CONF;
  if (!confFile) {
    process.stderr.write('upload-image: set CEPH_CONF to the cluster\'s ceph.conf\n');
    process.exitCode = 2;
    return;
  }
  const args = process.argv.slice(2);
  const keep = args.includes('--keep');
  let file = args.find((a) => a !== '--keep');
  let tmp: string | undefined;
  if (file === undefined) {
    tmp = await mkdtemp(path.join(tmpdir(), 'upload-image-'));
    file = path.join(tmp, 'image.raw');
    await writeFile(file, randomBytes(4 * 1024 * 1024));
  }
  const size = (await stat(file)).size;

  await using store = await GlanceStore.open({ confFile, pool: 'images', chunkSizeMiB: 1, connectTimeoutMs: 30_000 });
  const id = randomUUID();
  const added = await store.add(id, file, size, {
    onProgress: (done, total) => process.stderr.write(`\r${done}/${total ?? '?'} bytes`),
  });
  process.stderr.write('\n');
  console.log(`location  ${added.location}`);
  console.log(`size      ${added.size}`);
  console.log(`checksum  ${added.checksum}`);
  console.log(`multihash ${added.multihash}`);
  try {
    const got = await store.get(added.location);
    const back = await md5(got.stream);
    const local = await md5(createReadStream(file));
    console.log(`read back ${back === added.checksum && back === local ? 'matches' : 'DIFFERS'}`);
    if (back !== local) process.exitCode = 1;
  } finally {
    if (!keep) {
      await store.delete(added.location);
      console.log(`deleted   ${added.location}`);
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
