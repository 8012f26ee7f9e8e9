/**
 * Nova against the real cluster: cleanupDirectSnapshot's removal rules
 * (nova-resize, busy images, ignoreErrors) and the snapshot that streams the
 * disk into an image store when a direct snapshot is impossible.
 */
import { strict as assert } from 'node:assert';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';

import {
  AbortError,
  Duplicate,
  GlanceStore,
  Image,
  ImageBusy,
  ImageHasSnapshots,
  ImageNotFound,
  type ImageStoreLike,
  type IoCtx,
  type Logger,
  Rados,
  Rbd,
  cleanupDirectSnapshot,
  snapshotToStore,
  streamSnapshot,
} from '../../lib';
import { cinderHarness } from '../helpers/cinder';
import { cliBuffer, confFile } from '../helpers/cluster';

const MiB = 1024 * 1024;

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** A logger that keeps what it is told. */
function recorder(): { logger: Partial<Logger>; warns: string[]; infos: string[] } {
  const warns: string[] = [];
  const infos: string[] = [];
  return { logger: { warn: (m: string) => warns.push(m), info: (m: string) => infos.push(m) }, warns, infos };
}

/** A caller's image store that keeps images in memory (optionally claiming a cluster fsid and pool). */
class MemoryStore implements ImageStoreLike {
  readonly images = new Map<string, Buffer>();
  constructor(
    readonly fsid?: string,
    readonly pool?: string,
  ) {}

  async add(imageId: string, source: Readable | AsyncIterable<Uint8Array>, sizeBytes: number): Promise<{ location: string; size: number; checksum: string }> {
    if (this.images.has(imageId)) throw new Error(`${imageId} exists`);
    const parts: Buffer[] = [];
    for await (const piece of source as AsyncIterable<Uint8Array>) parts.push(Buffer.from(piece));
    const data = Buffer.concat(parts);
    if (data.length !== sizeBytes) throw new Error(`got ${data.length} bytes, announced ${sizeBytes}`);
    this.images.set(imageId, data);
    return { location: `memory://${imageId}`, size: data.length, checksum: md5(data) };
  }

  async get(location: string): Promise<{ stream: Readable; size: number }> {
    const data = this.images.get(location.slice('memory://'.length));
    if (!data) throw new Error(`${location} not found`);
    return { stream: Readable.from([data]), size: data.length };
  }
}

