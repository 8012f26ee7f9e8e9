/**
 * `ceph-rbd serve` for tests: started as a real process on ephemeral ports
 * (127.0.0.1, port 0; the `listening …` line says where), and the real
 * OpenStack clients (cinder, glance, openstack) run as subprocesses against it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';

import { confFile, repoRoot } from './cluster';

const bin = `${repoRoot}/dist/lib/cli/main.js`;

export interface Service {
  proc: ChildProcess;
  pid: number;
  volumeUrl: string;
  imageUrl: string;
  /** What the service wrote on stderr so far. */
  stderr(): string;
  /** SIGTERM and wait for the exit; resolves the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Starts the service on the test cluster; rejects with its stderr when it
 * exits before listening. `script`: run instead of the CLI (a test helper
 * taking the CLI's arguments, e.g. serve-die-at.js).
 */
export function startService(dataDir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}, script = bin): Promise<Service> {
  const proc = spawn(
    process.execPath,
    [script, 'serve', '--conf', confFile(), '--data-dir', dataDir, '--volume-port', '0', '--image-port', '0', '--volume-pool', 'rbd', '--image-pool', 'images', ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let err = '';
  let out = '';
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`serve did not start within 60 s; stderr:\n${err}`));
    }, 60_000);
    let listening = false;
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`serve exited (${code ?? signal}) before listening; stderr:\n${err}`));
    });
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening volume=(\S+) image=(\S+)/.exec(out);
      if (!m) return;
      if (listening) return;
      listening = true;
      clearTimeout(timer);
      resolve({
        proc,
        pid: proc.pid!,
        volumeUrl: m[1],
        imageUrl: m[2],
        stderr: () => err,
        stop: async () => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          return exited;
        },
        kill: async () => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

/** Runs a client command; never rejects (the exit code is in the result). */
export function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve) => {
    // stdin closed at once: `glance image-create` without --file reads image data from a non-TTY stdin.
    const child = execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, OS_CLOUD: '', HOME: process.env.HOME ?? '/tmp' } }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end();
  });
}

/** `cinder --os-auth-type noauth … ARGS` as user/project against the service. */
export function cinder(svc: Service, project: string, args: string[], user = 'u-' + project): Promise<Ran> {
  return run('cinder', ['--os-auth-type', 'noauth', '--os-user-id', user, '--os-project-id', project, '--os-endpoint', svc.volumeUrl, ...args]);
}

/** `glance --os-image-url … --os-auth-token user:project ARGS`. */
export function glance(svc: Service, project: string, args: string[], user = 'u-' + project): Promise<Ran> {
  return run('glance', ['--os-image-url', svc.imageUrl, '--os-auth-token', `${user}:${project}`, ...args]);
}

/** The value of `| key | value |` in a client's property table. */
export function prop(table: string, key: string): string | undefined {
  const re = new RegExp(`^\\|\\s*${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\|\\s*(.*?)\\s*\\|\\s*$`, 'm');
  return re.exec(table)?.[1];
}

/** A JSON request to the service's API as user:project. */
export async function api(url: string, project: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { 'x-auth-token': `u-${project}:${project}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}

/** Polls `get` until `done(value)` (or throws after `timeoutMs` with the last value). */
export async function waitFor<T>(get: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (done(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting; last value: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
