// Configuration: read from the environment once, validated, into one typed object.
// Nothing else in the code base reads process.env.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { type EngineOptions } from '../engine/context';
import { LOG_LEVELS, type LogLevel } from '../support/logger';
import type { QueryLimits } from '../graphql/limits';
import { browserOrigin, type ConnectionLimits } from './guards';

export interface Config {
  port: number;
  host: string;
  /** PGlite data directory; `memory://` keeps everything in memory (tests). */
  dataDir: string;
  /** PostgreSQL instead of PGlite, when set. */
  database: { url: string; poolSize: number; schema: string | null } | null;
  /** Redis pub/sub for events across instances, when set. */
  redisUrl: string | null;
  logLevel: LogLevel;
  maxBodyBytes: number;
  /** Upper bound on a graceful stop: in-flight requests after this are cut. */
  shutdownTimeoutMs: number;
  /** Origins (besides the server's own) whose pages may use /graphql over HTTP (CORS) and WebSocket. */
  corsOrigins: string[];
  connections: ConnectionLimits;
  timeouts: ConnectionTimeouts;
  limits: QueryLimits;
  /**
   * Whether clients may see the schema: introspection (`__schema`, `__type`) and "Did you mean"
   * suggestions in errors. One switch for every client today; per-role access would decide it
   * per request from here.
   */
  introspection: boolean;
  /** Memory for answers of repeated queries (PGlite only); 0 turns the cache off. */
  queryCacheBytes: number;
  /** How often the embedded store (PGlite) vacuums and checkpoints what needs it; 0: never. */
  vacuumIntervalMs: number;
  engine: EngineOptions;
  /**
   * Started through npm (`npx orchestrator serve`, `npm run dev`): npm runs us under `sh -c`, which
   * dies on SIGTERM without passing it on, so the server stops when its parent goes away instead.
   */
  stopWithParent: boolean;
}

