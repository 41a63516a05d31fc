// The server process: reads the configuration, starts the server, and stops it gracefully on
// SIGTERM/SIGINT or the `shutdown` mutation, exiting 0 within SHUTDOWN_TIMEOUT_MS.
// `node dist/src/server/main.js` runs it directly; `orchestrator serve` runs it from the CLI.
import 'reflect-metadata';
import { createLogger } from '../support/logger';
import { ConfigError, loadConfig } from './config';
import { startServer } from './http';
import { packageVersion } from './version';

/** A signal this soon after the first is its echo (see onSignal), not a second request. */
const REPEATED_SIGNAL_MS = 1000;
/** How often a server started through npm checks that its parent is still there. */
const PARENT_CHECK_MS = 500;

/** Runs a server until it is told to stop; resolves with the exit code. */
export async function runServer(env: NodeJS.ProcessEnv): Promise<number> {
  let config;
  try {
    config = loadConfig(env, packageVersion());
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  const server = await startServer(config, { log });
  let signalledAt: number | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalledAt !== null) {
      // Ctrl-C on `npm start` signals twice: the terminal's SIGINT to the whole process group, and
      // npm's forwarded copy a moment later. That echo is the same request; only a signal sent
      // later (a person pressing Ctrl-C again) means "stop waiting".
      if (Date.now() - signalledAt < REPEATED_SIGNAL_MS) {
        log.info('repeated signal ignored: already stopping', { signal });
        return;
      }
      log.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    signalledAt = Date.now();
    log.info('signal received', { signal });
    void server.close();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const parent = process.ppid;
  const orphaned = config.stopWithParent
    ? setInterval(() => {
        if (process.ppid === parent) return;
        log.info('the process that started this one is gone: stopping', { parent });
        onSignal('SIGTERM');
      }, PARENT_CHECK_MS)
    : null;
  orphaned?.unref();
  await server.closed;
  if (orphaned) clearInterval(orphaned);
  return 0;
}

/** Exits with the code, even if a stray handle (a half-closed socket) would keep the loop alive. */
export function exitWith(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 100).unref();
}

export function failedToStart(err: unknown): never {
  process.stderr.write(
    `${JSON.stringify({ level: 'error', msg: 'server failed to start', err: String(err instanceof Error ? err.stack : err) })}\n`,
  );
  process.exit(1);
}

if (require.main === module) runServer(process.env).then(exitWith, failedToStart);
