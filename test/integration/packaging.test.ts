/**
 * Packaging: `npm run prebuild` (prebuildify, N-API) makes
 * prebuilds/linux-x64/*.node; `npm pack` ships it with the compiled library
 * and without tests; the tarball installs into a fresh project with a PATH
 * that holds nothing but `node` (no compiler, no make, no shell tools) and
 * loads its addon from the prebuild.
 *
 * Slow (a full native build): about a minute or two. The build takes
 * the tree's build lock (flock on $CEPH_RBD_BUILD_LOCK, default
 * <tmpdir>/ceph-rbd-build.lock) when flock is installed, so it does not race
 * other builds in the same checkout.
 */
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { repoRoot } from '../helpers/cluster';

const run = promisify(execFile);

function which(cmd: string, PATH = process.env.PATH ?? ''): string | null {
  for (const dir of PATH.split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  }
  return null;
}

/** npm's own entry script (npm-cli.js), to run npm with `node` alone on PATH. */
function npmCli(): string {
  const npm = which('npm');
  if (!npm) throw new Error('npm is not on PATH');
  return realpathSync(npm);
}

/** The environment without npm's lifecycle variables (this may run under `npm test`). */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, ...extra };
}

describe('packaging: prebuild, npm pack, install without a compiler', function () {
  this.timeout(960_000); // the prebuild compiles the whole addon (~40 files) again
  let work: string;
  let tarball: string;
  let project: string;
  let bareEnv: NodeJS.ProcessEnv;

  before(async function () {
    work = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-pack-'));
    const bin = path.join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, path.join(bin, 'node'));
    // Only node: no cc/c++/g++/make/python, no sh or env on PATH either.
    bareEnv = cleanEnv({ PATH: bin });
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('npm run prebuild produces prebuilds/linux-x64/*.node', async function () {
    if (!which('c++') && !which('g++')) this.skip(); // the prebuild itself needs a compiler (CI builds it once)
    const lock = process.env.CEPH_RBD_BUILD_LOCK ?? path.join(tmpdir(), 'ceph-rbd-build.lock');
    const npm = [process.execPath, npmCli(), 'run', 'prebuild'];
    const [cmd, ...args] = which('flock') ? ['flock', lock, ...npm] : npm;
    // prebuildify rebuilds build/Release in place: keep a copy of the addon
    // the rest of the suite (and its child processes) load, and put it back
    // whatever happens, so a failed or killed prebuild fails this test only.
    const addonPath = path.join(repoRoot, 'build', 'Release', 'ceph_rbd.node');
    const saved = path.join(work, 'ceph_rbd.node');
    copyFileSync(addonPath, saved);
    try {
      await run(cmd, args, { cwd: repoRoot, env: cleanEnv({ JOBS: 'max' }), maxBuffer: 64 << 20, timeout: 900_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      assert.fail(`npm run prebuild failed: ${e.message}\n${(e.stderr ?? '').slice(-4000)}`);
    } finally {
      // A new inode (copy, then rename): never rewrite a file a process may have mapped.
      mkdirSync(path.dirname(addonPath), { recursive: true });
      copyFileSync(saved, `${addonPath}.restore`);
      renameSync(`${addonPath}.restore`, addonPath);
    }
    const dir = path.join(repoRoot, 'prebuilds', `${process.platform}-${process.arch}`);
    const nodes = readdirSync(dir).filter((f) => f.endsWith('.node'));
    assert.deepEqual(nodes, ['ceph-rbd.node']);
  });

  it('npm pack ships the library, the prebuild, the native sources and micro-osd.sh, but no tests', async () => {
    const { stdout } = await run(process.execPath, [npmCli(), 'pack', '--json', '--pack-destination', work], { cwd: repoRoot, env: cleanEnv({}), maxBuffer: 16 << 20 });
    const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(work, info.filename);
    assert.ok(existsSync(tarball));
    const files = info.files.map((f) => f.path);
    for (const must of [
      'package.json',
      'dist/lib/index.js',
      'dist/lib/index.mjs',
      'dist/lib/index.d.ts',
      'dist/lib/cli/main.js',
      `prebuilds/${process.platform}-${process.arch}/ceph-rbd.node`,
      'binding.gyp',
      'native/addon.cc',
      'scripts/micro-osd.sh',
      'scripts/micro-osd-common.sh',
    ]) {
      assert.ok(files.includes(must), `the package lacks ${must}`);
    }
    const unwanted = files.filter((f) => /^(test|dist\/test|dist\/scripts|dist\/examples|examples|build|bench|node_modules|ci|\.ci)\//.test(f) || /\.test\.(js|ts)$/.test(f));
    assert.deepEqual(unwanted, [], 'tests, build output or tooling in the package');
  });

  it('installs into a fresh project with only node on PATH (npm install --ignore-scripts <tarball>)', async function () {
    project = path.join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    await assert.rejects(run('g++', ['--version'], { env: bareEnv }), { code: 'ENOENT' }, 'a compiler is reachable');
    try {
      await run(process.execPath, [npmCli(), 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, env: bareEnv, maxBuffer: 16 << 20, timeout: 180_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      if (/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH/.test(e.stderr ?? '')) {
        // The dependencies (commander, cli-progress, node-gyp-build, node-addon-api) come from the registry.
        this.skip();
      }
      assert.fail(`npm install of the tarball failed: ${e.message}\n${e.stderr ?? ''}`);
    }
    const installed = path.join(project, 'node_modules', 'ceph-rbd');
    assert.ok(existsSync(path.join(installed, 'prebuilds')));
    assert.equal(existsSync(path.join(installed, 'build')), false, 'nothing was compiled');
  });

  it('loads from the prebuild: require resolves, Rbd.version().major === 1', async function () {
    if (!project) this.skip();
    const probe = [
      "const m = require('ceph-rbd');",
      "const addon = Object.keys(require.cache).filter((k) => k.endsWith('.node'));",
      'console.log(JSON.stringify({ main: require.resolve("ceph-rbd"), addon, version: m.Rbd.version(), rados: typeof m.Rados, glance: typeof m.GlanceStore }));',
    ].join(' ');
    const { stdout } = await run(process.execPath, ['-e', probe], { cwd: project, env: bareEnv });
    const out = JSON.parse(stdout) as { main: string; addon: string[]; version: { major: number }; rados: string; glance: string };
    const installed = realpathSync(path.join(project, 'node_modules', 'ceph-rbd'));
    assert.equal(out.main, path.join(installed, 'dist', 'lib', 'index.js'));
    assert.deepEqual(out.addon, [path.join(installed, 'prebuilds', `${process.platform}-${process.arch}`, 'ceph-rbd.node')]);
    assert.equal(out.version.major, 1);
    assert.equal(out.rados, 'function');
    assert.equal(out.glance, 'function');

    const esm = await run(process.execPath, ['--input-type=module', '-e', "import { Rbd, Image } from 'ceph-rbd'; console.log(Rbd.version().major, typeof Image)"], { cwd: project, env: bareEnv });
    assert.equal(esm.stdout.trim(), '1 function');
  });

  it('its install script (node-gyp-build) accepts the prebuild without compiling', async function () {
    if (!project) this.skip();
    // npm runs the script with /bin/sh (given by absolute path: PATH holds only node); node-gyp-build finds node on PATH.
    await run(process.execPath, [npmCli(), 'rebuild', 'ceph-rbd', '--foreground-scripts', '--script-shell=/bin/sh'], { cwd: project, env: bareEnv, maxBuffer: 16 << 20, timeout: 120_000 });
    assert.equal(existsSync(path.join(project, 'node_modules', 'ceph-rbd', 'build')), false, 'node-gyp ran');
  });

  it('installs the ceph-rbd command (package.json bin)', async function () {
    if (!project) this.skip();
    const cmd = path.join(project, 'node_modules', '.bin', 'ceph-rbd');
    assert.ok(existsSync(cmd));
    const { stdout } = await run(process.execPath, [cmd, '--version'], { cwd: project, env: bareEnv });
    const version = JSON.parse(execFileSync(process.execPath, ['-p', 'JSON.stringify(require("./package.json").version)'], { cwd: repoRoot }).toString()) as string;
    assert.equal(stdout.trim(), version);
    const help = await run(process.execPath, [cmd, 'cluster', 'up', '--help'], { cwd: project, env: bareEnv });
    assert.match(help.stdout, /Usage: ceph-rbd cluster up/);
  });
});
