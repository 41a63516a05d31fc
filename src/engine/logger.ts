// Structured logs: one JSON object a line, with the ids a line concerns; never secrets.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at = (l: Exclude<LogLevel, 'silent'>) => (msg: string, fields?: Record<string, unknown>) => {
    if (LOG_LEVELS.indexOf(l) < min) return;
    const extra = fields && fields.err instanceof Error ? { ...fields, err: errorFields(fields.err) } : fields;
    write(`${JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...extra })}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function errorFields(e: Error): Record<string, unknown> {
  return { name: e.name, message: e.message, stack: e.stack };
}

export const silentLogger: Logger = createLogger('silent');
