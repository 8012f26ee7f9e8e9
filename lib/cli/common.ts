/**
 * What every `ceph-rbd` command shares: the connection options the `rbd`
 * tool has (-c/--conf, --id/--user, -n/--name, -k/--keyring, --cluster),
 * output (human text, or exactly one JSON object with --json), error
 * formatting and exit codes:
 *
 *   0  success
 *   1  a Ceph, store or driver error (class, errno name and errno printed)
 *   2  a usage error (unknown option, missing or malformed argument)
 *   130/143/129  interrupted (SIGINT/SIGTERM/SIGHUP) while a long operation was running
 *
 * Secrets are never printed: the CLI takes no key on its command line, and
 * prints neither keyrings nor configuration values.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as path from 'node:path';

import { CephError } from '../errors';
import { setLogger } from '../logger';
import type { ConnectOptions } from '../rados';

/** The package root (dist/lib/cli → ../../..), for scripts/ and package.json. */
export const packageRoot = path.resolve(__dirname, '..', '..', '..');

/** The options every command takes, merged from the program and the command. */
export interface CommonOptions {
  conf?: string;
  id?: string;
  user?: string;
  name?: string;
  keyring?: string;
  cluster?: string;
  /** Seconds; bounds connect and every mon/OSD operation. 0 = librados' defaults. */
  timeout?: number;
  json?: boolean;
  /** true = always, false = never, undefined = when stderr is a TTY. */
  progress?: boolean;
  verbose?: boolean;
}

/** An error in how the command was called: exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

// ---- argument parsers (commander calls them; InvalidArgumentError → exit 2) ----

export function parseInteger(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`Expected an integer from ${min} to ${max} but received '${value}'.`);
    const n = Number(value.trim());
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`Expected an integer from ${min} to ${max} but received '${value}'.`);
    return n;
  };
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

// ---- options ------------------------------------------------------------------

/**
 * Adds the connection and output options to a command. `clientIdOption:
 * false` leaves out `--id` (image upload uses --id for the image id; the
 * cephx id is then --user, --name, or --id before the command group).
 */
export function addCommonOptions(cmd: Command, { clientIdOption = true, connects = true } = {}): Command {
  if (connects) {
    cmd.addOption(new Option('-c, --conf <path>', 'ceph.conf to use (default: $CEPH_CONF, then /etc/ceph/$cluster.conf)'));
    if (clientIdOption) cmd.addOption(new Option('--id <id>', 'cephx client id, without "client." (default: admin)'));
    cmd.addOption(new Option('--user <id>', 'same as --id'));
    cmd.addOption(new Option('-n, --name <type.id>', 'cephx entity name, e.g. client.glance'));
    cmd.addOption(new Option('-k, --keyring <path>', 'keyring file'));
    cmd.addOption(new Option('--cluster <name>', 'cluster name (default: ceph)'));
    cmd.addOption(new Option('--timeout <seconds>', 'bound connect and each mon/OSD operation; 0 = no bound (default: 60)').argParser(parseInteger(0, Math.floor(2 ** 31 / 1000))));
    cmd.addOption(new Option('-v, --verbose', "print the library's log (debug and up) on stderr"));
  }
  cmd.addOption(new Option('--json', 'print exactly one JSON object on stdout'));
  cmd.addOption(new Option('--progress', 'show progress bars even when stderr is not a terminal'));
  cmd.addOption(new Option('--no-progress', 'never show progress bars'));
  return cmd;
}

/** The program's options (given before the command group) overlaid by the command's own. */
export function commonOptions(cmd: Command): CommonOptions {
  const merged: Record<string, unknown> = {};
  const chain: Command[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) chain.unshift(c);
  for (const c of chain) {
    for (const [k, v] of Object.entries(c.opts())) if (v !== undefined) merged[k] = v;
  }
  return merged as CommonOptions;
}

/** The cephx client id from --id/--user/--name ("client." stripped). */
function clientId(o: CommonOptions): string | undefined {
  if (o.name !== undefined) {
    const dot = o.name.indexOf('.');
    const type = dot < 0 ? '' : o.name.slice(0, dot);
    if (type !== 'client' || dot === o.name.length - 1) throw new UsageError(`--name must be client.<id>, got '${o.name}'`);
    return o.name.slice(dot + 1);
  }
  const id = o.user ?? o.id;
  if (id === undefined) return undefined;
  if (id === '') throw new UsageError('--id must not be empty');
  return id.startsWith('client.') ? id.slice('client.'.length) : id;
}

