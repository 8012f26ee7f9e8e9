/**
 * The `ceph-rbd` command line: every command runs the real binary
 * (node dist/lib/cli/main.js) against the test cluster (CEPH_CONF), and each
 * test asserts the exit status (0 / 1 / 2), the --json output (exactly one
 * JSON object on stdout) and what is then in the pools.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Image, type IoCtx, type Rados, Rbd } from '../../lib';
import { cli, cliBuffer, confFile, connect, purgeImages, repoRoot, uniqueName } from '../helpers/cluster';

const bin = path.join(repoRoot, 'dist', 'lib', 'cli', 'main.js');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

interface Ran {
  code: number;
  stdout: string;
  stdoutBuffer: Buffer;
  stderr: string;
}

/** Runs `ceph-rbd ARGS` with CEPH_CONF set to the test cluster (unless env says otherwise). */
function ceph(args: string[], opts: { input?: Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, CEPH_CONF: confFile(), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 100_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBuffer = Buffer.concat(out);
      resolve({ code: code ?? (signal ? 128 : -1), stdout: stdoutBuffer.toString('utf8'), stdoutBuffer, stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? Buffer.alloc(0));
  });
}

/** Exit status 0 and exactly one JSON object on stdout. */
function ok<T = Record<string, unknown>>(r: Ran): T {
  assert.equal(r.code, 0, `exit status ${r.code}; stderr:\n${r.stderr}`);
  return one<T>(r);
}

function one<T = Record<string, unknown>>(r: Ran): T {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `expected exactly one JSON line on stdout, got:\n${r.stdout}`);
  const v = JSON.parse(lines[0]) as unknown;
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), 'not a JSON object');
  return v as T;
}

/** Exit status 1, the error's class and errno on stderr (and, with --json, as one object on stdout). */
function failed(r: Ran, cls: string, code: string, errno: number): void {
  assert.equal(r.code, 1, `exit status ${r.code}; stdout: ${r.stdout}; stderr:\n${r.stderr}`);
  assert.match(r.stderr, new RegExp(`^ceph-rbd: ${cls} \\(${code}, errno ${errno}\\): `, 'm'), r.stderr);
}

