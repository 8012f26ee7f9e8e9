/**
 * The package as a consumer sees it (no cluster needed): `require('ceph-rbd')`
 * and `import … from 'ceph-rbd'` through package.json "exports", the same
 * named exports both ways, and the types compile in a consumer project.
 * The package is symlinked into a temp project's node_modules.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import * as pkg from '../../lib';

const run = promisify(execFile);
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

/** Names a consumer uses most; each must be a function (class or function) both ways. */
const FUNCTIONS = ['Rados', 'IoCtx', 'Image', 'GlanceStore', 'RbdVolumeDriver', 'directSnapshot', 'setLogger', 'getLogger', 'ImageNotFound', 'CephError', 'parseGlanceLocation'];

describe('package exports (require and import)', function () {
  this.timeout(60_000);
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-consumer-'));
    mkdirSync(path.join(dir, 'node_modules'));
    symlinkSync(repoRoot, path.join(dir, 'node_modules', 'ceph-rbd'), 'dir');
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function node(args: string[]): Promise<Record<string, string>> {
    const { stdout } = await run(process.execPath, args, { cwd: dir });
    return JSON.parse(stdout) as Record<string, string>;
  }

  const probe = (names: string) =>
    `const out = {}; for (const [k, v] of Object.entries(${names})) if (k !== 'default' && k !== '__esModule') out[k] = typeof v; ` +
    `out['Rbd.version'] = typeof m.Rbd?.version; console.log(JSON.stringify(out));`;

  let cjs: Record<string, string>;
  let esm: Record<string, string>;

  it("require('ceph-rbd') gives the CommonJS build with the named exports", async () => {
    cjs = await node(['-e', `const m = require('ceph-rbd'); ${probe('m')}`]);
    for (const name of FUNCTIONS) assert.equal(cjs[name], 'function', `require: ${name}`);
    assert.equal(cjs['Rbd.version'], 'function');
    const resolved = (await run(process.execPath, ['-p', "require.resolve('ceph-rbd')"], { cwd: dir })).stdout.trim();
    assert.equal(resolved, path.join(repoRoot, 'dist', 'lib', 'index.js'));
  });

  it("import { … } from 'ceph-rbd' gives the same named exports (ES module entry)", async () => {
    esm = await node([
      '--input-type=module',
      '-e',
      `import * as m from 'ceph-rbd'; import { Rados, Image, GlanceStore, RbdVolumeDriver, setLogger } from 'ceph-rbd'; ` +
        `if (![Rados, Image, GlanceStore, RbdVolumeDriver, setLogger].every((f) => typeof f === 'function')) throw new Error('missing'); ${probe('m')}`,
    ]);
    for (const name of FUNCTIONS) assert.equal(esm[name], 'function', `import: ${name}`);
    const resolved = (await run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('ceph-rbd'))"], { cwd: dir })).stdout.trim();
    assert.ok(resolved.endsWith('/dist/lib/index.mjs'), resolved);
    assert.deepEqual(
      Object.keys(esm).sort(),
      Object.keys(cjs).sort(),
      'dist/lib/index.mjs is out of date with dist/lib/index.js: run `npm run build:ts` (scripts/write-esm-entry.js)',
    );
  });

  it('both entries share one module instance (errors from one are instanceof the other)', async () => {
    const out = await node([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module'; import { ImageNotFound } from 'ceph-rbd'; ` +
        `const req = createRequire(process.cwd() + '/x.js'); console.log(JSON.stringify({ same: String(req('ceph-rbd').ImageNotFound === ImageNotFound) }));`,
    ]);
    assert.equal(out.same, 'true');
  });

  it("'ceph-rbd/package.json' is exported, deep paths are not", async () => {
    const out = await node(['-e', "const p = require('ceph-rbd/package.json'); let deep = 'blocked'; try { require('ceph-rbd/dist/lib/rbd.js'); deep = 'open'; } catch (e) { deep = e.code; } console.log(JSON.stringify({ name: p.name, deep }))"]);
    assert.equal(out.name, 'ceph-rbd');
    assert.equal(out.deep, 'ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('docs/API.md covers every export', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs', 'API.md'), 'utf8');
    const missing = Object.keys(cjs).filter((name) => !new RegExp(`\\b${name}\\b`).test(doc));
    assert.deepEqual(missing, [], 'exports without documentation in docs/API.md');
  });

  it('docs/API.md covers every method of Rados, IoCtx, Rbd, Image, GlanceStore and RbdVolumeDriver', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs', 'API.md'), 'utf8');
    const methods = (proto: object): string[] =>
      Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor' && typeof Object.getOwnPropertyDescriptor(proto, n)?.value === 'function');
    const wanted: Record<string, string[]> = {
      Rados: [...methods(pkg.Rados.prototype), ...methods(pkg.Rados).map((n) => `Rados.${n}`)],
      IoCtx: methods(pkg.IoCtx.prototype),
      Rbd: Object.keys(pkg.Rbd).map((n) => `Rbd.${n}`),
      Image: [...methods(pkg.Image.prototype), ...methods(pkg.Image).map((n) => `Image.${n}`)],
      GlanceStore: [...methods(pkg.GlanceStore.prototype), ...methods(pkg.GlanceStore).map((n) => `GlanceStore.${n}`)],
      RbdVolumeDriver: [...methods(pkg.RbdVolumeDriver.prototype), ...methods(pkg.RbdVolumeDriver).map((n) => `RbdVolumeDriver.${n}`)],
    };
    const missing = Object.entries(wanted).flatMap(([cls, names]) => names.filter((n) => !doc.includes(`\`${n}(`)).map((n) => `${cls}: ${n}`));
    assert.deepEqual(missing, [], 'methods without a line in docs/API.md');
  });

  for (const flavour of ['commonjs', 'nodenext'] as const) {
    it(`the types compile in a consumer project (module ${flavour})`, async () => {
      const file = path.join(dir, flavour === 'nodenext' ? 'consumer.mts' : 'consumer.ts');
      writeFileSync(
        file,
        [
          "import { Rados, Rbd, Image, GlanceStore, RbdVolumeDriver, ImageNotFound, setLogger, type ConnectOptions, type GlanceAddResult } from 'ceph-rbd';",
          '',
          'export async function use(confFile: string): Promise<number> {',
          "  setLogger({ debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined });",
          '  const options: ConnectOptions = { confFile, timeoutMs: 1000 };',
          '  await using cluster = await Rados.connect(options);',
          "  await using ioctx = await cluster.openIoctx('rbd');",
          "  await Rbd.create(ioctx, 'x', 1n << 20n);",
          "  await using image = await Image.open(ioctx, 'x');",
          '  const n: number = await image.write(Buffer.from("hi"), 0);',
          "  const store = await GlanceStore.open({ confFile, pool: 'images' });",
          "  const added: GlanceAddResult = await store.add('id', Buffer.alloc(1));",
          "  const driver = await RbdVolumeDriver.open({ confFile, pool: 'rbd' });",
          "  await driver.createVolume({ id: 'v', size: 1 });",
          '  try { await Image.open(ioctx, "nope"); } catch (e) { if (e instanceof ImageNotFound) return e.errno; }',
          '  // @ts-expect-error: size must be a number or bigint',
          "  await Rbd.create(ioctx, 'y', '1');",
          '  return n + added.size;',
          '}',
          '',
        ].join('\n'),
      );
      const args = [
        tsc,
        '--noEmit',
        '--strict',
        '--target', 'es2022',
        '--lib', 'es2022,esnext.disposable',
        '--module', flavour,
        '--moduleResolution', flavour === 'nodenext' ? 'nodenext' : 'node10',
        '--types', 'node',
        '--typeRoots', path.join(repoRoot, 'node_modules', '@types'),
        file,
      ];
      try {
        await run(process.execPath, args, { cwd: dir });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string };
        assert.fail(`tsc failed on a consumer file:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
    });
  }
});
