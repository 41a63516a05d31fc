// The SDK's AgentTransport: the agent protocol over the public GraphQL API. Leases come by push
// (taskAssigned over graphql-ws) or long-poll (claimTasks); results go in completeTasks calls;
// over push, one taskUpdated subscription tells of all the agent's tasks that end under it. It
// rides out server restarts and network drops: a report is retried until the server answers, and
// a result refused as stale (someone else owns the task now) is dropped.
import type { OrchestratorClient } from './client';
import { GraphQLRequestError, isTransportError } from './errors';
import {
  AgentTaskEndsDocument,
  CacheEntryDocument,
  ClaimTasksDocument,
  CompleteTaskDocument,
  CompleteTasksDocument,
  FailTaskDocument,
  HandBackTasksDocument,
  HeartbeatTaskDocument,
  SetAgentDrainingDocument,
  SetCacheDocument,
  TaskAssignedDocument,
  TaskWatchDocument,
} from './generated/graphql';
import type { AgentTransport, Lease, LeaseResult, RuntimeLog, TaskContext, TaskFailure } from './runtime';

/** The most results one completeTasks call carries (the server's limit, also handBackTasks'). */
const RESULTS_PER_CALL = 500;
/** Results go in calls of about this many bytes at most (the server's default body limit is 1 MiB). */
const RESULTS_BYTES_PER_CALL = 512 * 1024;
/** How long a long-poll claim waits on the server for work. */
const CLAIM_WAIT_MS = 20_000;
/** How long a stopping agent lets a pending long-poll claim answer before cutting the request. */
const CLAIM_STOP_GRACE_MS = 5000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

const isStale = (e: unknown) => e instanceof GraphQLRequestError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND');

/** An operation the server does not know (an older server): graphql-ws throws the errors as they came. */
function unknownToServer(e: unknown): boolean {
  const errors = e instanceof GraphQLRequestError ? e.errors : Array.isArray(e) ? (e as GraphQLRequestError['errors']) : [];
  return errors.some((x) => x.extensions?.code === 'GRAPHQL_VALIDATION_FAILED');
}

/** Retries a call through transport failures (server restarting, network down) until it answers; gives up after a few when `hurry` says so. */
export async function persist<T>(what: string, call: () => Promise<T>, log: RuntimeLog, hurry: () => boolean = () => false): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (!isTransportError(e) || (hurry() && attempt > 3)) throw e;
      if (attempt === 0) log('warn', `${what}: server unreachable, retrying`, { error: String(e) });
      await sleep(Math.min(5000, 100 * 2 ** attempt));
    }
  }
}

export class GraphQLTransport implements AgentTransport {
  readonly receive?: AgentTransport['receive'];
  readonly claim?: AgentTransport['claim'];
  readonly watch?: AgentTransport['watch'];
  readonly cache: TaskContext['cache'];
  private draining = false;
  /** Cuts a pending long-poll claim; only when the server cannot be told to stop waiting. */
  private readonly claimAbort = new AbortController();
  private claimCut: NodeJS.Timeout | undefined;
  private readonly closed = new AbortController();
  private pushStream: AsyncIterableIterator<unknown> | null = null;
  /** Running tasks whose end under them aborts their handler, by task id. */
  private readonly watched = new Map<string, { attempt: number; ended: () => void; unwatchOne?: () => void }>();
  private endsStream: AsyncIterableIterator<unknown> | null = null;
  /** The server has no `taskUpdated(agentId)` (an older one): one subscription per task instead. */
  private watchEachTask = false;
  /** False once the server has shown it has no completeTasks (an older one): one call per result. */
  private batchResults = true;

  constructor(
    private readonly client: OrchestratorClient,
    private readonly agentId: string,
    mode: 'push' | 'poll',
    private readonly log: RuntimeLog,
  ) {
    if (mode === 'push') {
      this.receive = (run, signal) => this.pushLoop(run, signal);
      this.watch = (lease, ended) => this.watchTask(lease, ended);
      void this.watchEnds();
    } else {
      this.claim = (max) => this.pollClaim(max);
    }
    this.cache = {
      get: async <T>(key: string) => ((await client.request(CacheEntryDocument, { key })).cacheEntry?.value ?? null) as T | null,
      set: async (key, value, ttlSeconds) => {
        await client.request(SetCacheDocument, { key, value, ttlSeconds });
      },
    };
  }

