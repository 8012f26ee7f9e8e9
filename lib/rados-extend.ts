/** Adds methods to Rados/IoCtx from the librados extension modules (non-enumerable, like class methods). */
export function extend<T extends object>(proto: T, methods: Record<string, (this: never, ...args: never[]) => unknown>): void {
  for (const [name, fn] of Object.entries(methods)) {
    Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
}

/** A Buffer from a Uint8Array or a string (UTF-8). */
export function bytes(value: unknown, name: string, check: (v: unknown, n: string) => Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : check(value, name);
}
