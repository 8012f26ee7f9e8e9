#!/usr/bin/env node
/**
 * `ceph-rbd`: the library from the shell.
 *
 *   ceph-rbd cluster up|down|status        a local micro cluster (scripts/micro-osd.sh)
 *   ceph-rbd image upload|download|delete|info|ls       Glance-style images
 *   ceph-rbd volume create|delete|snapshot|…|stats|failover   Cinder-style volumes
 *   ceph-rbd mirror status                 RBD mirroring of a pool, initial sync progress
 *   ceph-rbd serve                          Block Storage v3 + Image v2 APIs
 *
 * Exit status: 0 success, 1 Ceph/store/driver error, 2 usage error, 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { Command, CommanderError } from 'commander';

import { registerCluster } from './cluster';
import { addCommonOptions, errorJson, exitCodeFor, formatError, packageRoot } from './common';
import { registerImage } from './image';
import { registerMirror } from './mirror';
import { registerServe } from './serve';
import { registerVolume } from './volume';

function version(): string {
  try {
    return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The whole command tree; commander's exits become thrown CommanderErrors. */
export function buildProgram(): Command {
  const program = new Command('ceph-rbd');
  program
    .description('Ceph RBD from the shell: Glance-style images, Cinder-style volumes, RBD mirroring, a local micro cluster')
    .version(version(), '-V, --version')
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ outputError: (text, write) => write(`ceph-rbd: ${text.replace(/^error: /, '')}`) })
    .addHelpText(
      'after',
      [
        '',
        'Connection options (-c/--conf, --id, -n/--name, -k/--keyring, --cluster) work as in the rbd tool,',
        'before the command group or after the command; CEPH_CONF and CEPH_ARGS are honoured.',
        'Exit status: 0 success, 1 Ceph/store/driver error, 2 usage error, 130/143/129 interrupted (SIGINT/SIGTERM/SIGHUP).',
      ].join('\n'),
    );
  addCommonOptions(program);
  registerCluster(program);
  registerImage(program);
  registerVolume(program);
  registerMirror(program);
  registerServe(program);
  return program;
}

/** Runs the CLI on `argv` (process.argv shape); resolves the exit status. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const code = exitCodeFor(err);
    const json = argv.includes('--json');
    if (err instanceof CommanderError) {
      // commander printed the message (or the help) already.
      if (json && code !== 0) process.stdout.write(`${JSON.stringify({ error: { name: 'UsageError', code: err.code, message: err.message.replace(/^error: /, '') } })}\n`);
      return code;
    }
    process.stderr.write(`ceph-rbd: ${formatError(err)}\n`);
    if (process.env.CEPH_RBD_DEBUG && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
    if (json) process.stdout.write(`${JSON.stringify(errorJson(err))}\n`);
    return code;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
    // Everything is closed by now; should some handle still hold the loop, do not hang.
    setTimeout(() => process.exit(code), 2000).unref();
  });
}
