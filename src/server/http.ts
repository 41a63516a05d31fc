// One port for everything: GraphQL over HTTP (Apollo Server on Node's handler) and over WebSocket
// (graphql-ws) at /graphql, plus /healthz, /readyz and /metrics (express). Owns start-up and the
// graceful stop.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import express from 'express';
import { WebSocketServer } from 'ws';
import { BuiltinRunner } from '../agents/runner';
import type { EventBus } from '../events/event-bus';
import { MemoryBus } from '../events/memory-bus';
import { RedisBus } from '../events/redis-bus';
import { createLogger, type Logger } from '../support/logger';
import { claimInOwnTransactions, claimInWrites } from '../engine/dispatch/strategy';
import { Orchestrator } from '../engine/orchestrator';
import { createContext, type GraphQLContext, type Lifecycle } from '../graphql/context';
import { formatError } from '../graphql/errors';
import { introspectionRules } from '../graphql/introspection';
import { limitsPlugin } from '../graphql/limits';
import { ResponseCache } from '../graphql/response-cache';
import { createSchema } from '../graphql/schema';
import { migrate } from '../storage/migrate';
import { PgliteDriver } from '../storage/pglite';
import { PostgresDriver } from '../storage/postgres';
import { SqlStore } from '../storage/sql-store';
import type { Config } from './config';
import { graphqlOverHttp, isGraphQLPath } from './graphql-http';
import { graphqlOverWebSocket } from './graphql-ws';
import { ConnectionGuard } from './guards';
import { renderMetrics } from './metrics';

export interface RunningServer {
  /** http://host:port/graphql */
  url: string;
  /** ws://host:port/graphql */
  wsUrl: string;
  port: number;
  orchestrator: Orchestrator;
  /** Graceful stop; idempotent. `graceMs` bounds the wait for in-flight requests. */
  close(graceMs?: number): Promise<void>;
  /** Resolves once the server has stopped, however it was asked to. */
  closed: Promise<void>;
}

export interface ServerOptions {
  log?: Logger;
}

