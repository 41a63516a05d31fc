// createAgent: a remote agent in a few lines. It registers (or re-attaches by name with its
// token), receives leases by push (taskAssigned over graphql-ws) or long-poll (claimTasks), runs
// up to `concurrency` handlers at once, heartbeats each lease, and finishes each with
// completeTask or failTask. It rides out server restarts and network drops without losing or
// duplicating a result: a result refused as stale is dropped, anything else is retried.
import { OrchestratorClient } from './client';
import { GraphQLRequestError, isTransportError, TaskError } from './errors';
import {
  CacheEntryDocument,
  ClaimTasksDocument,
  CompleteTaskDocument,
  CompleteTasksDocument,
  type ErrorSeverity,
  type ErrorType,
  FailTaskDocument,
  HeartbeatTaskDocument,
  type LeaseFieldsFragment,
  RegisterAgentDocument,
  SetAgentDrainingDocument,
  SetCacheDocument,
  TaskAssignedDocument,
  TaskWatchDocument,
} from './generated/graphql';

export interface TaskContext {
  task: { id: string; key: string; name: string; attempt: number; workflowId: string | null };
  /** Reports progress (0..1) and an optional message; also extends the lease. */
  progress(fraction: number, message?: string): Promise<void>;
  /** Fires when the lease is lost, the task is cancelled, or stop() gives up waiting. */
  signal: AbortSignal;
  cache: {
    get<T = unknown>(key: string): Promise<T | null>;
    set(key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  };
}

/** What a handler may return: the output itself, or `{ output, outcome: 'PARTIAL' }`. */
export type HandlerResult = unknown;
export type Handler = (input: any, ctx: TaskContext) => Promise<HandlerResult> | HandlerResult;

export interface AgentOptions {
  /** http(s)://host:port/graphql */
  url: string;
  name: string;
  /** Defaults to the keys of `handlers`. */
  capabilities?: string[];
  concurrency?: number;
  /** The token a previous registration of this name returned: re-attaches to that agent. */
  token?: string;
  handlers: Record<string, Handler>;
  /** 'push' (taskAssigned over WebSocket, the default) or 'poll' (claimTasks long-poll over HTTP). */
  transport?: 'push' | 'poll';
  metadata?: unknown;
  /** Heartbeat when this fraction of the lease has passed (default 1/3). */
  heartbeatFraction?: number;
  /** How long stop() waits for running handlers before aborting them (default 30 s). */
  stopTimeoutMs?: number;
  /** Where the agent reports trouble it handles itself (default: one JSON line on stderr). */
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface RemoteAgent {
  readonly id: string | null;
  /** The token to re-attach with later (shown by the server once, on first registration). */
  readonly token: string | null;
  readonly running: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The most results one completeTasks call carries (the server's limit). */
const RESULTS_PER_CALL = 500;
/** Results go in calls of about this many bytes at most (the server's default body limit is 1 MiB). */
const RESULTS_BYTES_PER_CALL = 512 * 1024;

/** How long stop() lets a pending long-poll claim answer before cutting the request. */
const CLAIM_STOP_GRACE_MS = 5000;

const defaultLog: NonNullable<AgentOptions['log']> = (level, message, fields) => {
  if (level !== 'info') process.stderr.write(`${JSON.stringify({ level, message, ...fields })}\n`);
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

function isPartial(v: unknown): v is { output: unknown; outcome: 'SUCCESS' | 'PARTIAL' } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  const outcome = (v as { outcome?: unknown }).outcome;
  return keys.every((k) => k === 'output' || k === 'outcome') && (outcome === 'PARTIAL' || outcome === 'SUCCESS');
}

export function createAgent(options: AgentOptions): RemoteAgent {
  return new Agent(options);
}

class Agent implements RemoteAgent {
  id: string | null = null;
  token: string | null;
  private readonly client: OrchestratorClient;
  private readonly log: NonNullable<AgentOptions['log']>;
  private readonly active = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private readonly stopping = new AbortController();
  /** Cancels an in-flight long-poll claim; only when the server cannot be told to stop waiting. */
  private readonly claimAbort = new AbortController();
  private intake: Promise<void> | null = null;
  private pushStream: AsyncIterableIterator<unknown> | null = null;
  private slotFreed: (() => void) | null = null;
  private results: { lease: LeaseFieldsFragment; output: unknown; outcome: 'SUCCESS' | 'PARTIAL'; done: () => void }[] = [];
  /** False once the server has shown it has no completeTasks (an older server): one call per result. */
  private batchResults = true;

  constructor(private readonly options: AgentOptions) {
    this.client = new OrchestratorClient({ url: options.url });
    this.token = options.token ?? null;
    this.log = options.log ?? defaultLog;
  }

  get running(): number {
    return this.active.size;
  }

  private get concurrency(): number {
    return this.options.concurrency ?? 1;
  }

  /** Retries a call through transport failures (server restarting, network down) until it answers. */
  private async persist<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (e) {
        if (!isTransportError(e) || (this.stopping.signal.aborted && attempt > 3)) throw e;
        if (attempt === 0) this.log('warn', `${what}: server unreachable, retrying`, { error: String(e) });
        await sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
  }

  async start(): Promise<void> {
    if (this.intake) return;
    const capabilities = this.options.capabilities ?? Object.keys(this.options.handlers);
    const { registerAgent } = await this.persist('register', () =>
      this.client.request(RegisterAgentDocument, {
        input: {
          name: this.options.name,
          capabilities,
          concurrency: this.concurrency,
          metadata: this.options.metadata ?? null,
          token: this.token,
        },
      }),
    ).catch((e: unknown) => {
      if (e instanceof GraphQLRequestError && e.code === 'CONFLICT') {
        throw new Error(`an agent named ${this.options.name} is already registered; pass its token to re-attach, or choose another name`);
      }
      throw e;
    });
    this.id = registerAgent.agent.id;
    this.token = registerAgent.token ?? this.token;
    if (registerAgent.agent.status === 'DRAINING') {
      await this.client.request(SetAgentDrainingDocument, { id: this.id, draining: false });
    }
    this.intake = this.options.transport === 'poll' ? this.pollLoop() : this.pushLoop();
  }

  private async pushLoop(): Promise<void> {
    const agentId = this.id as string;
    while (!this.stopping.signal.aborted) {
      const stream = this.client.subscribe(TaskAssignedDocument, { agentId });
      this.pushStream = stream;
      try {
        for await (const { taskAssigned } of stream) this.run(taskAssigned);
      } catch (e) {
        if (this.stopping.signal.aborted) break;
        this.log('warn', 'taskAssigned subscription failed; subscribing again', { error: String(e) });
        await sleep(1000, this.stopping.signal);
      }
    }
  }

  private async pollLoop(): Promise<void> {
    const agentId = this.id as string;
    while (!this.stopping.signal.aborted) {
      const free = this.concurrency - this.active.size;
      if (free <= 0) {
        await new Promise<void>((r) => (this.slotFreed = r));
        continue;
      }
      try {
        // stop() marks the agent DRAINING, which wakes this long-poll on the server: it answers at
        // once, with nothing or with what it had already claimed. Aborting the request instead could
        // drop a lease the server committed and answered, stranding its task until the lease expires.
        const { claimTasks } = await this.client.request(ClaimTasksDocument, { agentId, max: free, waitMs: 20_000 }, this.claimAbort.signal);
        if (this.stopping.signal.aborted) {
          // Claimed while stopping: run them anyway rather than strand the leases.
          for (const lease of claimTasks) this.run(lease);
          break;
        }
        for (const lease of claimTasks) this.run(lease);
      } catch (e) {
        if (this.stopping.signal.aborted) break;
        this.log('warn', 'claimTasks failed; retrying', { error: String(e) });
        await sleep(1000, this.stopping.signal);
      }
    }
  }

  private run(lease: LeaseFieldsFragment): void {
    const handler = this.options.handlers[lease.task.capability];
    const abort = new AbortController();
    const leaseMs = Math.max(100, new Date(lease.expiresAt).getTime() - Date.now());
    const lost = (e: unknown) => {
      if (e instanceof GraphQLRequestError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND')) abort.abort();
    };
    const heartbeat = setInterval(
      () => void this.client.request(HeartbeatTaskDocument, { leaseId: lease.id }).catch(lost),
      Math.max(50, leaseMs * (this.options.heartbeatFraction ?? 1 / 3)),
    );
    // Over push, watch the task itself so a cancellation aborts the handler at once.
    const watch = this.options.transport === 'poll' ? null : this.client.subscribe(TaskWatchDocument, { taskId: lease.task.id });
    if (watch) {
      void (async () => {
        try {
          for await (const { taskUpdated } of watch) {
            if (taskUpdated.task.status !== 'RUNNING' || taskUpdated.task.attempt !== lease.attempt) abort.abort();
          }
        } catch {
          // the heartbeat still notices a lost lease
        }
      })();
    }
    const ctx: TaskContext = {
      task: { id: lease.task.id, key: lease.task.key, name: lease.task.name, attempt: lease.attempt, workflowId: lease.task.workflowId ?? null },
      signal: abort.signal,
      progress: async (fraction, message) => {
        await this.client
          .request(HeartbeatTaskDocument, { leaseId: lease.id, progress: Math.max(0, Math.min(1, fraction)), message: message ?? null })
          .catch(lost);
      },
      cache: {
        get: async <T>(key: string) => ((await this.client.request(CacheEntryDocument, { key })).cacheEntry?.value ?? null) as T | null,
        set: async (key, value, ttlSeconds) => {
          await this.client.request(SetCacheDocument, { key, value, ttlSeconds });
        },
      },
    };
    const done = (async () => {
      let result: HandlerResult;
      try {
        if (!handler) throw new TaskError('VALIDATION', `this agent has no handler for ${lease.task.capability}`);
        result = await handler(lease.task.input, ctx);
      } catch (err) {
        if (abort.signal.aborted && !this.stopping.signal.aborted) return; // the lease is gone: nothing to report
        await this.finish(lease, () => this.client.request(FailTaskDocument, { leaseId: lease.id, error: toErrorInput(err) }));
        return;
      }
      if (abort.signal.aborted) return;
      const { output, outcome } = isPartial(result) ? result : { output: result, outcome: 'SUCCESS' as const };
      await this.complete(lease, output ?? null, outcome);
    })().finally(() => {
      clearInterval(heartbeat);
      void watch?.return?.();
      this.active.delete(lease.id);
      this.slotFreed?.();
      this.slotFreed = null;
    });
    this.active.set(lease.id, { abort, done });
  }

  /**
   * Reports a result. Results finished in one turn of the event loop go in one completeTasks call
   * (one transaction on the server) instead of one call each.
   */
  private complete(lease: LeaseFieldsFragment, output: unknown, outcome: 'SUCCESS' | 'PARTIAL'): Promise<void> {
    return new Promise<void>((done) => {
      if (this.results.push({ lease, output, outcome, done }) === 1) setImmediate(() => void this.reportResults());
    });
  }

  private async reportResults(): Promise<void> {
    // A call carries what fits well within the server's body limit, and at most its 500 results.
    let bytes = 0;
    let n = 0;
    while (n < Math.min(this.results.length, RESULTS_PER_CALL)) {
      const size = JSON.stringify(this.results[n]?.output ?? null).length + 200;
      if (n > 0 && bytes + size > RESULTS_BYTES_PER_CALL) break;
      bytes += size;
      n++;
    }
    const batch = this.results.splice(0, n);
    if (this.results.length) setImmediate(() => void this.reportResults());
    const alone = (b: (typeof batch)[number]) =>
      this.finish(b.lease, () => this.client.request(CompleteTaskDocument, { leaseId: b.lease.id, output: b.output, outcome: b.outcome }));
    try {
      if (!this.batchResults) {
        await Promise.all(batch.map(alone));
        return;
      }
      const { completeTasks } = await this.persist(`report ${batch.length} result(s)`, () =>
        this.client.request(CompleteTasksDocument, {
          results: batch.map((b) => ({ leaseId: b.lease.id, output: b.output, outcome: b.outcome })),
        }),
      );
      completeTasks.forEach((r, i) => {
        if (r.error) this.log('info', 'result dropped: the lease is no longer ours', { taskId: batch[i]?.lease.task.id, leaseId: r.leaseId, code: r.error.code });
      });
    } catch (e) {
      // Whatever refused the batch (one output the server will not take, a server without
      // completeTasks, an error of its own) must not cost the other results: each goes alone.
      if (e instanceof GraphQLRequestError && e.code === 'GRAPHQL_VALIDATION_FAILED') this.batchResults = false;
      await Promise.all(batch.map(alone));
    } finally {
      for (const b of batch) b.done();
    }
  }

  /** Reports a result until the server answers; a stale lease means someone else owns the task now. */
  private async finish(lease: LeaseFieldsFragment, report: () => Promise<unknown>): Promise<void> {
    try {
      await this.persist(`report task ${lease.task.key}`, report);
    } catch (e) {
      if (e instanceof GraphQLRequestError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND')) {
        this.log('info', 'result dropped: the lease is no longer ours', { taskId: lease.task.id, leaseId: lease.id });
      } else {
        this.log('error', 'could not report a result', { taskId: lease.task.id, error: String(e) });
      }
    }
  }

  /** Stops taking work, lets running handlers finish (aborting them after stopTimeoutMs), and disconnects. */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    const told = this.id
      ? await this.client.request(SetAgentDrainingDocument, { id: this.id, draining: true }).then(
          () => true,
          () => false,
        )
      : false;
    // A server that heard DRAINING answers the pending claim itself; one that cannot be reached
    // will not, so the request is cut (also after a grace period, whatever happens).
    if (!told) this.claimAbort.abort();
    const cut = setTimeout(() => this.claimAbort.abort(), CLAIM_STOP_GRACE_MS);
    await this.pushStream?.return?.();
    this.slotFreed?.();
    await this.intake;
    clearTimeout(cut);
    const all = Promise.all([...this.active.values()].map((a) => a.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.options.stopTimeoutMs ?? 30_000))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      for (const a of this.active.values()) a.abort.abort();
      await all;
    }
    await this.client.close();
  }
}

function toErrorInput(err: unknown): {
  type: ErrorType;
  severity: ErrorSeverity;
  message: string;
  retryable: boolean;
  context?: unknown;
} {
  if (err instanceof TaskError) {
    return {
      type: err.type,
      severity: err.severity ?? 'MEDIUM',
      message: err.message || err.type,
      retryable: err.retryable,
      context: err.context ?? null,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'AGENT_FAILURE', severity: 'HIGH', message: message || 'handler failed', retryable: true, context: null };
}
