/** setLogger(): the library's one logging hook (silent by default, pino-compatible, child per component). */
import { strict as assert } from 'node:assert';

import { componentLogger, getLogger, setLogger, type LoggerLike } from '../../lib/logger';

function recorder(withChild: boolean): { logger: LoggerLike; lines: string[]; bindings: Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const bindings: Array<Record<string, unknown>> = [];
  const make = (prefix: string): LoggerLike => ({
    debug: (m) => lines.push(`${prefix}debug ${m}`),
    info: (m) => lines.push(`${prefix}info ${m}`),
    warn: (m) => lines.push(`${prefix}warn ${m}`),
    error: (m) => lines.push(`${prefix}error ${m}`),
    ...(withChild
      ? {
          child: (b: Record<string, unknown>) => {
            bindings.push(b);
            return make(`[${String(b.component)}] `);
          },
        }
      : {}),
  });
  return { logger: make(''), lines, bindings };
}

describe('setLogger', () => {
  afterEach(() => setLogger(null));

  it('is silent by default: component loggers do nothing and getLogger() is null', () => {
    assert.equal(getLogger(), null);
    const log = componentLogger('glance');
    for (const level of ['debug', 'info', 'warn', 'error'] as const) assert.doesNotThrow(() => log[level]('x'));
  });

  it('forwards to the logger set at call time, also for component loggers made before', () => {
    const log = componentLogger('cinder');
    const r = recorder(false);
    setLogger(r.logger);
    assert.equal(getLogger(), r.logger);
    log.info('one');
    log.error('two');
    setLogger(null);
    log.warn('dropped');
    assert.deepEqual(r.lines, ['info one', 'error two']);
  });

  it("uses child({ component }) once per component when the logger has one (pino's shape)", () => {
    const r = recorder(true);
    setLogger(r.logger);
    const glance = componentLogger('glance');
    glance.debug('a');
    glance.warn('b');
    componentLogger('nova').info('c');
    assert.deepEqual(r.lines, ['[ceph-rbd:glance] debug a', '[ceph-rbd:glance] warn b', '[ceph-rbd:nova] info c']);
    assert.deepEqual(r.bindings, [{ component: 'ceph-rbd:glance' }, { component: 'ceph-rbd:nova' }]);
  });

  it('keeps the method receiver (pino methods use this)', () => {
    const seen: unknown[] = [];
    const logger = {
      debug() {},
      info(this: unknown) {
        seen.push(this);
      },
      warn() {},
      error() {},
    };
    setLogger(logger);
    componentLogger('x').info('m');
    assert.deepEqual(seen, [logger]);
  });

  it('never lets a failing logger fail the caller', () => {
    setLogger({ debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => { throw new Error('disk full'); } });
    assert.doesNotThrow(() => componentLogger('glance').error('boom'));
  });

  it('rejects what is not a logger with a TypeError (ERR_INVALID_ARG_TYPE)', () => {
    assert.throws(() => setLogger({ info: () => undefined } as never), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'Expected a function for logger.debug but received undefined',
    });
    assert.throws(() => setLogger('console' as never), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.equal(getLogger(), null);
  });

  it('accepts console', () => {
    setLogger(console);
    assert.equal(getLogger(), console);
  });
});
