/**
 * A throwaway PostgreSQL server for the serve tests (Debian's `postgresql`
 * binaries under /usr/lib/postgresql/N/bin): initdb in a temporary
 * directory, listening on 127.0.0.1 at a free port, trust authentication.
 * As root it runs as the `postgres` user (PostgreSQL refuses root).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/ (append a database name). */
  url: string;
  createDatabase(name: string): void;
  stop(): void;
}

/** The newest installed server's bin directory, or null. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0], 'bin') : null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBin();
  if (bin === null) throw new Error('PostgreSQL is not installed (Debian: apt-get install postgresql; scripts/bootstrap.sh does)');
  const dir = mkdtempSync(path.join(tmpdir(), 'serve-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]): string => {
    const cmd = path.join(bin, tool);
    return asRoot ? execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : execFileSync(cmd, args, { encoding: 'utf8' });
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c shared_buffers=32MB -c max_connections=80 -c fsync=off`, 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/`;
  return {
    url,
    createDatabase: (name) => {
      run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-q', '-c', `CREATE DATABASE "${name}"`]);
    },
    stop: () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