/** How long a connection may hold a socket without doing its part. */
export interface ConnectionTimeouts {
  /** From a connection's start (or its previous answer) to the end of a request's headers. */
  httpHeadersMs: number;
  /** To the end of a request's body; an answer may take longer (a long-poll waits up to a minute). */
  httpRequestMs: number;
  /** An idle keep-alive connection between requests. */
  httpKeepAliveMs: number;
  /** A WebSocket that has not sent graphql-ws's connection_init. */
  wsInitMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Every variable the server reads, with its default and meaning (the README lists the same). */
export const ENV_VARS = {
  PORT: ['4000', 'TCP port for HTTP and WebSocket (0 picks a free one)'],
  HOST: ['127.0.0.1', 'address to listen on (0.0.0.0 for all interfaces)'],
  DATA_DIR: ['./data', 'PGlite data directory (when DATABASE_URL is not set)'],
  DATABASE_URL: ['', 'PostgreSQL connection string; unset: the embedded PGlite in DATA_DIR'],
  DATABASE_POOL_SIZE: ['10', 'connections in the PostgreSQL pool of this instance'],
  DATABASE_SCHEMA: ['', 'PostgreSQL schema to use (created when missing); unset: the default search_path'],
  REDIS_URL: ['', 'Redis for events across instances; unset: in-process events (one instance)'],
  LOG_LEVEL: ['info', 'debug, info, warn, error or silent'],
  MAX_BODY_BYTES: ['1048576', 'largest HTTP request body and WebSocket message'],
  LEASE_TIMEOUT_MS: ['30000', 'how long a task lease lives without a heartbeat'],
  SHUTDOWN_TIMEOUT_MS: ['10000', 'upper bound on a graceful stop'],
  INSTANCE_TIMEOUT_MS: ['5000', 'an instance unseen this long is dead (PostgreSQL): its built-in tasks go back to the queue'],
  MAX_TASK_HANDBACKS: ['3', 'times a task goes back to the queue, attempt unspent, after the instance running it died'],
  MAX_CONNECTIONS: ['12000', 'open TCP connections, HTTP and WebSocket together; more are dropped on accept (lowered to fit the open-file limit)'],
  MAX_WS_CONNECTIONS: ['10000', 'open WebSockets, below MAX_CONNECTIONS so HTTP keeps room; more are refused with 503'],
  MAX_SUBSCRIPTIONS_PER_CONNECTION: ['100', 'operations running at once on one WebSocket; one more gets a RATE_LIMITED error'],
  HTTP_HEADERS_TIMEOUT_MS: ['10000', 'a connection that has not sent a whole request head by then is answered 408 and closed'],
  HTTP_REQUEST_TIMEOUT_MS: ['60000', 'a request whose body has not fully arrived by then is answered 408 and closed (waiting for the answer is not limited)'],
  HTTP_KEEP_ALIVE_TIMEOUT_MS: ['5000', 'an idle keep-alive HTTP connection is closed after this'],
  WS_INIT_TIMEOUT_MS: ['3000', 'a WebSocket that has not sent connection_init by then is closed (4408)'],
  CORS_ORIGINS: ['', 'comma-separated origins (https://app.example.com) whose pages may use /graphql and its WebSocket; the server\'s own origin always may'],
  MAX_QUERY_DEPTH: ['12', 'deepest selection a query may have'],
  MAX_QUERY_COMPLEXITY: ['20000', 'highest estimated cost a query may have'],
  MAX_QUERY_TOKENS: ['15000', 'most tokens (names, punctuation, values) a GraphQL document may have'],
  INTROSPECTION: ['true (production: false)', 'true: clients may introspect the schema and get "Did you mean" suggestions'],
  NODE_ENV: ['', 'production: turns INTROSPECTION off unless it is set'],
  QUERY_CACHE_MB: ['32', 'memory for answers of repeated queries, served until data changes (PGlite only; 0: off)'],
  VACUUM_INTERVAL_MS: ['10000', 'how often PGlite vacuums and checkpoints what changed enough, as autovacuum would (0: never; PostgreSQL runs its own)'],
  MAX_JSON_BYTES: ['262144', 'largest JSON value (metadata, error context, cache value)'],
  MAX_JSON_DEPTH: ['64', 'most levels of objects and arrays in one JSON value (up to 1000)'],
  HEALTH_HEALTHY_MIN: ['80', 'score at or above which health is HEALTHY'],
  HEALTH_DEGRADED_MIN: ['50', 'score at or above which health is DEGRADED (below: CRITICAL)'],
  HEALTH_CHANGE_STEP: ['10', 'score move that fires healthChanged without a status change'],
  HEALTH_ERROR_WINDOW_MS: ['300000', 'errors newer than this count against health'],
  HEALTH_QUEUE_AGE_LIMIT_MS: ['300000', 'queue wait that drives the queue component to 0'],
  HEALTH_INTERVAL_MS: ['5000', 'how often health is re-evaluated without a triggering change'],
  SWEEP_INTERVAL_MS: ['1000', 'how often expired leases, task timeouts and silent agents are handled'],
  PROGRESS_THROTTLE_MS: ['1000', 'progress of one task is announced at most this often'],
  MAX_WORKFLOW_STEPS: ['10000', 'most steps one workflow may have'],
  MAX_WORKFLOW_EDGES: ['50000', 'most dependsOn entries one workflow may have over all its steps'],
  MAX_AGENTS: ['10000', 'most remote agents registered at once (built-in agents do not count)'],
  BUILTIN_CONCURRENCY: ['50', 'tasks each built-in agent runs at once'],
  CACHE_PURGE_INTERVAL_MS: ['60000', 'how often expired cache entries are removed from storage'],
  INSTANCE_ID: ['<host>-<pid>-<random>', 'name of this instance in status and logs'],
} as const satisfies Record<string, readonly [string, string]>;

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env, version = '0.0.0'): Config {
  const problems: string[] = [];
  const raw = (name: keyof typeof ENV_VARS) => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? ENV_VARS[name][0] : v.trim();
  };
  const bool = (name: keyof typeof ENV_VARS, fallback: boolean): boolean => {
    const text = env[name]?.trim().toLowerCase() || String(fallback);
    if (text !== 'true' && text !== 'false') problems.push(`${name} must be true or false (got ${JSON.stringify(env[name])})`);
    return text === 'true' || (text !== 'false' && fallback);
  };
  const int = (name: keyof typeof ENV_VARS, min: number, max: number): number => {
    const text = raw(name);
    const n = Number(text);
    if (!/^-?\d+$/.test(text) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(text)})`);
      return Number(ENV_VARS[name][0]);
    }
    return n;
  };

  const logLevel = raw('LOG_LEVEL') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(logLevel)})`);
  const dataDir = raw('DATA_DIR');
  const healthy = int('HEALTH_HEALTHY_MIN', 1, 100);
  const degraded = int('HEALTH_DEGRADED_MIN', 0, 100);
  if (degraded >= healthy) problems.push('HEALTH_DEGRADED_MIN must be below HEALTH_HEALTHY_MIN');
  for (const [name, scheme] of [['DATABASE_URL', /^postgres(ql)?:\/\//], ['REDIS_URL', /^rediss?:\/\//]] as const) {
    if (raw(name) && !scheme.test(raw(name))) problems.push(`${name} must be a ${name === 'REDIS_URL' ? 'redis://' : 'postgres://'} URL`);
  }
  if (raw('DATABASE_SCHEMA') && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(raw('DATABASE_SCHEMA'))) {
    problems.push('DATABASE_SCHEMA must be a plain identifier (letters, digits, _)');
  }
  const corsOrigins: string[] = [];
  for (const entry of raw('CORS_ORIGINS').split(',').map((o) => o.trim()).filter(Boolean)) {
    const origin = browserOrigin(entry);
    if (origin) corsOrigins.push(origin);
    else problems.push(`CORS_ORIGINS: ${JSON.stringify(entry)} is not an origin like https://app.example.com (no path, no *)`);
  }
  const connections: ConnectionLimits = {
    maxConnections: int('MAX_CONNECTIONS', 2, 1_000_000),
    maxWsConnections: int('MAX_WS_CONNECTIONS', 1, 1_000_000),
    maxSubscriptionsPerConnection: int('MAX_SUBSCRIPTIONS_PER_CONNECTION', 1, 100_000),
  };
  if (connections.maxWsConnections >= connections.maxConnections) {
    problems.push('MAX_WS_CONNECTIONS must be below MAX_CONNECTIONS (the rest is room for HTTP, /healthz and /readyz)');
  }
  const timeouts: ConnectionTimeouts = {
    httpHeadersMs: int('HTTP_HEADERS_TIMEOUT_MS', 100, 600_000),
    httpRequestMs: int('HTTP_REQUEST_TIMEOUT_MS', 100, 3600_000),
    httpKeepAliveMs: int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 100, 600_000),
    wsInitMs: int('WS_INIT_TIMEOUT_MS', 100, 600_000),
  };
  if (timeouts.httpHeadersMs > timeouts.httpRequestMs) problems.push('HTTP_HEADERS_TIMEOUT_MS must not be above HTTP_REQUEST_TIMEOUT_MS');
  const instanceId = env.INSTANCE_ID?.trim() || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

  const config: Config = {
    stopWithParent: Boolean(env.npm_lifecycle_event),
    port: int('PORT', 0, 65535),
    host: raw('HOST'),
    dataDir: dataDir.startsWith('memory://') ? dataDir : resolve(dataDir),
    database: raw('DATABASE_URL')
      ? { url: raw('DATABASE_URL'), poolSize: int('DATABASE_POOL_SIZE', 1, 1000), schema: raw('DATABASE_SCHEMA') || null }
      : null,
    redisUrl: raw('REDIS_URL') || null,
    logLevel,
    maxBodyBytes: int('MAX_BODY_BYTES', 1024, 1024 ** 3),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 0, 600_000),
    corsOrigins,
    connections,
    timeouts,
    limits: {
      maxDepth: int('MAX_QUERY_DEPTH', 2, 100),
      maxComplexity: int('MAX_QUERY_COMPLEXITY', 10, 10_000_000),
      maxTokens: int('MAX_QUERY_TOKENS', 100, 1_000_000),
    },
    introspection: bool('INTROSPECTION', raw('NODE_ENV') !== 'production'),
    queryCacheBytes: int('QUERY_CACHE_MB', 0, 65_536) * 1024 * 1024,
    vacuumIntervalMs: int('VACUUM_INTERVAL_MS', 0, 3600_000),
    engine: {
      instanceId,
      version,
      leaseTimeoutMs: int('LEASE_TIMEOUT_MS', 100, 24 * 3600_000),
      maxJsonBytes: int('MAX_JSON_BYTES', 1024, 64 * 1024 ** 2),
      // The code that walks stored JSON recurses; 1000 levels stay well inside its stack.
      maxJsonDepth: int('MAX_JSON_DEPTH', 1, 1000),
      cachePurgeIntervalMs: int('CACHE_PURGE_INTERVAL_MS', 100, 24 * 3600_000),
      sweepIntervalMs: int('SWEEP_INTERVAL_MS', 10, 3600_000),
      progressThrottleMs: int('PROGRESS_THROTTLE_MS', 0, 3600_000),
      maxWorkflowSteps: int('MAX_WORKFLOW_STEPS', 1, 1_000_000),
      maxWorkflowEdges: int('MAX_WORKFLOW_EDGES', 0, 10_000_000),
      maxAgents: int('MAX_AGENTS', 1, 10_000_000),
      builtinConcurrency: int('BUILTIN_CONCURRENCY', 1, 10_000),
      soleInstance: !raw('DATABASE_URL'),
      instanceTimeoutMs: int('INSTANCE_TIMEOUT_MS', 100, 24 * 3600_000),
      maxTaskHandbacks: int('MAX_TASK_HANDBACKS', 0, 1000),
      health: {
        healthy,
        degraded,
        changeStep: int('HEALTH_CHANGE_STEP', 1, 100),
        errorWindowMs: int('HEALTH_ERROR_WINDOW_MS', 1000, 7 * 24 * 3600_000),
        queueAgeLimitMs: int('HEALTH_QUEUE_AGE_LIMIT_MS', 1000, 7 * 24 * 3600_000),
        intervalMs: int('HEALTH_INTERVAL_MS', 100, 3600_000),
      },
    },
  };
  if (config.engine.instanceTimeoutMs < 2 * config.engine.sweepIntervalMs) {
    // Each instance says it is alive once per sweep: a shorter timeout would declare live ones dead.
    problems.push('INSTANCE_TIMEOUT_MS must be at least twice SWEEP_INTERVAL_MS');
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}
