// Structured logs through pino: one JSON object a line on stdout, with a level, an ISO time, the
// message and the ids the line concerns (instanceId from the server's child logger; requestId
// from the request being served, whatever layer logs). Never secrets. Any layer may import this.
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type DestinationStream } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose every line also carries these fields (e.g. instanceId, agentId). */
  child(bindings: Record<string, unknown>): Logger;
}

/** The request being served, for every line logged while serving it. */
const request = new AsyncLocalStorage<{ requestId: string }>();

/** Runs `fn` with `requestId` on every log line written inside it, however deep. */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return request.run({ requestId }, fn);
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const base = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // `err` fields are Errors (name, message, stack) wherever they are logged from.
      serializers: { err: pino.stdSerializers.err },
      mixin: () => request.getStore() ?? {},
    },
    // Synchronous: a line logged just before the process exits is not lost.
    destination ?? pino.destination({ fd: 1, sync: true }),
  );
  return wrap(base);
}

function wrap(p: pino.Logger): Logger {
  return {
    debug: (msg, fields) => p.debug(fields ?? {}, msg),
    info: (msg, fields) => p.info(fields ?? {}, msg),
    warn: (msg, fields) => p.warn(fields ?? {}, msg),
    error: (msg, fields) => p.error(fields ?? {}, msg),
    child: (bindings) => wrap(p.child(bindings)),
  };
}

export const silentLogger: Logger = createLogger('silent');