describe('Nova snapshot (real cluster): cleanup rules and the streamed snapshot', function () {
  this.timeout(180_000);
  const h = cinderHarness();
  const { track, names, snaps } = h;
  let cluster: Rados;
  let second: Rados;
  let rbd: IoCtx;
  let images: IoCtx;
  let fsid: string;
  let store: GlanceStore;
  before(async () => {
    ({ cluster, second, rbd, images, fsid } = h.state());
    store = await GlanceStore.open({ confFile: confFile(), pool: 'images', chunkSizeMiB: 1, connectTimeoutMs: 60_000 });
  });
  after(async () => {
    await store?.close();
  });

  /** A new disk of `size` bytes with random data at its start, middle and end. */
  async function disk(size = 24 * MiB, features?: number): Promise<string> {
    const id = randomUUID();
    track(id);
    const name = `${id}_disk`;
    await Rbd.create(rbd, name, size, { order: 22, ...(features === undefined ? {} : { features }) });
    const img = await Image.open(rbd, name);
    try {
      await img.write(randomBytes(MiB), 0);
      await img.write(randomBytes(3 * MiB + 17), Math.floor(size / 2) - 5);
      await img.write(randomBytes(4096), size - 4096);
    } finally {
      await img.close();
    }
    return name;
  }

  /** md5 of `rbd export pool/spec -`. */
  async function exported(spec: string): Promise<string> {
    return md5(await cliBuffer('rbd', ['export', spec, '-']));
  }

  // ---- cleanupDirectSnapshot -----------------------------------------------------------------

  describe('cleanupDirectSnapshot', () => {
    /** An image with a protected snapshot `snap`, as directSnapshot leaves it; its location. */
    async function snapshotImage(extra: (img: Image) => Promise<void> = async () => undefined): Promise<{ name: string; location: string }> {
      const name = randomUUID();
      track(name);
      await Rbd.create(images, name, 4 * MiB);
      const img = await Image.open(images, name);
      try {
        await img.createSnap('snap');
        await img.protectSnap('snap');
        await extra(img);
      } finally {
        await img.close();
      }
      return { name, location: `rbd://${fsid}/images/${name}/snap` };
    }

    it('unprotects and removes the location’s snapshot; the image stays unless alsoDestroyVolume', async () => {
      const { name, location } = await snapshotImage();
      await cleanupDirectSnapshot(cluster, location);
      assert.deepEqual(await snaps(name, images), []);
      assert.deepEqual(await names(images), [name]);
    });

    it('an unprotected nova-resize snapshot is removed, then the image', async () => {
      const { name, location } = await snapshotImage((img) => img.createSnap('nova-resize'));
      const log = recorder();
      await cleanupDirectSnapshot(cluster, location, { alsoDestroyVolume: true, retries: 2, intervalMs: 50, logger: log.logger });
      assert.deepEqual(await names(images), []);
      assert.equal(log.warns.filter((w) => w.includes('retrying')).length, 1, log.warns.join('\n'));
      assert.match(log.warns[0] ?? '', new RegExp(`rbd remove images/${name} failed \\(.*\\); retrying in 50 ms`));
    });

    it('a protected nova-resize is never unprotected: ImageHasSnapshots after retries + 1 tries; ignoreErrors logs instead (DESIGN D21)', async () => {
      const { name, location } = await snapshotImage(async (img) => {
        await img.createSnap('nova-resize');
        await img.protectSnap('nova-resize');
      });
      const log = recorder();
      await assert.rejects(cleanupDirectSnapshot(cluster, location, { alsoDestroyVolume: true, retries: 2, intervalMs: 50, logger: log.logger }), (e: unknown) => {
        assert.ok(e instanceof ImageHasSnapshots, String(e));
        assert.equal(e.code, 'ENOTEMPTY');
        return true;
      });
      assert.equal(log.warns.filter((w) => w.includes('retrying')).length, 2, 'two tries retried, the third one thrown');
      assert.equal(log.warns.filter((w) => w.includes('nova-resize is protected')).length, 2);
      assert.deepEqual(await names(images), [name], 'the image is still there');
      assert.deepEqual(await snaps(name, images), ['nova-resize (protected)'], 'the location’s snapshot went, nova-resize stays protected');

      const quiet = recorder();
      await cleanupDirectSnapshot(cluster, location, { alsoDestroyVolume: true, ignoreErrors: true, retries: 1, intervalMs: 50, logger: quiet.logger });
      assert.ok(quiet.warns.some((w) => w.startsWith(`rbd remove images/${name} failed after 2 tries:`)), quiet.warns.join('\n'));
      assert.deepEqual(await snaps(name, images), ['nova-resize (protected)']);
    });

    it('a missing snapshot or image resolves with a warning; the image is still removed', async () => {
      const { name } = await snapshotImage();
      const log = recorder();
      await cleanupDirectSnapshot(cluster, `rbd://${fsid}/images/${name}/nope`, { logger: log.logger });
      assert.deepEqual(log.warns, [`no snapshot images/${name}@nope found`]);
      assert.deepEqual(await snaps(name, images), ['snap (protected)']);
      const gone = recorder();
      await cleanupDirectSnapshot(cluster, `rbd://${fsid}/images/${randomUUID()}/snap`, { alsoDestroyVolume: true, logger: gone.logger });
      assert.match(gone.warns.join('\n'), /the image does not exist/);
      const noPool = `rbd://${fsid}/no-such-pool-${randomUUID()}/${name}/snap`;
      await assert.rejects(cleanupDirectSnapshot(cluster, noPool), { code: 'ENOENT' });
      const logged = recorder();
      await cleanupDirectSnapshot(cluster, noPool, { ignoreErrors: true, logger: logged.logger });
      assert.match(logged.warns.join('\n'), /^cannot clean up rbd:\/\/.*no-such-pool/);
      // The image of a location whose snapshot is gone is still destroyed.
      const { name: other } = await snapshotImage(async (img) => {
        await img.unprotectSnap('snap');
        await img.removeSnap('snap');
      });
      await cleanupDirectSnapshot(cluster, `rbd://${fsid}/images/${other}/snap`, { alsoDestroyVolume: true, retries: 0 });
      assert.deepEqual(await names(images), [name]);
    });

    it('a snapshot with clones cannot be unprotected: thrown, or logged with ignoreErrors', async () => {
      const { name, location } = await snapshotImage();
      const child = `${name}-child`;
      await Rbd.clone(images, name, 'snap', images, child);
      await assert.rejects(cleanupDirectSnapshot(cluster, location), ImageBusy);
      assert.deepEqual(await snaps(name, images), ['snap (protected)']);
      const log = recorder();
      await cleanupDirectSnapshot(cluster, location, { ignoreErrors: true, logger: log.logger });
      assert.match(log.warns.join('\n'), new RegExp(`cannot remove images/${name}@snap: `));
      assert.deepEqual(await snaps(name, images), ['snap (protected)']);
    });

    it('a busy image is retried: the last try’s ImageBusy propagates; released in time, it is removed', async () => {
      const { name, location } = await snapshotImage();
      const secondImages = await second.openIoctx('images');
      try {
        let held = await Image.open(secondImages, name);
        const log = recorder();
        try {
          await assert.rejects(cleanupDirectSnapshot(cluster, location, { alsoDestroyVolume: true, retries: 1, intervalMs: 50, logger: log.logger }), ImageBusy);
        } finally {
          await held.close();
        }
        assert.equal(log.warns.filter((w) => w.includes('retrying')).length, 1);
        assert.deepEqual(await names(images), [name]);

        held = await Image.open(secondImages, name);
        let released: Promise<void> | undefined;
        const logger = {
          warn: (m: string) => {
            if (m.includes('retrying')) released ??= held.close();
          },
        };
        await cleanupDirectSnapshot(cluster, location, { alsoDestroyVolume: true, retries: 50, intervalMs: 100, logger });
        assert.ok(released, 'the first try found the image busy');
        await released;
        assert.deepEqual(await names(images), []);
      } finally {
        await secondImages.close();
      }
    });

    it('bad options are RangeError/TypeError', async () => {
      const location = `rbd://${fsid}/images/${randomUUID()}/snap`;
      await assert.rejects(cleanupDirectSnapshot(cluster, location, { retries: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(cleanupDirectSnapshot(cluster, location, { intervalMs: 1.5 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(cleanupDirectSnapshot(cluster, location, { ignoreErrors: 'yes' as unknown as boolean }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    });
  });

  // ---- streamSnapshot / snapshotToStore ------------------------------------------------------

  describe('streamSnapshot and snapshotToStore', () => {
    it('a disk without layering is streamed into a GlanceStore on the same cluster: the exact bytes, no temporary snapshot', async () => {
      const name = await disk(24 * MiB, 0);
      const imageId = randomUUID();
      track(imageId);
      const steps: string[] = [];
      const log = recorder();
      const progress: number[] = [];
      const result = await snapshotToStore(cluster, {
        pool: 'rbd', imageName: name, imageId, store, chunkBytes: MiB, concurrency: 3,
        onStep: (s) => steps.push(s), onProgress: (done, total) => { assert.equal(total, 24 * MiB); progress.push(done); }, logger: log.logger,
      });
      const diskMd5 = await exported(`rbd/${name}`);
      assert.equal(result.method, 'stream');
      assert.equal(result.location, `rbd://${fsid}/images/${imageId}/snap`);
      assert.equal(result.size, 24 * MiB);
      assert.equal(result.checksum, diskMd5);
      assert.equal(await exported(`images/${imageId}@snap`), diskMd5);
      assert.deepEqual(steps, ['snapshot', 'stream']);
      assert.equal(progress.length, 24);
      assert.equal(progress.at(-1), 24 * MiB);
      assert.ok(log.infos.some((m) => m.includes('the disk has no layering feature')), log.infos.join('\n'));
      assert.deepEqual(await snaps(name), [], 'the temporary snapshot is removed');
      assert.deepEqual(await snaps(imageId, images), ['snap (protected)']);
    });

    it('a store on another cluster (or with no fsid) gets the stream, even from a clone-capable disk', async () => {
      const name = await disk(9 * MiB + 512);
      const diskMd5 = await exported(`rbd/${name}`);
      const elsewhere = new MemoryStore(randomUUID(), 'images');
      const log = recorder();
      const result = await snapshotToStore(cluster, { pool: 'rbd', imageName: name, imageId: 'img-a', store: elsewhere, chunkBytes: 2 * MiB, logger: log.logger });
      assert.deepEqual(result, { method: 'stream', location: 'memory://img-a', size: 9 * MiB + 512, checksum: diskMd5 });
      assert.equal(md5(elsewhere.images.get('img-a') ?? Buffer.alloc(0)), diskMd5);
      assert.ok(log.infos.some((m) => m.includes(`the store is on another cluster (fsid ${elsewhere.fsid}, the disk's ${fsid})`)), log.infos.join('\n'));
      const plain = new MemoryStore();
      const direct = await streamSnapshot(cluster, { pool: 'rbd', imageName: name, imageId: 'img-b', store: plain, snapshotName: 'nova-tmp' });
      assert.equal(direct.method, 'stream');
      assert.equal(md5(plain.images.get('img-b') ?? Buffer.alloc(0)), diskMd5);
      assert.deepEqual(await snaps(name), []);
    });

    it('a clone-capable disk with a GlanceStore on the same cluster goes direct: cloned, flattened, protected snap', async () => {
      const name = await disk(16 * MiB);
      const imageId = randomUUID();
      track(imageId);
      const steps: string[] = [];
      const result = await snapshotToStore(cluster, { pool: 'rbd', imageName: name, imageId, store, onStep: (s) => steps.push(s) });
      assert.deepEqual(result, { method: 'direct', location: `rbd://${fsid}/images/${imageId}/snap`, size: 16 * MiB });
      assert.deepEqual(steps, ['snapshot', 'clone', 'flatten', 'protect']);
      assert.equal(await h.parent(imageId, images), null, 'flattened');
      assert.equal(await exported(`images/${imageId}@snap`), await exported(`rbd/${name}`));
      assert.deepEqual(await snaps(name), []);
      assert.deepEqual(await snaps(imageId, images), ['snap (protected)']);
    });

    it('an abort mid-stream: AbortError, nothing in the store, no temporary snapshot', async () => {
      const name = await disk(48 * MiB, 0);
      const imageId = randomUUID();
      track(imageId);
      const ac = new AbortController();
      let seen = 0;
      await assert.rejects(
        snapshotToStore(cluster, {
          pool: 'rbd', imageName: name, imageId, store, chunkBytes: MiB, concurrency: 2, signal: ac.signal,
          onProgress: (done) => { seen = done; if (done >= 4 * MiB) ac.abort(); },
        }),
        AbortError,
      );
      assert.ok(seen >= 4 * MiB && seen < 48 * MiB, `aborted mid-stream (${seen} bytes read)`);
      assert.deepEqual(await names(images), [], 'GlanceStore removed its partial image');
      assert.deepEqual(await snaps(name), [], 'no temporary snapshot');
      // A store that ignores the signal: the source itself stops.
      const mem = new MemoryStore();
      const ac2 = new AbortController();
      await assert.rejects(
        streamSnapshot(cluster, { pool: 'rbd', imageName: name, imageId: 'img-c', store: mem, chunkBytes: MiB, signal: ac2.signal, onProgress: (done) => { if (done >= 2 * MiB) ac2.abort(); } }),
        AbortError,
      );
      assert.equal(mem.images.size, 0);
      assert.deepEqual(await snaps(name), []);
    });

    it('a failed add leaves the existing image alone; a missing disk is ImageNotFound with nothing created', async () => {
      const name = await disk(8 * MiB, 0);
      const imageId = randomUUID();
      track(imageId);
      await Rbd.create(images, imageId, MiB);
      await assert.rejects(streamSnapshot(cluster, { pool: 'rbd', imageName: name, imageId, store, chunkBytes: MiB }), Duplicate);
      assert.deepEqual(await names(images), [imageId]);
      assert.deepEqual(await snaps(imageId, images), []);
      assert.deepEqual(await snaps(name), []);
      const other = randomUUID();
      track(other);
      await assert.rejects(snapshotToStore(cluster, { pool: 'rbd', imageName: `${other}_disk`, imageId: other, store }), ImageNotFound);
      await assert.rejects(streamSnapshot(cluster, { pool: 'rbd', imageName: `${other}_disk`, imageId: other, store }), ImageNotFound);
      assert.deepEqual(await names(images), [imageId]);
    });

    it('bad options are TypeError/RangeError before anything is created', async () => {
      const name = await disk(8 * MiB);
      await assert.rejects(streamSnapshot(cluster, { pool: 'rbd', imageName: name, imageId: 'x', store: {} as ImageStoreLike }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      await assert.rejects(streamSnapshot(cluster, { pool: 'rbd', imageName: name, imageId: 'x', store, chunkBytes: 1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(snapshotToStore(cluster, { pool: 'rbd', imageName: name, imageId: 'x', store, concurrency: 0 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      await assert.rejects(snapshotToStore(cluster, { pool: 'rbd', imageName: name, imageId: '', store }), { name: 'TypeError' });
      assert.deepEqual(await snaps(name), []);
    });
  });
});
