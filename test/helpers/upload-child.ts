/**
 * Child process of the sweep tests: starts GlanceStore.add(name) from a
 * source that delivers 2 MiB and then never ends, prints READY once the
 * image exists (marked as an upload in progress) and its first data is in,
 * and waits to be killed (SIGKILL: no clean-up runs).
 *
 * argv: confFile pool name
 */
import { Readable } from 'node:stream';

import { GlanceStore, Image, Rados } from '../../lib';

async function main(): Promise<void> {
  const [confFile, pool, name] = process.argv.slice(2);
  const store = await GlanceStore.open({ confFile, pool, chunkSizeMiB: 1 });
  let sent = 0;
  const source = new Readable({
    read() {
      if (sent < 2) {
        sent++;
        this.push(Buffer.alloc(1024 * 1024, sent));
      } // then nothing more, ever: the upload waits for data
    },
  });
  void store.add(name, source, 0).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
  // READY once the image carries the mark (add() sets it right after opening the image).
  const ioctx = await (await Rados.connect({ confFile })).openIoctx(pool);
  for (;;) {
    try {
      const probe = await Image.open(ioctx, name, { readOnly: true });
      try {
        await probe.metadataGet('ceph-rbd.upload-started');
        if (sent >= 2) break;
      } finally {
        await probe.close();
      }
    } catch {
      // not created / not marked yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log('READY');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