  private async pushLoop(run: (lease: Lease) => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const stream = this.client.subscribe(TaskAssignedDocument, { agentId: this.agentId });
      this.pushStream = stream;
      try {
        for await (const { taskAssigned } of stream) run(taskAssigned);
      } catch (e) {
        if (signal.aborted) break;
        this.log('warn', 'taskAssigned subscription failed; subscribing again', { error: String(e) });
        await sleep(1000, signal);
      }
    }
  }

  private async pollClaim(max: number): Promise<Lease[]> {
    // Not cut when the runtime stops: drain() marks the agent DRAINING, which makes the server
    // answer at once, with nothing or with what it had already claimed. Cutting the request could
    // drop a lease the server committed and answered, stranding its task until the lease expires.
    const { claimTasks } = await this.client.request(ClaimTasksDocument, { agentId: this.agentId, max, waitMs: CLAIM_WAIT_MS }, this.claimAbort.signal);
    return claimTasks;
  }

  private watchTask(lease: Lease, ended: () => void): () => void {
    if (this.watchEachTask) return this.watchOneTask(lease, ended);
    const taskId = lease.task.id;
    const entry: { attempt: number; ended: () => void; unwatchOne?: () => void } = { attempt: lease.attempt, ended };
    this.watched.set(taskId, entry);
    return () => {
      entry.unwatchOne?.();
      if (this.watched.get(taskId) === entry) this.watched.delete(taskId);
    };
  }

  /** One subscription for all the agent's tasks, so that its watches never meet the server's cap on operations per connection. */
  private async watchEnds(): Promise<void> {
    const { signal } = this.closed;
    while (!signal.aborted) {
      const stream = this.client.subscribe(AgentTaskEndsDocument, { agentId: this.agentId });
      this.endsStream = stream;
      try {
        for await (const { taskUpdated } of stream) {
          const w = this.watched.get(taskUpdated.task.id);
          if (w && w.attempt === taskUpdated.task.attempt) w.ended();
        }
      } catch (e) {
        if (signal.aborted) break;
        if (unknownToServer(e)) {
          this.watchEachTask = true;
          for (const [taskId, w] of this.watched) w.unwatchOne = this.watchOneTask({ attempt: w.attempt, task: { id: taskId } }, w.ended);
          return;
        }
        this.log('warn', 'taskUpdated subscription failed; subscribing again', { error: String(e) });
        await sleep(1000, signal);
      }
    }
  }

  private watchOneTask(lease: { attempt: number; task: { id: string } }, ended: () => void): () => void {
    const watch = this.client.subscribe(TaskWatchDocument, { taskId: lease.task.id });
    void (async () => {
      try {
        for await (const { taskUpdated } of watch) {
          if (taskUpdated.task.status !== 'RUNNING' || taskUpdated.task.attempt !== lease.attempt) ended();
        }
      } catch {
        // the heartbeat still notices a lost lease
      }
    })();
    return () => void watch.return?.();
  }

  async heartbeat(lease: Lease, progress?: { fraction: number; message: string | null }): Promise<boolean> {
    try {
      await this.client.request(HeartbeatTaskDocument, { leaseId: lease.id, progress: progress?.fraction, message: progress?.message });
      return true;
    } catch (e) {
      if (isStale(e)) return false;
      throw e;
    }
  }

  async complete(results: LeaseResult[]): Promise<null> {
    // A call carries what fits well within the server's body limit, and at most its 500 results.
    const calls: LeaseResult[][] = [];
    let call: LeaseResult[] = [];
    let bytes = 0;
    for (const r of results) {
      const size = JSON.stringify(r.output ?? null).length + 200;
      if (call.length === RESULTS_PER_CALL || (call.length > 0 && bytes + size > RESULTS_BYTES_PER_CALL)) {
        calls.push(call);
        call = [];
        bytes = 0;
      }
      call.push(r);
      bytes += size;
    }
    if (call.length) calls.push(call);
    await Promise.all(calls.map((c) => this.completeMany(c)));
    return null;
  }

  private async completeMany(batch: LeaseResult[]): Promise<void> {
    const alone = (r: LeaseResult) =>
      this.finish(r.lease, () => this.client.request(CompleteTaskDocument, { leaseId: r.lease.id, output: r.output, outcome: r.outcome }));
    if (!this.batchResults) {
      await Promise.all(batch.map(alone));
      return;
    }
    try {
      const { completeTasks } = await this.persist(`report ${batch.length} result(s)`, () =>
        this.client.request(CompleteTasksDocument, { results: batch.map((r) => ({ leaseId: r.lease.id, output: r.output, outcome: r.outcome })) }),
      );
      completeTasks.forEach((r, i) => {
        if (r.error) this.log('info', 'result dropped: the lease is no longer ours', { taskId: batch[i]?.lease.task.id, leaseId: r.leaseId, code: r.error.code });
      });
    } catch (e) {
      // Whatever refused the batch (one output the server will not take, a server without
      // completeTasks, an error of its own) must not cost the other results: each goes alone.
      if (unknownToServer(e)) this.batchResults = false;
      await Promise.all(batch.map(alone));
    }
  }

  async fail(lease: Lease, f: TaskFailure): Promise<void> {
    // The API asks for a severity; MEDIUM when the handler did not say.
    const error = { type: f.type, severity: f.severity ?? 'MEDIUM', message: f.message, retryable: f.retryable, context: f.context };
    await this.finish(lease, () => this.client.request(FailTaskDocument, { leaseId: lease.id, error }));
  }

  /** Reports until the server answers; a stale lease means someone else owns the task now. */
  private async finish(lease: Lease, report: () => Promise<unknown>): Promise<void> {
    try {
      await this.persist(`report task ${lease.task.key}`, report);
    } catch (e) {
      if (isStale(e)) this.log('info', 'result dropped: the lease is no longer ours', { taskId: lease.task.id, leaseId: lease.id });
      else this.log('error', 'could not report a result', { taskId: lease.task.id, error: String(e) });
    }
  }

  async handBack(leases: Lease[]): Promise<void> {
    for (let i = 0; i < leases.length; i += RESULTS_PER_CALL) {
      const some = leases.slice(i, i + RESULTS_PER_CALL);
      try {
        await this.persist('hand tasks back', () => this.client.request(HandBackTasksDocument, { leaseIds: some.map((l) => l.id) }));
      } catch (e) {
        if (!unknownToServer(e)) throw e;
        // An older server cannot take them back: failing them at least frees them now, not at lease expiry.
        const failure = { type: 'AGENT_LOST', severity: undefined, message: 'the agent stopped before the task finished', retryable: true, context: null } as const;
        await Promise.all(some.map((l) => this.fail(l, failure)));
      }
    }
  }

  async drain(): Promise<void> {
    this.draining = true;
    const told = await this.client.request(SetAgentDrainingDocument, { id: this.agentId, draining: true }).then(
      () => true,
      () => false,
    );
    // A server that heard DRAINING answers the pending claim itself; one that cannot be reached
    // will not, so the request is cut (also after a grace period, whatever happens).
    if (!told) this.claimAbort.abort();
    this.claimCut = setTimeout(() => this.claimAbort.abort(), CLAIM_STOP_GRACE_MS);
    await this.pushStream?.return?.();
  }

  async close(): Promise<void> {
    clearTimeout(this.claimCut);
    this.closed.abort();
    await this.endsStream?.return?.();
    await this.client.close();
  }

  private persist<T>(what: string, call: () => Promise<T>): Promise<T> {
    return persist(what, call, this.log, () => this.draining);
  }
}
