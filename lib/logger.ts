/**
 * The library's one logging hook. Nothing is printed unless the application
 * hands over a logger with `setLogger()`: any pino-compatible object (pino,
 * bunyan, winston, `console`, or a plain object) with `debug`, `info`,
 * `warn` and `error` methods, and optionally `child(bindings)`.
 *
 * Components (GlanceStore, RbdVolumeDriver, directSnapshot) log through
 * `componentLogger(name)`, which looks the global logger up at each call, so
 * `setLogger()` takes effect for objects created before it too. A logger
 * passed in a component's own options (`logger`) wins over the global one.
 */
import { invalidType } from './validate';

/** A log method: pino's `(msg)` / `(obj, msg)` shapes both fit. */
export type LogFn = (message: string, ...args: unknown[]) => void;

/**
 * The library's one logger type: the four levels, every one present.
 * Components hold one (from componentLogger()), so a call is always
 * `log.warn(...)`. A component's `logger` option may leave levels out
 * (`Partial<Logger>`): those are silent.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** What setLogger() accepts: a Logger, with pino's `child` optional. */
export interface LoggerLike extends Logger {
  /** pino's child(bindings): when present, each component logs through child({ component }). */
  child?(bindings: Record<string, unknown>): LoggerLike;
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

let current: LoggerLike | null = null;
/** child({ component }) of the current logger, made once per component. */
let children = new Map<string, LoggerLike>();

/**
 * Sets the logger every part of the library reports to; `null` or
 * `undefined` makes it silent again (the default). TypeError
 * (ERR_INVALID_ARG_TYPE) when `logger` lacks one of debug/info/warn/error.
 */
export function setLogger(logger: LoggerLike | null | undefined): void {
  if (logger === null || logger === undefined) {
    current = null;
  } else {
    if (typeof logger !== 'object' && typeof logger !== 'function') throw invalidType('logger', 'an object with debug, info, warn and error methods', logger);
    for (const level of LEVELS) {
      if (typeof (logger as unknown as Record<string, unknown>)[level] !== 'function') {
        throw invalidType(`logger.${level}`, 'a function', (logger as unknown as Record<string, unknown>)[level]);
      }
    }
    current = logger;
  }
  children = new Map();
}

/** The logger set with setLogger(), or null when the library is silent. */
export function getLogger(): LoggerLike | null {
  return current;
}

function target(component: string): LoggerLike | null {
  const base = current;
  if (base === null) return null;
  if (typeof base.child !== 'function') return base;
  let child = children.get(component);
  if (child === undefined) {
    try {
      child = base.child({ component: `ceph-rbd:${component}` });
    } catch {
      child = base;
    }
    children.set(component, child);
  }
  return child;
}

function emit(component: string, level: Level, message: string, args: unknown[]): void {
  const logger = target(component);
  if (logger === null) return;
  try {
    logger[level](message, ...args);
  } catch {
    // A failing logger must never fail a storage operation.
  }
}

/**
 * A logger for one component. Without `own`, it forwards to whatever
 * setLogger() installed at the time of each call (nothing when none is).
 * With `own` (a component's `logger` option), it logs there: a level `own`
 * lacks is silent, and a throwing logger never fails the operation.
 */
export function componentLogger(component: string, own?: Partial<Logger>): Logger {
  if (own === undefined || own === null) {
    return {
      debug: (message, ...args) => emit(component, 'debug', message, args),
      info: (message, ...args) => emit(component, 'info', message, args),
      warn: (message, ...args) => emit(component, 'warn', message, args),
      error: (message, ...args) => emit(component, 'error', message, args),
    };
  }
  const level = (name: Level): LogFn => (message, ...args) => {
    const fn = own[name];
    if (typeof fn !== 'function') return;
    try {
      fn.call(own, message, ...args);
    } catch {
      // A failing logger must never fail a storage operation.
    }
  };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}
