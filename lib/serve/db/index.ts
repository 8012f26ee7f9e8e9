/**
 * The service's database: SQLite in the data directory by default (the
 * embedded default), PostgreSQL when given a postgres:// URL. The drivers
 * (better-sqlite3, pg) are loaded here only, when `serve` opens its
 * database, so `require('ceph-rbd')` never loads them.
 */
import * as path from 'node:path';

import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';

import { migrate } from './migrations';
import type { Database } from './schema';

export type { Database } from './schema';

export type Db = Kysely<Database>;

export interface OpenedDatabase {
  db: Db;
  /** 'sqlite' or 'postgres'. */
  kind: 'sqlite' | 'postgres';
  /** Where it is (file path, or the URL without its password). */
  where: string;
}

/** The optional database driver `name`, or an error saying how to get it. */
function load<T>(name: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (err) {
    throw new Error(`the ${name} package (an optional dependency of ceph-rbd) is not installed or not built: npm install ${name}`, { cause: err });
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/**
 * Opens (creating when needed) and migrates the database. `url` undefined:
 * `<dataDir>/ceph-rbd-serve.sqlite`; `sqlite:PATH` or a plain path: that
 * SQLite file; `postgres://…` / `postgresql://…`: PostgreSQL.
 */
export async function openDatabase(url: string | undefined, dataDir: string): Promise<OpenedDatabase> {
  let opened: OpenedDatabase;
  if (url !== undefined && /^postgres(ql)?:\/\//.test(url)) {
    const pg = load<typeof import('pg')>('pg');
    // bigint columns come back as numbers (sizes stay below 2^53).
    pg.types.setTypeParser(20, (v) => Number(v));
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    opened = { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), kind: 'postgres', where: redact(url) };
  } else {
    const file = url === undefined ? path.join(dataDir, 'ceph-rbd-serve.sqlite') : url.replace(/^sqlite:(\/\/)?/, '');
    const BetterSqlite = load<typeof import('better-sqlite3')>('better-sqlite3');
    const database = new BetterSqlite(file);
    database.pragma('journal_mode = WAL');
    database.pragma('busy_timeout = 5000');
    opened = { db: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), kind: 'sqlite', where: file };
  }
  try {
    await migrate(opened.db as unknown as Kysely<unknown>);
  } catch (err) {
    await opened.db.destroy();
    throw err;
  }
  return opened;
}