/** Where to connect and as whom, resolved once per command. */
export interface Target {
  /** --conf, else for a non-default --cluster /etc/ceph/<cluster>.conf, else undefined (librados: $CEPH_CONF, …). */
  confFile?: string;
  clientId?: string;
  clusterName?: string;
  timeoutMs?: number;
}

/**
 * Resolves the connection options. The keyring goes into CEPH_ARGS, which
 * librados reads at every connect (so GlanceStore and RbdVolumeDriver, which
 * take no keyring option, use it too); --verbose installs a stderr logger.
 */
export function target(o: CommonOptions): Target {
  if (o.verbose) setLogger(stderrLogger());
  if (o.keyring !== undefined) {
    if (/\s/.test(o.keyring) || o.keyring === '') throw new UsageError('--keyring: the path must not be empty or contain spaces');
    process.env.CEPH_ARGS = [process.env.CEPH_ARGS, '--keyring', o.keyring].filter((s) => s !== undefined && s !== '').join(' ');
  }
  const t: Target = {};
  if (o.conf !== undefined) t.confFile = o.conf;
  else if (o.cluster !== undefined && o.cluster !== 'ceph' && !process.env.CEPH_CONF) t.confFile = `/etc/ceph/${o.cluster}.conf`;
  const id = clientId(o);
  if (id !== undefined) t.clientId = id;
  if (o.cluster !== undefined) t.clusterName = o.cluster;
  const timeout = o.timeout ?? 60;
  if (timeout > 0) t.timeoutMs = timeout * 1000;
  return t;
}

export function connectOptions(t: Target): ConnectOptions {
  return {
    ...(t.confFile !== undefined ? { confFile: t.confFile } : {}),
    ...(t.clientId !== undefined ? { clientId: t.clientId } : {}),
    ...(t.clusterName !== undefined ? { clusterName: t.clusterName } : {}),
    ...(t.timeoutMs !== undefined ? { timeoutMs: t.timeoutMs } : {}),
  };
}

/** A pino-compatible logger that writes `level [component] message` lines on stderr. */
export function stderrLogger(component = 'ceph-rbd'): { debug: (m: string) => void; info: (m: string) => void; warn: (m: string) => void; error: (m: string) => void; child: (b: Record<string, unknown>) => ReturnType<typeof stderrLogger> } {
  const line = (level: string) => (m: string) => {
    process.stderr.write(`${level} [${component}] ${m}\n`);
  };
  return {
    debug: line('debug'),
    info: line('info'),
    warn: line('warn'),
    error: line('error'),
    child: (b) => stderrLogger(typeof b.component === 'string' ? b.component : component),
  };
}

// ---- output -----------------------------------------------------------------

/**
 * Prints a command's result: with --json exactly one JSON object (one line)
 * on stdout, else the human lines.
 */
export function output(o: CommonOptions, result: object, human: () => string | string[]): void {
  if (o.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const text = human();
  const lines = Array.isArray(text) ? text : [text];
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

/** 1536 → '1.5 KiB'. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 || Number.isInteger(v) ? 0 : 1)} ${units[i]}`;
}

/** A table with left-aligned columns, two spaces apart. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [fmt(header), ...rows.map(fmt)];
}

// ---- image references ---------------------------------------------------------

/** An image named on the command line: `rbd://…` (uri set), `pool/image[@snap]` or `image[@snap]` (in `defaultPool`). */
export interface ImageRef {
  uri?: string;
  pool: string;
  image: string;
  snapshot: string | null;
}

/**
 * Parses an image reference as `rbd` takes it (`[pool/]image[@snap]`), or a
 * Glance location URI (left to the store's parser). UsageError (exit 2)
 * when it is neither.
 */
export function parseImageRef(value: string, defaultPool: string): ImageRef {
  // Any URI goes to the store's parser (BadStoreUri for another scheme).
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return { uri: value, pool: defaultPool, image: '', snapshot: null };
  const m = /^(?:([^/@\0]+)\/)?([^/@\0]+)(?:@([^/@\0]+))?$/.exec(value);
  if (!m) throw new UsageError(`'${value}' is not an image: expected [pool/]image[@snapshot] or rbd://<fsid>/<pool>/<image>/<snapshot>`);
  return { pool: m[1] ?? defaultPool, image: m[2], snapshot: m[3] ?? null };
}

// ---- errors ------------------------------------------------------------------

const ARG_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE']);

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
    if (typeof e !== 'object') break;
  }
  return chain;
}