describe('ceph-rbd CLI (real binary, real cluster)', function () {
  this.timeout(120_000);
  const tag = uniqueName('cli');
  let cluster: Rados;
  let rbd: IoCtx;
  let images: IoCtx;
  let fsid: string;
  let dir: string;

  const mine = (name: string) => name.includes(tag);

  /** Removes every image (and trash entry) of this run from both pools: snapshots, children first, trash. */
  function purge(): Promise<void> {
    return purgeImages([rbd, images], mine, 10);
  }

  async function snapsOf(ioctx: IoCtx, name: string): Promise<string[]> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      return (await img.listSnaps()).map((s) => (s.protected ? `${s.name} (protected)` : s.name)).sort();
    } finally {
      await img.close();
    }
  }

  async function parentOf(ioctx: IoCtx, name: string): Promise<string | null> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      const p = await img.parentInfo();
      return `${p.pool}/${p.image}@${p.snapshot}`;
    } catch {
      return null;
    } finally {
      await img.close();
    }
  }

  async function sizeOf(ioctx: IoCtx, name: string): Promise<number> {
    const img = await Image.open(ioctx, name, { readOnly: true });
    try {
      return await img.size();
    } finally {
      await img.close();
    }
  }

  before(async () => {
    cluster = await connect();
    rbd = await cluster.openIoctx('rbd');
    images = await cluster.openIoctx('images');
    fsid = cluster.clusterFsid;
    dir = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-cli-test-'));
  });

  after(async () => {
    await purge();
    await cluster.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  // ---- usage ---------------------------------------------------------------------

  describe('usage and exit statuses', () => {
    it('--help and --version exit 0', async () => {
      const help = await ceph(['--help']);
      assert.equal(help.code, 0);
      for (const group of ['cluster', 'image', 'volume']) assert.match(help.stdout, new RegExp(`^  ${group}\\b`, 'm'), group);
      const version = await ceph(['--version']);
      assert.equal(version.code, 0);
      assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version);
      const sub = await ceph(['volume', 'from-image', '--help']);
      assert.equal(sub.code, 0);
      assert.match(sub.stdout, /Usage: ceph-rbd volume from-image \[options\] <volume-id> <location>/);
    });

    it('usage errors exit 2 with a message on stderr and nothing on stdout (an error object with --json)', async () => {
      const cases: Array<[string[], RegExp]> = [
        [['bogus'], /unknown command 'bogus'/],
        [['image'], /Usage: ceph-rbd image/],
        [['image', 'upload', 'x.raw'], /missing required argument 'image'/],
        [['image', 'upload', '--id', 'i'], /missing required argument 'file'/],
        [['image', 'upload', 'x.raw', 'i', '--chunk-size', '0'], /Expected an integer from 1 to 64 but received '0'/],
        // Issue 19: malformed image references and locations are usage errors too.
        [['image', 'download', 'a/b/c', 'out.raw'], /'a\/b\/c' is not an image: expected \[pool\/\]image\[@snapshot\]/],
        [['image', 'info', 'rbd://x/y'], /URI must have exactly 1 or 4 components/],
        [['image', 'upload', 'x.raw', 'images/i@s'], /the image to upload is \[pool\/\]image/],
        [['image', 'ls', '--frobnicate'], /unknown option '--frobnicate'/],
        [['volume', 'create', 'v1'], /required option '--size <GiB>' not specified/],
        [['volume', 'create', 'v1', '--size', '1.5'], /Expected an integer/],
        [['volume', 'snapshot', 'v1'], /missing required argument 'snapshot-id'/],
        [['image', 'ls', '--name', 'osd.0'], /--name must be client\.<id>/],
        [['image', 'download', `rbd://${'0'.repeat(8)}/images/x/snap`, '-', '--json'], /--json cannot be used when the data goes to stdout/],
      ];
      for (const [args, message] of cases) {
        const r = await ceph(args);
        assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
        assert.match(r.stderr, message, args.join(' '));
        if (args.includes('--json')) assert.equal(one<{ error: { name: string } }>(r).error.name, 'UsageError');
        else assert.equal(r.stdout, '', args.join(' '));
      }
    });

    it('a usage error with --json also prints one error object', async () => {
      const r = await ceph(['image', 'ls', '--bogus', '--json']);
      assert.equal(r.code, 2);
      const e = one<{ error: { name: string; code: string; message: string } }>(r).error;
      assert.equal(e.name, 'UsageError');
      assert.equal(e.code, 'commander.unknownOption');
    });

    it('a Ceph error exits 1 with its class, errno name and errno', async () => {
      // Since issue 19 the driver names the volume (VolumeNotFound), the Ceph error kept as the cause.
      const r = await ceph(['volume', 'snapshot', `${tag}-missing`, 's1']);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      const ceph0 = `Image.open: No such file or directory (pool=rbd, image=volume-${tag}-missing)`;
      assert.equal(
        r.stderr.trim(),
        `ceph-rbd: VolumeNotFound (ENOENT, errno -2): Volume rbd/volume-${tag}-missing could not be found. [caused by ImageNotFound: ${ceph0}]`,
      );
      const j = await ceph(['volume', 'snapshot', `${tag}-missing`, 's1', '--json']);
      assert.equal(j.code, 1);
      assert.deepEqual(one(j), {
        error: {
          name: 'VolumeNotFound',
          message: `Volume rbd/volume-${tag}-missing could not be found.`,
          code: 'ERR_CINDER_VOLUME_NOT_FOUND',
          errno: -2,
          op: 'Image.open',
          cause: { name: 'ImageNotFound', code: 'ENOENT', errno: -2, op: 'Image.open', message: ceph0 },
        },
      });
    });

    it('an unreachable cluster (no such ceph.conf) is a ConnectionError, exit 1', async () => {
      const r = await ceph(['image', 'ls', '--conf', path.join(dir, 'nope.conf')]);
      failed(r, 'ConnectionError', 'ENOENT', -2);
      const g = await ceph(['image', 'upload', '-', `${tag}-x`], { env: { CEPH_CONF: path.join(dir, 'nope.conf') }, input: Buffer.alloc(10) });
      failed(g, 'BackendException', 'ENOENT', -2);
      assert.match(g.stderr, /caused by ConnectionError: Rados\.connect/);
    });
  });

  // ---- connection options ------------------------------------------------------------

  describe('connection options as the rbd tool has them', () => {
    it('-c/--conf, --id, --user, -n/--name, --cluster and -k/--keyring, before the group or after the command', async () => {
      const keyring = path.join(dir, 'empty.keyring');
      writeFileSync(keyring, '');
      const variants: string[][] = [
        ['image', 'ls', '--pool', 'rbd', '-c', confFile()],
        ['--conf', confFile(), '--id', 'admin', 'image', 'ls', '--pool', 'rbd'],
        ['image', 'ls', '--pool', 'rbd', '--id', 'admin', '--cluster', 'ceph'],
        ['image', 'ls', '--pool', 'rbd', '--user', 'client.admin'],
        ['image', 'ls', '--pool', 'rbd', '-n', 'client.admin', '-k', keyring],
      ];
      for (const args of variants) {
        const r = await ceph([...args, '--json'], { env: { CEPH_CONF: args.includes('-c') || args.includes('--conf') ? '' : confFile() } });
        const out = ok<{ pool: string; images: unknown[] }>(r);
        assert.equal(out.pool, 'rbd', args.join(' '));
        assert.ok(Array.isArray(out.images));
      }
    });

    it('image upload takes the image as `rbd import` does ([pool/]image, positional); --id is the cephx user as in rbd', async () => {
      const id = `${tag}-ids`;
      const r = await ceph(['--id', 'admin', 'image', 'upload', '-', id, '--id', 'admin', '--json'], { input: randomBytes(1000) });
      const out = ok<{ id: string; location: string }>(r);
      assert.equal(out.id, id);
      assert.ok((await Rbd.list(images)).includes(id));
      // --id names the cephx user, as in rbd (no second meaning in the help).
      const help = await ceph(['image', 'upload', '--help']);
      assert.match(help.stdout, /Usage: ceph-rbd image upload \[options\] <file> <image>/);
      assert.match(help.stdout, /--id <id> +cephx client id/);
      assert.doesNotMatch(help.stdout, /the image id \(the RBD image name\)\n.*--user/);
      // pool/image and bare ids address images as rbd does; the bare id is in the store's pool.
      const inRbd = ok<{ id: string; pool: string }>(await ceph(['image', 'upload', '-', `rbd/${id}-p`, '--json'], { input: randomBytes(10) }));
      assert.deepEqual([inRbd.pool, inRbd.id], ['rbd', `${id}-p`]);
      assert.equal(ok<{ size: number }>(await ceph(['image', 'info', `rbd/${id}-p@snap`, '--json'])).size, 10);
      ok(await ceph(['image', 'delete', `rbd/${id}-p`, '--json']));
      assert.equal(ok<{ image: string; size: number }>(await ceph(['image', 'info', id, '--json'])).size, 1000);
      ok(await ceph(['image', 'delete', id, '--json']));
      assert.ok(!(await Rbd.list(images)).includes(id));
    });

    it('--verbose routes the library log (setLogger) to stderr, stdout keeps the one JSON object', async () => {
      const r = await ceph(['image', 'upload', '-', `${tag}-verbose`, '--json', '--verbose'], { input: randomBytes(5000) });
      const out = ok<{ location: string }>(r);
      assert.match(r.stderr, /^warn \[ceph-rbd:glance\] Since image size is zero/m);
      assert.match(r.stderr, /^info \[ceph-rbd:glance\] Stored /m);
      ok(await ceph(['image', 'delete', out.location, '--json']));
    });
  });

  // ---- image ---------------------------------------------------------------------------

  describe('image upload|ls|info|download|delete', () => {
    const data = randomBytes(3 * MiB + 777);
    const id = `${tag}-img`;
    let file: string;
    let location: string;

    before(() => {
      file = path.join(dir, 'image.raw');
      writeFileSync(file, data);
    });

    it('upload FILE stores it the Glance way and prints the location and checksums', async () => {
      const out = ok<Record<string, unknown>>(await ceph(['image', 'upload', file, id, '--chunk-size', '1', '--json']));
      assert.deepEqual(Object.keys(out).sort(), ['checksum', 'hashAlgo', 'id', 'location', 'metadata', 'multihash', 'pool', 'seconds', 'size']);
      location = out.location as string;
      assert.equal(location, `rbd://${fsid}/images/${id}/snap`);
      assert.equal(out.size, data.length);
      assert.equal(out.checksum, createHash('md5').update(data).digest('hex'));
      assert.equal(out.multihash, createHash('sha512').update(data).digest('hex'));
      assert.equal(out.hashAlgo, 'sha512');
      assert.deepEqual(await snapsOf(images, id), ['snap (protected)']);
      assert.ok((await cliBuffer('rbd', ['export', `images/${id}@snap`, '-'])).equals(data));
    });

    it('upload - reads stdin (unknown size), with --thin, --hash and --chunk-size', async () => {
      const piped = Buffer.concat([randomBytes(MiB), Buffer.alloc(2 * MiB), randomBytes(1234)]);
      const out = ok<{ size: number; multihash: string; hashAlgo: string; location: string }>(
        await ceph(['image', 'upload', '-', `${id}-stdin`, '--thin', '--hash', 'sha256', '--chunk-size', '1', '--json'], { input: piped }),
      );
      assert.equal(out.size, piped.length);
      assert.equal(out.hashAlgo, 'sha256');
      assert.equal(out.multihash, createHash('sha256').update(piped).digest('hex'));
      assert.equal(await sizeOf(images, `${id}-stdin`), piped.length);
      assert.ok((await cliBuffer('rbd', ['export', `images/${id}-stdin@snap`, '-'])).equals(piped));
      // --thin: the zero chunks in the middle were not written.
      const du = JSON.parse(await cli('rbd', ['du', '--format', 'json', `images/${id}-stdin@snap`])) as { images: Array<{ used_size: number }> };
      assert.ok(du.images[0].used_size < piped.length, `used ${du.images[0].used_size}`);
    });

    it('upload of a taken id is Duplicate (EEXIST), exit 1; a missing file exits 1 with ENOENT', async () => {
      failed(await ceph(['image', 'upload', file, id]), 'Duplicate', 'EEXIST', -17);
      const r = await ceph(['image', 'upload', path.join(dir, 'missing.raw'), `${id}-missing`]);
      failed(r, 'Error', 'ENOENT', -2);
      assert.ok(!(await Rbd.list(images)).includes(`${id}-missing`));
    });

    it('--progress draws the bar on stderr even without a terminal; stdout is one JSON object', async () => {
      const r = await ceph(['image', 'upload', file, `${id}-progress`, '--progress', '--json']);
      const out = ok<{ location: string }>(r);
      assert.match(r.stderr, /upload +\[.*\] 100% \| 3\.0\/3\.0 MiB/);
      const quiet = await ceph(['image', 'download', out.location, path.join(dir, 'quiet.raw'), '--json']);
      ok(quiet);
      assert.equal(quiet.stderr, '', 'no bar when stderr is not a terminal');
    });

    it('Ctrl-C (SIGINT) during an upload removes the half-written image and exits 130', async () => {
      const name = `${id}-sigint`;
      const child = spawn(process.execPath, [bin, 'image', 'upload', '-', name, '--chunk-size', '1'], {
        env: { ...process.env, CEPH_CONF: confFile() },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      child.stdin.on('error', () => undefined);
      child.stdin.write(randomBytes(3 * MiB)); // and then nothing more: the upload waits for data
      for (let i = 0; i < 100 && !(await Rbd.list(images)).includes(name); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok((await Rbd.list(images)).includes(name), 'the upload did not start');
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      assert.match(stderr, /ceph-rbd: interrupted; cleaning up/);
      assert.match(stderr, /^ceph-rbd: AbortError \(ABORT_ERR\): /m);
      assert.ok(!(await Rbd.list(images)).includes(name), 'the half-written image was left behind');
    });

    for (const [signal, status] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
      it(`${signal} (timeout, systemd, Kubernetes) during an upload cleans up like SIGINT: no image, no lock; exit ${status}`, async () => {
        const name = `${id}-${signal.toLowerCase()}`;
        const child = spawn(process.execPath, [bin, 'image', 'upload', '-', name, '--chunk-size', '1'], {
          env: { ...process.env, CEPH_CONF: confFile() },
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
        child.stdin.on('error', () => undefined);
        child.stdin.write(randomBytes(3 * MiB)); // and then nothing more: the upload waits for data
        for (let i = 0; i < 100 && !(await Rbd.list(images)).includes(name); i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok((await Rbd.list(images)).includes(name), 'the upload did not start');
        child.kill(signal);
        assert.equal(await exited, status, stderr);
        assert.match(stderr, new RegExp(`ceph-rbd: interrupted; cleaning up \\(${signal};`));
        assert.ok(!(await Rbd.list(images)).includes(name), 'the half-written image was left behind');
        // Nothing holds the name: a retry goes through (it failed with Duplicate before).
        const retried = ok<{ id: string; location: string }>(await ceph(['image', 'upload', '-', name, '--json'], { input: randomBytes(100) }));
        ok(await ceph(['image', 'delete', retried.location, '--json']));
      });
    }

    it('ls lists the pool with locations', async () => {
      const out = ok<{ pool: string; images: Array<{ name: string; size: number; location: string | null; snapshots: string[] }> }>(await ceph(['image', 'ls', '--json']));
      assert.equal(out.pool, 'images');
      const entry = out.images.find((i) => i.name === id);
      assert.deepEqual(entry, { name: id, size: data.length, location, snapshots: ['snap'] });
      const human = await ceph(['image', 'ls']);
      assert.equal(human.code, 0);
      assert.match(human.stdout, /^NAME +SIZE +LOCATION$/m);
      assert.match(human.stdout, new RegExp(`^${id} +3\\.0 MiB +${location.replace(/[/.]/g, '\\$&')}$`, 'm'));
    });

    it('info shows size, objects, snapshots and children', async () => {
      const out = ok<Record<string, unknown>>(await ceph(['image', 'info', location, '--json']));
      assert.equal(out.fsid, fsid);
      assert.equal(out.pool, 'images');
      assert.equal(out.image, id);
      assert.equal(out.snapshot, 'snap');
      assert.equal(out.size, data.length);
      assert.equal(out.objectSize, MiB);
      assert.equal(out.order, 20);
      assert.deepEqual(out.snapshots, [{ name: 'snap', size: data.length, protected: true }]);
      assert.equal(out.parent, null);
      assert.deepEqual(out.children, []);
      const missing = await ceph(['image', 'info', `rbd://${fsid}/images/${tag}-nope/snap`]);
      assert.equal(missing.stderr.trim(), `ceph-rbd: ImageNotFound (ENOENT, errno -2): Image.open: No such file or directory (pool=images, image=${tag}-nope, snapshot=snap)`);
      assert.equal(missing.code, 1);
      // A malformed location is a usage error since issue 19 (exit 2, was 1).
      const bad = await ceph(['image', 'info', 'http://x/y']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /^ceph-rbd: BadStoreUri \(ERR_GLANCE_BAD_STORE_URI\): Location URI must start with one of: rbd:\/\//);
    });

    it('download writes FILE (whole, or --offset/--length), or stdout with -', async () => {
      const whole = path.join(dir, 'whole.raw');
      const out = ok<Record<string, unknown>>(await ceph(['image', 'download', location, whole, '--json']));
      assert.deepEqual({ ...out, seconds: 0 }, { location, file: whole, offset: 0, length: data.length, size: data.length, seconds: 0 });
      assert.ok(readFileSync(whole).equals(data));

      const part = path.join(dir, 'part.raw');
      ok(await ceph(['image', 'download', location, part, '--offset', String(MiB + 3), '--length', '70000', '--json']));
      assert.ok(readFileSync(part).equals(data.subarray(MiB + 3, MiB + 3 + 70000)));

      const piped = await ceph(['image', 'download', location, '-', '--offset', '10', '--length', String(2 * MiB)]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.ok(piped.stdoutBuffer.equals(data.subarray(10, 10 + 2 * MiB)));
    });

    it('download refuses to overwrite FILE without --force (exit 1, EEXIST) and leaves no partial file on errors', async () => {
      const whole = path.join(dir, 'whole.raw');
      const exists = await ceph(['image', 'download', location, whole]);
      failed(exists, 'Error', 'EEXIST', -17);
      assert.match(exists.stderr, /already exists; add --force to overwrite it/);
      ok(await ceph(['image', 'download', location, whole, '--force', '--json']));
      const missing = path.join(dir, 'missing-image.raw');
      failed(await ceph(['image', 'download', `rbd://${fsid}/images/${tag}-nope/snap`, missing]), 'NotFound', 'ENOENT', -2);
      assert.equal(existsSync(missing), false);
    });

    it('delete removes the image and its snapshot; deleting again is NotFound (ENOENT), exit 1', async () => {
      for (const name of [id, `${id}-stdin`, `${id}-progress`]) {
        const loc = `rbd://${fsid}/images/${name}/snap`;
        assert.deepEqual(ok(await ceph(['image', 'delete', loc, '--json'])), { location: loc, deleted: true });
      }
      assert.deepEqual((await Rbd.list(images)).filter(mine), []);
      failed(await ceph(['image', 'delete', location]), 'NotFound', 'ENOENT', -2);
    });
  });

  // ---- volume -------------------------------------------------------------------------

  describe('volume create|snapshot|revert|extend|clone|from-snapshot|from-image|to-image|unsnapshot|delete|stats', () => {
    const v1 = `${tag}-v1`;
    const name = (id: string) => `volume-${id}`;
    let imageLocation: string;
    const imageData = randomBytes(2 * MiB);

    before(async () => {
      imageLocation = ok<{ location: string }>(await ceph(['image', 'upload', '-', `${tag}-base`, '--chunk-size', '1', '--json'], { input: imageData })).location;
    });

    it('create makes an empty volume of --size GiB; a second create is ImageExists (EEXIST)', async () => {
      const out = ok(await ceph(['volume', 'create', v1, '--size', '1', '--json']));
      assert.deepEqual(out, { volume: { id: v1, name: name(v1), pool: 'rbd', size: 1 }, modelUpdate: {} });
      assert.equal(await sizeOf(rbd, name(v1)), GiB);
      failed(await ceph(['volume', 'create', v1, '--size', '1']), 'VolumeExists', 'EEXIST', -17);
    });

    it('snapshot creates and protects snapshot-ID; revert rolls the data back to it', async () => {
      const before = Buffer.alloc(4096, 'a');
      const after = Buffer.alloc(4096, 'b');
      {
        await using img = await Image.open(rbd, name(v1));
        await img.write(before, 0);
      }
      const out = ok(await ceph(['volume', 'snapshot', v1, 's1', '--json']));
      // Issue 19: the sizes are known, so they are reported (no null).
      assert.deepEqual(out, { volume: { id: v1, name: name(v1), pool: 'rbd', size: 1 }, snapshot: { id: 's1', name: 'snapshot-s1', size: GiB, protected: true } });
      assert.deepEqual(await snapsOf(rbd, name(v1)), ['snapshot-s1 (protected)']);
      {
        await using img = await Image.open(rbd, name(v1));
        await img.write(after, 0);
      }
      const reverted = ok(await ceph(['volume', 'revert', v1, 's1', '--json']));
      assert.equal(reverted.reverted, true);
      await using img = await Image.open(rbd, name(v1), { readOnly: true });
      assert.ok((await img.read(0, 4096)).equals(before));
      failed(await ceph(['volume', 'revert', v1, 'nope']), 'SnapshotNotFound', 'ENOENT', -2);
    });

    it('extend grows the volume to --size GiB', async () => {
      const out = ok<{ volume: { size: number } }>(await ceph(['volume', 'extend', v1, '--size', '2', '--json']));
      assert.equal(out.volume.size, 2);
      assert.equal(await sizeOf(rbd, name(v1)), 2 * GiB);
      const r = await ceph(['volume', 'extend', `${tag}-nope`, '--size', '2']);
      failed(r, 'VolumeBackendAPIException', 'ENOENT', -2);
    });

    it('from-snapshot clones the snapshot (size defaults to the source); --flatten copies the data', async () => {
      const out = ok<{ volume: { size: number }; flattened: boolean }>(await ceph(['volume', 'from-snapshot', v1, 's1', `${tag}-v2`, '--json']));
      assert.equal(out.volume.size, 1, 'the size of the volume at the snapshot');
      assert.equal(out.flattened, false);
      assert.equal(await parentOf(rbd, name(`${tag}-v2`)), `rbd/${name(v1)}@snapshot-s1`);
      const flat = ok<{ flattened: boolean; volume: { size: number } }>(await ceph(['volume', 'from-snapshot', v1, 's1', `${tag}-v3`, '--size', '3', '--flatten', '--json']));
      assert.equal(flat.flattened, true);
      assert.equal(await parentOf(rbd, name(`${tag}-v3`)), null);
      assert.equal(await sizeOf(rbd, name(`${tag}-v3`)), 3 * GiB);
      await using img = await Image.open(rbd, name(`${tag}-v3`), { readOnly: true });
      assert.ok((await img.read(0, 4096)).equals(Buffer.alloc(4096, 'a')));
    });

    it('clone makes a COW clone through <new>.clone_snap', async () => {
      const out = ok<{ volume: { size: number }; source: { size: number } }>(await ceph(['volume', 'clone', v1, `${tag}-v4`, '--json']));
      assert.equal(out.source.size, 2);
      assert.equal(out.volume.size, 2);
      assert.equal(await parentOf(rbd, name(`${tag}-v4`)), `rbd/${name(v1)}@${name(`${tag}-v4`)}.clone_snap`);
      failed(await ceph(['volume', 'clone', `${tag}-nope`, `${tag}-v5`]), 'ImageNotFound', 'ENOENT', -2);
    });

    it('from-image clones the Glance image when it can (size defaults to the image, rounded up to GiB)', async () => {
      const out = ok<{ method: string; volume: { size: number }; location: string }>(await ceph(['volume', 'from-image', `${tag}-v6`, imageLocation, '--json']));
      assert.equal(out.method, 'clone');
      assert.equal(out.volume.size, 1);
      assert.equal(out.location, imageLocation);
      assert.equal(await parentOf(rbd, name(`${tag}-v6`)), `images/${tag}-base@snap`);
      assert.equal(await sizeOf(rbd, name(`${tag}-v6`)), GiB);
      await using img = await Image.open(rbd, name(`${tag}-v6`), { readOnly: true });
      assert.ok((await img.read(0, imageData.length)).equals(imageData));
      failed(await ceph(['volume', 'from-image', `${tag}-v7`, `rbd://${fsid}/images/${tag}-nope/snap`]), 'ImageNotFound', 'ENOENT', -2);
    });

    it('from-image --flatten detaches the new volume from the image', async () => {
      const out = ok<{ method: string; flattened: boolean }>(await ceph(['volume', 'from-image', `${tag}-v8`, imageLocation, '--size', '1', '--flatten', '--json']));
      assert.equal(out.method, 'clone');
      assert.equal(out.flattened, true);
      assert.equal(await parentOf(rbd, name(`${tag}-v8`)), null);
    });

    it('to-image stores a volume as a Glance image (with --thin)', async () => {
      const out = ok<{ location: string; size: number; checksum: string; image: { id: string; pool: string } }>(
        await ceph(['volume', 'to-image', `${tag}-v6`, `${tag}-fromvol`, '--thin', '--json']),
      );
      assert.equal(out.location, `rbd://${fsid}/images/${tag}-fromvol/snap`);
      assert.equal(out.size, GiB);
      assert.deepEqual(out.image, { id: `${tag}-fromvol`, pool: 'images' });
      assert.deepEqual(await snapsOf(images, `${tag}-fromvol`), ['snap (protected)']);
      await using img = await Image.open(images, `${tag}-fromvol`, { readOnly: true, snapshot: 'snap' });
      assert.ok((await img.read(0, imageData.length)).equals(imageData));
      ok(await ceph(['image', 'delete', out.location, '--json']));
    });

    it('unsnapshot removes a snapshot (flattening its clones first)', async () => {
      const out = ok(await ceph(['volume', 'unsnapshot', v1, 's1', '--json']));
      assert.equal(out.deleted, true);
      assert.deepEqual(await snapsOf(rbd, name(v1)), [`${name(`${tag}-v4`)}.clone_snap (protected)`]);
      assert.equal(await parentOf(rbd, name(`${tag}-v2`)), null, 'its clone was flattened');
    });

    it('ls and info show the volumes by id: size, parent, snapshots (issue 19)', async () => {
      const listed = ok<{ pool: string; volumes: Array<{ id: string; size: number; parent: string | null; snapshots: unknown[] }> }>(await ceph(['volume', 'ls', '--json']));
      assert.equal(listed.pool, 'rbd');
      const mineV1 = listed.volumes.find((v) => v.id === v1);
      assert.ok(mineV1);
      assert.equal(mineV1.size, 2);
      assert.equal(listed.volumes.find((v) => v.id === `${tag}-v4`)?.parent, `rbd/${name(v1)}@${name(`${tag}-v4`)}.clone_snap`);
      const info = ok<{ name: string; size: number; snapshots: Array<{ name: string; protected: boolean; children: string[] }> }>(await ceph(['volume', 'info', v1, '--json']));
      assert.equal(info.name, name(v1));
      assert.deepEqual(info.snapshots.find((x) => x.name === `${name(`${tag}-v4`)}.clone_snap`)?.children, [`rbd/${name(`${tag}-v4`)}`]);
      const human = await ceph(['volume', 'info', v1]);
      assert.match(human.stdout, new RegExp(`^volume +rbd/${name(v1)} \\(2 GiB, ${2 * GiB} bytes\\)$`, 'm'));
      failed(await ceph(['volume', 'info', `${tag}-nope`]), 'VolumeNotFound', 'ENOENT', -2);
    });

    it('options are accepted at the group level too: volume --pool P stats, image --pool P ls', async () => {
      const out = ok<Record<string, unknown>>(await ceph(['volume', '--pool', 'images', 'stats', '--json']));
      assert.match(String(out.location_info), /:images$/);
      const own = ok<Record<string, unknown>>(await ceph(['volume', '--pool', 'images', 'stats', '--pool', 'rbd', '--json']));
      assert.match(String(own.location_info), /:rbd$/, "the command's own option wins");
      assert.equal(ok<{ pool: string }>(await ceph(['image', '--pool', 'rbd', 'ls', '--json'])).pool, 'rbd');
      assert.equal(ok<{ pool: string }>(await ceph(['volume', '--json', 'ls'])).pool, 'rbd');
    });

    it('delete removes volumes; one with clones is hidden as .deleted until they go', async () => {
      assert.deepEqual(ok(await ceph(['volume', 'delete', v1, '--json'])), { volume: { id: v1, name: name(v1), pool: 'rbd', size: 2 }, deleted: true });
      assert.ok((await Rbd.list(rbd)).includes(`${name(v1)}.deleted`));
      for (const v of ['v2', 'v3', 'v4', 'v6', 'v8']) ok(await ceph(['volume', 'delete', `${tag}-${v}`, '--json']));
      assert.deepEqual((await Rbd.list(rbd)).filter(mine), [], 'the .deleted parent goes with its last clone');
      ok(await ceph(['image', 'delete', imageLocation, '--json']));
    });

    it('stats reports the back end', async () => {
      const out = ok<Record<string, unknown>>(await ceph(['volume', 'stats', '--json']));
      assert.equal(out.backend_state, 'up');
      assert.equal(out.driver_version, '1.3.0');
      assert.equal(out.storage_protocol, 'ceph');
      assert.equal(typeof out.free_capacity_gb, 'number');
      // cluster:conf:fsid:user:pool
      assert.match(String(out.location_info), /^ceph:[^:]*:[0-9a-f-]{36}:None:rbd$/);
      const human = await ceph(['volume', 'stats']);
      assert.equal(human.code, 0);
      assert.match(human.stdout, /^backend +RBD \(up\), driver 1\.3\.0$/m);
    });
  });

  describe('volume failover --replication-device', function () {
    this.timeout(180_000);
    const pool = `${tag}-fo`.replace(/[^a-z0-9-]/g, '');
    const id = `${tag}-fo1`;
    let secondaryConf: string;

    before(async () => {
      await cli('ceph', ['osd', 'pool', 'create', pool, '8']);
      await cli('rbd', ['pool', 'init', pool]);
      await cli('rbd', ['mirror', 'pool', 'enable', pool, 'image']);
      await cli('rbd', ['create', '--size', '4M', '--image-feature', 'layering,exclusive-lock', `${pool}/volume-${id}`]);
      await cli('rbd', ['mirror', 'image', 'enable', `${pool}/volume-${id}`, 'snapshot']);
      // The "secondary" is this cluster again, reachable only as client.cinder2:
      // client.admin's section points it at a port where no monitor answers.
      secondaryConf = path.join(dir, 'secondary.conf');
      writeFileSync(secondaryConf, `${readFileSync(confFile(), 'utf8')}\n[client.admin]\nmon host = v1:127.0.0.1:1\n`);
    });

    after(async () => {
      await cli('ceph', ['osd', 'pool', 'rm', pool, pool, '--yes-i-really-really-mean-it']);
    });

    async function primary(): Promise<boolean> {
      const io = await cluster.openIoctx(pool);
      await using img = await Image.open(io, `volume-${id}`, { readOnly: true });
      return (await img.mirrorGetInfo()).primary;
    }

    it("Cinder's backend_id:…,conf:…,user:…,secret_uuid:… form: the target is listed and promoted as the device's user", async () => {
      const device = `backend_id:sec,conf:${secondaryConf},user:cinder2,secret_uuid:0f4e2b3c-1111-2222-3333-444455556666`;
      const out = ok<Record<string, unknown>>(
        await ceph(['volume', 'failover', '--conf', confFile(), '--pool', pool, '--timeout', '20', '--replication-device', device, '--to', 'sec', '--json']),
      );
      assert.deepEqual(out, { from: 'default', activeBackendId: 'sec', volumeUpdates: [{ volume_id: id, updates: { replication_status: 'failed-over' } }], groupUpdates: [] });
      assert.equal(await primary(), true); // demoted on 'default', promoted on 'sec' (the same image)
    });

    it('ID=CONF: the device gets --id (default admin), so that secondary does not answer; a malformed spec is a usage error', async () => {
      const r = await ceph(['volume', 'failover', '--conf', confFile(), '--pool', pool, '--timeout', '3', '--replication-device', `sec=${secondaryConf}`, '--to', 'sec']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^ceph-rbd: ConnectionError \(ETIMEDOUT, errno -110\): Rados.connect/m);
      assert.equal(await primary(), true); // nothing demoted
      const bad = await ceph(['volume', 'failover', '--pool', pool, '--replication-device', 'backend_id:sec,keyring:/k']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /unknown key 'keyring'/);
    });
  });

  // ---- cluster -------------------------------------------------------------------------

  describe('cluster up|status|down', function () {
    this.timeout(240_000);
    let clusterDir: string;

    before(() => {
      clusterDir = path.join(dir, 'micro');
    });

    after(async () => {
      if (existsSync(path.join(clusterDir, 'ceph.conf'))) await ceph(['cluster', 'down', '--dir', clusterDir, '--purge']);
    });

    it('status of a directory without a cluster exits 1', async () => {
      const r = await ceph(['cluster', 'status', '--dir', path.join(dir, 'none'), '--json']);
      assert.equal(r.code, 1);
      assert.deepEqual(one(r), { dir: path.join(dir, 'none'), confFile: path.join(dir, 'none', 'ceph.conf'), running: false, daemons: [] });
    });

    it('up starts a micro cluster and prints the export line; status shows it; image ls works on it', async () => {
      const r = await ceph(['cluster', 'up', '--dir', clusterDir, '--memstore-bytes', String(256 * MiB)], { timeoutMs: 200_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `export CEPH_CONF=${path.join(clusterDir, 'ceph.conf')}`);
      const status = ok<{ running: boolean; daemons: Array<{ name: string; alive: boolean; pid: number }> }>(await ceph(['cluster', 'status', '--dir', clusterDir, '--json']));
      assert.equal(status.running, true);
      assert.deepEqual(status.daemons.map((d) => [d.name, d.alive]).sort(), [['mgr.x', true], ['mon.a', true], ['osd.0', true]]);
      const ls = ok<{ pool: string; images: unknown[] }>(await ceph(['image', 'ls', '--json'], { env: { CEPH_CONF: path.join(clusterDir, 'ceph.conf') } }));
      assert.deepEqual(ls, { pool: 'images', images: [] });
      const again = await ceph(['cluster', 'up', '--dir', clusterDir]);
      assert.equal(again.code, 1, 'a running cluster is not started twice');
      assert.match(again.stderr, /ceph-rbd: MicroOsdError: micro-osd\.sh start failed/);
    });

    it('down stops it (--purge removes the directory); status then exits 1', async () => {
      const out = ok(await ceph(['cluster', 'down', '--dir', clusterDir, '--purge', '--json']));
      assert.deepEqual(out, { dir: clusterDir, stopped: true, purged: true });
      assert.equal(existsSync(clusterDir), false);
      assert.equal((await ceph(['cluster', 'status', '--dir', clusterDir])).code, 1);
    });
  });
});
