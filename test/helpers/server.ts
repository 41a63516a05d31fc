// Starts a real server (PGlite in a temp directory, port 0) and talks to it as a client would:
// fetch for HTTP, the graphql-ws client for subscriptions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FormattedExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';

type ExecutionResult<T> = FormattedExecutionResult<T, unknown>;
import WebSocket from 'ws';
import { loadConfig } from '../../src/server/config';
import { type RunningServer, type ServerOptions, startServer } from '../../src/server/http';
import type { Topic } from '../../src/events/event-bus';
import { backendEnv, dropSchema } from './database';

export interface GqlResponse<T = Record<string, any>> {
  status: number;
  body: { data?: T | null; errors?: { message: string; extensions?: Record<string, any>; path?: string[] }[] };
}

export interface TestServer extends RunningServer {
  dataDir: string;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>>;
  /** Like gql, but fails the test on any GraphQL error and returns data. */
  data<T = Record<string, any>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  metrics(): Promise<string>;
  /** Resolves once this instance has at least `n` live client subscriptions on `topic`. */
  waitForListeners(topic: Topic, n: number): Promise<void>;
  stop(): Promise<void>;
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'orchestrator-test-'));
}

/** `opts.log` receives the server's log (silent by default), for tests that check what it logs. */
export async function startTestServer(env: Record<string, string> = {}, opts: ServerOptions = {}): Promise<TestServer> {
  const dataDir = env.DATA_DIR ?? tempDataDir();
  const backend = { ...backendEnv(), ...env };
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...backend, DATA_DIR: dataDir }, 'test');
  const server = await startServer(config, opts);
  const gql = async <T>(query: string, variables?: Record<string, unknown>): Promise<GqlResponse<T>> => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: (await res.json()) as GqlResponse<T>['body'] };
  };
  const base = server.url.replace(/\/graphql$/, '');
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  return {
    ...server,
    dataDir,
    gql,
    async data<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const { body } = await gql<T>(query, variables);
      if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
      return body.data as T;
    },
    metrics,
    async waitForListeners(topic: Topic, n: number) {
      const pattern = new RegExp(`^orchestrator_subscriptions\\{topic="${topic}"\\} (\\d+)$`, 'm');
      for (let i = 0; i < 500; i++) {
        const m = pattern.exec(await metrics());
        if (m && Number(m[1]) >= n) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`no ${n} listeners on ${topic}`);
    },
    async stop() {
      await server.close();
      if (!env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
      if (!env.DATABASE_SCHEMA) await dropSchema(backend);
    },
  };
}

/** A graphql-ws subscription whose results queue up until the test takes them. */
export interface Sub<T> {
  /** The next result (data or errors); rejects if none arrives within `waitMs`. */
  next(waitMs?: number): Promise<ExecutionResult<T>>;
  /** Resolves when the server completes the subscription. */
  completed: Promise<void>;
  received: ExecutionResult<T>[];
  close(): Promise<void>;
}

export function wsClient(url: string, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  return createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, ...extra });
}

export function subscribe<T = Record<string, any>>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
): Sub<T> {
  const received: ExecutionResult<T>[] = [];
  const waiters: ((r: ExecutionResult<T>) => void)[] = [];
  let taken = 0;
  let markCompleted: () => void = () => undefined;
  let failed: unknown = null;
  const completed = new Promise<void>((r) => (markCompleted = r));
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (r) => {
        received.push(r);
        waiters.shift()?.(r);
      },
      error: (e) => {
        failed = e;
        const r = { errors: Array.isArray(e) ? e : [{ message: String((e as Error)?.message ?? e) }] } as ExecutionResult<T>;
        received.push(r);
        waiters.shift()?.(r);
        markCompleted();
      },
      complete: () => markCompleted(),
    },
  );
  return {
    received,
    completed,
    next(waitMs = 10_000) {
      if (received.length > taken) return Promise.resolve(received[taken++] as ExecutionResult<T>);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no subscription result within ${waitMs} ms${failed ? `: ${String(failed)}` : ''}`)), waitMs);
        waiters.push((r) => {
          clearTimeout(timer);
          taken++;
          resolve(r);
        });
      });
    },
    async close() {
      dispose();
    },
  };
}