/** The exit code for an error a command threw. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (err instanceof UsageError) return 2;
  const e = err as { name?: string; code?: unknown };
  if ((e?.name === 'TypeError' || e?.name === 'RangeError') && typeof e.code === 'string' && ARG_CODES.has(e.code)) return 2;
  // A location the command line gave that is not one: how the command was called.
  if (e?.code === 'ERR_GLANCE_BAD_STORE_URI') return 2;
  if (interrupted !== undefined && e?.name === 'AbortError') return EXIT_ON_SIGNAL[interrupted];
  return 1;
}

/**
 * `ImageNotFound (ENOENT, errno -2): Image.open: No such file or directory (pool=rbd, image=x)`.
 * A store or driver error that wraps a Ceph error shows that error's errno
 * and, when its own message does not say it already, the Ceph message.
 */
export function formatError(err: unknown): string {
  if (!(err instanceof Error)) return `Error: ${String(err)}`;
  const chain = causes(err);
  const ceph = chain.find((c): c is CephError => c instanceof CephError);
  const sys = ceph ?? (chain.find((c) => typeof (c as { errno?: unknown }).errno === 'number' && typeof (c as { code?: unknown }).code === 'string') as
    | { code: string; errno: number }
    | undefined);
  const own = (err as { code?: unknown }).code;
  let tag = '';
  if (sys) tag = ` (${sys.code}, errno ${sys.errno})`;
  else if (typeof own === 'string') tag = ` (${own})`;
  let text = `${err.name}${tag}: ${err.message}`;
  if (ceph && ceph !== err && !err.message.includes(ceph.message)) text += ` [caused by ${ceph.name}: ${ceph.message}]`;
  return text;
}

/** The JSON form of an error, for --json. */
export function errorJson(err: unknown): { error: Record<string, unknown> } {
  if (!(err instanceof Error)) return { error: { name: 'Error', message: String(err) } };
  const chain = causes(err);
  const ceph = chain.find((c): c is CephError => c instanceof CephError);
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const own = (err as { code?: unknown }).code;
  if (typeof own === 'string') out.code = own;
  if (ceph) {
    out.code ??= ceph.code;
    out.errno = ceph.errno;
    out.op = ceph.op;
    if (ceph !== err) out.cause = { name: ceph.name, code: ceph.code, errno: ceph.errno, op: ceph.op, message: ceph.message };
  } else {
    const errno = (err as { errno?: unknown }).errno;
    if (typeof errno === 'number') out.errno = errno;
  }
  return { error: out };
}

// ---- cancellation ---------------------------------------------------------------

/** The signals that interrupt a long operation, and the exit status each gives (128 + signal number, as shells report). */
const EXIT_ON_SIGNAL = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type Interrupt = keyof typeof EXIT_ON_SIGNAL;

let interrupted: Interrupt | undefined;
let interruption: AbortController | undefined;

/**
 * The command's AbortSignal: it fires on the first SIGINT (Ctrl-C), SIGTERM
 * (timeout, systemd, Kubernetes) or SIGHUP (closed terminal), so a long
 * operation cleans up (a half-written image is removed, its lock released)
 * and the command exits 130/143/129; a second signal exits at once. Before
 * the first long operation asks for it, the signals end the process as usual.
 */
export function interruptSignal(): AbortSignal {
  if (!interruption) {
    const ac = new AbortController();
    interruption = ac;
    const handlers = new Map<Interrupt, () => void>();
    const first = (signal: Interrupt): void => {
      for (const [sig, h] of handlers) process.removeListener(sig, h);
      interrupted = signal;
      process.stderr.write(`\nceph-rbd: interrupted; cleaning up (${signal}; send it again to exit now)\n`);
      ac.abort(new Error(`interrupted (${signal})`));
      for (const sig of Object.keys(EXIT_ON_SIGNAL) as Interrupt[]) process.once(sig, () => process.exit(EXIT_ON_SIGNAL[sig]));
    };
    for (const sig of Object.keys(EXIT_ON_SIGNAL) as Interrupt[]) {
      const h = (): void => first(sig);
      handlers.set(sig, h);
      process.once(sig, h);
    }
  }
  return interruption.signal;
}