export async function startServer(config: Config, opts: ServerOptions = {}): Promise<RunningServer> {
  const log = (opts.log ?? createLogger(config.logLevel)).child({ instanceId: config.engine.instanceId });
  const driver = config.database
    ? await PostgresDriver.open({ ...config.database, log })
    : await PgliteDriver.open(config.dataDir, { maintenanceIntervalMs: config.vacuumIntervalMs, log });
  const applied = await migrate(driver);
  if (applied.length) log.info('migrations applied', { versions: applied, storage: driver.kind });
  const store = SqlStore.over(driver);
  const bus: EventBus = config.redisUrl ? RedisBus.connect(config.redisUrl, log, eventChannel(config)) : new MemoryBus();
  // The one place that knows which store this is: one connection (PGlite) or a pool (PostgreSQL).
  const dispatch = store.oneConnection ? claimInWrites : claimInOwnTransactions;
  const orchestrator = new Orchestrator({ store, bus, options: config.engine, dispatch, log });
  const schema = await createSchema();
  const responseCache = new ResponseCache(() => driver.changeCount(), config.queryCacheBytes);

  // GraphQL operations still executing: one whose client hung up has no connection left for the
  // HTTP drain to wait on, but it still reads and writes storage until it ends.
  const operations = new InFlight();
  let closing: Promise<void> | null = null;
  let markClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => (markClosed = r));
  const lifecycle: Lifecycle = {
    shutdown: (drainTimeoutMs) => {
      log.info('shutdown requested through the API', { drainTimeoutMs });
      setImmediate(() => void close(drainTimeoutMs));
    },
  };
  const context = (clientGone?: () => AbortSignal): GraphQLContext => createContext(orchestrator, lifecycle, clientGone);
  // Apollo's hideSchemaDetailsFromClientErrors would strip suggestions from validation errors
  // over HTTP only; formatting strips them on both transports, from variable coercion too.
  const format = formatError(log, { hideSuggestions: !config.introspection });
  const validationRules = introspectionRules(config.introspection);

  const app = express();
  app.disable('x-powered-by');
  let graphql: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  const guard = new ConnectionGuard({ corsOrigins: config.corsOrigins, connections: config.connections, poolSize: config.database?.poolSize, log });
  const { timeouts } = config;
  const httpServer: HttpServer = createServer(
    {
      // Node's defaults let a connection that sends nothing hold its socket for up to 90 s
      // (60 s, checked every 30 s): enough to run the process out of files with idle sockets.
      headersTimeout: timeouts.httpHeadersMs,
      requestTimeout: timeouts.httpRequestMs,
      keepAliveTimeout: timeouts.httpKeepAliveMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.httpHeadersMs / 2))),
    },
    (req, res) => {
      if (!graphql || !isGraphQLPath(req.url)) app(req, res);
      else if (!guard.cors(req, res)) graphql(req, res);
    },
  );
  const wsServer = new WebSocketServer({ noServer: true, path: '/graphql', maxPayload: config.maxBodyBytes });
  guard.attach(httpServer, wsServer);
  const wsCleanup = graphqlOverWebSocket(wsServer, {
    schema,
    limits: config.limits,
    validationRules,
    initTimeoutMs: timeouts.wsInitMs,
    guard,
    context: () => context(),
    format,
  });

  wsServer.on('connection', (socket) => {
    // graphql-ws answers a socket error with console.error and a stack trace; ws has already closed
    // the socket with the right code (1009 for an oversized message). Log it the way we log.
    socket.removeAllListeners('error');
    socket.on('error', (err: Error & { code?: string }) => log.warn('WebSocket closed on error', { error: err.message, code: err.code }));
  });

  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError: format,
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false,
    // Introspection is refused, when it is off, by `validationRules`: the rule WebSocket runs too,
    // so both say the same. Apollo's own would add a second error advising its constructor option.
    introspection: true,
    validationRules,
    parseOptions: { maxTokens: config.limits.maxTokens },
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: config.shutdownTimeoutMs }),
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
      limitsPlugin(schema, config.limits),
      responseCache.plugin(),
      {
        async requestDidStart() {
          const done = operations.start();
          return { async willSendResponse() { done(); } };
        },
      },
    ],
  });
  await apollo.start();

  let stopping = false;
  // Anyone may ask: no host name or pid here (they name the machine to a stranger); the
  // instance id is in the GraphQL `status` query.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: config.engine.version });
  });
  app.get('/readyz', async (_req, res) => {
    const storage = await store.ping();
    const ready = storage && !stopping;
    // Without Redis this instance still serves every query and mutation, so it stays ready;
    // `events` says whether other instances hear of its changes.
    res.status(ready ? 200 : 503).json({
      status: stopping ? 'stopping' : ready ? 'ready' : 'unavailable',
      storage: storage ? 'up' : 'down',
      storageKind: driver.kind,
      events: bus.status(),
    });
  });
  app.get('/metrics', async (_req, res) => {
    try {
      res.type('text/plain; version=0.0.4').send(await renderMetrics(orchestrator, responseCache, driver.maintenanceStats()));
    } catch (err) {
      log.warn('metrics failed', { err });
      res.status(503).type('text/plain').send('# storage unavailable\n');
    }
  });
  graphql = graphqlOverHttp(apollo, { maxBodyBytes: config.maxBodyBytes, context, log });

  // Everything is running before the port opens: a request (even `shutdown`) never meets a
  // half-started instance.
  await orchestrator.start();
  const builtins = new BuiltinRunner(orchestrator, log);
  await builtins.start();
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  log.info('server listening', {
    url: `http://${host}:${port}/graphql`,
    storage: config.database ? 'postgres' : `pglite ${config.dataDir}`,
    events: config.redisUrl ? 'redis' : 'in-process',
  });

  function close(graceMs = config.shutdownTimeoutMs): Promise<void> {
    closing ??= (async () => {
      stopping = true;
      const deadline = Date.now() + graceMs;
      log.info('server stopping', { graceMs });
      const force = setTimeout(() => httpServer.closeAllConnections(), Math.min(graceMs, config.shutdownTimeoutMs) + 50);
      force.unref();
      try {
        // Stop taking work; running built-in tasks get up to graceMs, then go back to the queue.
        await builtins.stop(graceMs);
        // Stops listening, completes open subscriptions (graphql-ws), waits for in-flight requests.
        await apollo.stop();
        await new Promise<void>((r) => wsServer.close(() => r()));
        // Operations whose clients left finish before storage closes under them.
        await operations.idle(Math.max(0, deadline - Date.now()));
      } catch (err) {
        log.error('error while stopping the server', { err });
      } finally {
        clearTimeout(force);
        await orchestrator.stop();
        await bus.close();
        await store.close();
        log.info('server stopped');
        markClosed();
      }
    })();
    return closing;
  }

  return { url: `http://${host}:${port}/graphql`, wsUrl: `ws://${host}:${port}/graphql`, port, orchestrator, close, closed };
}

/**
 * Instances that share a database share an event channel, and only those: two deployments (or
 * two test runs) on one Redis never hear each other.
 */
export function eventChannel(config: Config): string {
  const db = config.database;
  const where = db ? `${db.url.replace(/\/\/[^@/]*@/, '//')}#${db.schema ?? 'public'}` : `pglite:${config.dataDir}`;
  return `orchestrator:events:${createHash('sha256').update(where).digest('hex').slice(0, 16)}`;
}

/** Counts running operations; idle() resolves when none is left, or after at most `ms`. */
class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  start(): () => void {
    this.count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.count === 0) for (const wake of this.waiters.splice(0)) wake();
    };
  }

  idle(ms: number): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
