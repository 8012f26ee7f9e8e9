/**
 * `ceph-rbd cluster up|down|status`: the local micro cluster for development,
 * through scripts/micro-osd.sh (the same script the tests, the demo and CI use).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import type { Command } from 'commander';

import { addCommonOptions, collect, commonOptions, output, packageRoot, parseInteger, UsageError } from './common';

export const microOsd = path.join(packageRoot, 'scripts', 'micro-osd.sh');

interface Ran {
  code: number;
  stdout: string;
}

/** Runs micro-osd.sh; its progress (stderr) goes to ours; stdout is captured. */
function runMicroOsd(args: string[]): Promise<Ran> {
  if (!existsSync(microOsd)) throw new UsageError(`${microOsd} is missing`);
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [microOsd, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8') }));
  });
}

class MicroOsdError extends Error {
  constructor(
    readonly step: string,
    readonly exitStatus: number,
  ) {
    super(`micro-osd.sh ${step} failed with exit status ${exitStatus} (its messages are above)`);
    this.name = 'MicroOsdError';
  }
}

interface Daemon {
  name: string;
  pid: number | null;
  alive: boolean;
}

/** micro-osd.sh status lines: `mon.a    pid 1234     alive` / `osd.0    pid -        NOT RUNNING`. */
function parseDaemons(text: string): Daemon[] {
  const out: Daemon[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+pid\s+(\S+)\s+(alive|NOT RUNNING)\s*$/.exec(line);
    if (m) out.push({ name: m[1], pid: /^\d+$/.test(m[2]) ? Number(m[2]) : null, alive: m[3] === 'alive' });
  }
  return out;
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('a local micro cluster for development (scripts/micro-osd.sh)');

  addCommonOptions(
    cluster
      .command('up')
      .description("start a micro cluster (1 mon, 1 mgr, N memstore OSDs on 127.0.0.1) and print 'export CEPH_CONF=…'")
      .option('--dir <dir>', 'cluster directory', '.cluster')
      .option('--osds <n>', 'number of OSDs', parseInteger(1, 16), 1)
      .option('--memstore-bytes <bytes>', 'memstore size per OSD (RAM)', parseInteger(64 * 1024 * 1024))
      .option('--pool <name>', 'another pool to create (repeatable; rbd and images always are)', collect)
      .option('--cephx', 'enable cephx (creates client.glance and its keyring)'),
    { connects: false },
  ).action(async (opts: { dir: string; osds: number; memstoreBytes?: number; pool?: string[]; cephx?: boolean }, cmd: Command) => {
    const o = commonOptions(cmd);
    const args = ['start', opts.dir, '--osds', String(opts.osds)];
    if (opts.memstoreBytes !== undefined) args.push('--memstore-bytes', String(opts.memstoreBytes));
    for (const p of ['images', ...(opts.pool ?? [])]) args.push('--pool', p);
    if (opts.cephx) args.push('--cephx');
    const ran = await runMicroOsd(args);
    if (ran.code !== 0) throw new MicroOsdError('start', ran.code);
    const exports: Record<string, string> = {};
    for (const m of ran.stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) exports[m[1]] = m[2];
    const dir = path.resolve(opts.dir);
    output(o, { dir, confFile: exports.CEPH_CONF ?? path.join(dir, 'ceph.conf'), osds: opts.osds, exports }, () => ran.stdout.trimEnd());
  });

  addCommonOptions(
    cluster
      .command('down')
      .description('stop the micro cluster (only the daemons it started, by pid)')
      .option('--dir <dir>', 'cluster directory', '.cluster')
      .option('--purge', 'also remove the directory'),
    { connects: false },
  ).action(async (opts: { dir: string; purge?: boolean }, cmd: Command) => {
    const o = commonOptions(cmd);
    const ran = await runMicroOsd(['stop', opts.dir, ...(opts.purge ? ['--purge'] : [])]);
    if (ran.code !== 0) throw new MicroOsdError('stop', ran.code);
    const dir = path.resolve(opts.dir);
    output(o, { dir, stopped: true, purged: opts.purge === true }, () => `stopped the cluster in ${dir}${opts.purge ? ' and removed it' : ''}`);
  });

  addCommonOptions(
    cluster
      .command('status')
      .description("each daemon and 'ceph -s'; exit status 1 when a daemon is not running")
      .option('--dir <dir>', 'cluster directory', '.cluster'),
    { connects: false },
  ).action(async (opts: { dir: string }, cmd: Command) => {
    const o = commonOptions(cmd);
    const ran = await runMicroOsd(['status', opts.dir]);
    const dir = path.resolve(opts.dir);
    const daemons = parseDaemons(ran.stdout);
    const running = ran.code === 0 && daemons.length > 0;
    output(o, { dir, confFile: path.join(dir, 'ceph.conf'), running, daemons }, () => ran.stdout.trimEnd());
    if (!running) process.exitCode = 1;
  });
}
