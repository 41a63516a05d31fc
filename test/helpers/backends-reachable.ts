// Jest globalSetup. DATABASE_URL / REDIS_URL unset means "not testing against it", and the tests
// that need them skip. Set means "test against it": if it cannot be reached, the run must fail
// here, with one clear message, not skip or time out test by test, or a CI machine whose
// PostgreSQL did not start would look like a run that tested it.
import { Client } from 'pg';
import { Redis } from 'ioredis';
import { databaseUrl, redisUrl } from './database';

const TIMEOUT_MS = 5000;

/** The URL as it can be printed: without its password. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

function within<T>(ms: number, what: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([what, timeout]).finally(() => clearTimeout(timer));
}

async function postgres(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  try {
    await within(TIMEOUT_MS, client.connect().then(() => client.query('SELECT 1')));
  } finally {
    await client.end().catch(() => {});
  }
}

async function redis(url: string): Promise<void> {
  // No retries and no offline queue: one attempt, and a refusal comes back as an error at once.
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis reports why it could not connect as an 'error' event and rejects connect() with only
  // "Connection is closed"; keep the event's reason for the message.
  let cause: unknown;
  client.on('error', (e: unknown) => (cause = e));
  try {
    await within(TIMEOUT_MS, client.connect().then(() => client.ping()));
  } catch (e) {
    throw cause ?? e;
  } finally {
    client.disconnect();
  }
}

const reason = (e: unknown) => (e instanceof Error && e.message ? e.message : String(e)) || 'unknown error';

export default async function backendsReachable(): Promise<void> {
  const problems: string[] = [];
  if (databaseUrl) {
    await postgres(databaseUrl).catch((e: unknown) => {
      problems.push(`DATABASE_URL is set (${shown(databaseUrl ?? '')}) but PostgreSQL cannot be reached: ${reason(e)}`);
    });
  }
  if (redisUrl) {
    await redis(redisUrl).catch((e: unknown) => {
      problems.push(`REDIS_URL is set (${shown(redisUrl ?? '')}) but Redis cannot be reached: ${reason(e)}`);
    });
  }
  if (problems.length) {
    throw new Error(
      `${problems.join('\n')}\nStart it, fix the URL, or unset the variable to run without it (the tests that need it then skip).`,
    );
  }
}
