/**
 * `ceph-rbd bench [args…]`: runs the benchmark (dist/scripts/bench/run.js,
 * `npm run bench`), passing every argument through unchanged (`ceph-rbd
 * bench --help` shows its options). Only in a checkout of the repository:
 * the published package does not ship the benchmark.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import type { Command } from 'commander';

import { commonOptions, packageRoot } from './common';

export const benchScript = path.join(packageRoot, 'dist', 'scripts', 'bench', 'run.js');

class BenchUnavailable extends Error {
  constructor() {
    super(`the benchmark is not here (${benchScript}): it runs from a checkout of the repository after 'npm run build'`);
    this.name = 'BenchUnavailable';
  }
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description("run the benchmark (npm run bench); all arguments go to it ('ceph-rbd bench --help')")
    .argument('[args...]', 'benchmark arguments')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .passThroughOptions()
    .action(async (args: string[], _opts: unknown, cmd: Command) => {
      if (!existsSync(benchScript)) throw new BenchUnavailable();
      // Program options given before `bench` (--conf, --id, …) reach it as the environment.
      const o = commonOptions(cmd);
      const env = { ...process.env };
      if (o.conf !== undefined) env.CEPH_CONF = path.resolve(o.conf);
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, [benchScript, ...args], { stdio: 'inherit', env });
        const forward = (sig: NodeJS.Signals) => child.kill(sig);
        process.on('SIGINT', forward);
        process.on('SIGTERM', forward);
        child.once('error', reject);
        child.once('close', (c, signal) => {
          process.off('SIGINT', forward);
          process.off('SIGTERM', forward);
          resolve(c ?? (signal === 'SIGINT' ? 130 : 1));
        });
      });
      process.exitCode = code;
    });
}
