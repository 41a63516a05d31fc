// The agent runtime the built-in agents and the SDK's remote agents share: it takes leases up to
// its free slots, runs each task's handler with a TaskContext, heartbeats the lease at a fraction
// of its timeout, aborts a handler whose lease is lost or whose task ended under it (cancelled,
// timed out), reports the results that finish in one turn of the event loop together, and on stop
// drains, then hands back what is left with its attempt unspent. How leases arrive and results
// leave is an AgentTransport's job: GraphQL for the SDK (graphql-transport.ts), the engine's own
// methods for the built-in agents (src/agents/in-process-transport.ts).
import { TaskError } from './errors';
import type { ErrorSeverity, ErrorType } from './generated/graphql';

/** A task under lease, as a transport delivers it. */
export interface Lease {
  /** The fencing token: every report names it, and a stale one is refused. */
  id: string;
  attempt: number;
  /** When the lease runs out unless extended; heartbeats are paced from it. */
  expiresAt: Date | string;
  task: { id: string; key: string; name: string; capability: string; input?: unknown; workflowId?: string | null };
}

export interface TaskContext {
  task: { id: string; key: string; name: string; attempt: number; workflowId: string | null };
  /** Reports progress (0..1) and an optional message; also extends the lease. */
  progress(fraction: number, message?: string): Promise<void>;
  /** Fires when the lease is lost, the task is cancelled, or stop() gives up waiting; its reason is a TaskError. */
  signal: AbortSignal;
  cache: {
    get<T = unknown>(key: string): Promise<T | null>;
    set(key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  };
}

/** What a handler may return: the output itself, or `{ output, outcome: 'PARTIAL' }`. */
export type HandlerResult = unknown;
// A handler's input is whatever its capability takes: only the handler knows its type.
export type Handler = (input: any, ctx: TaskContext) => Promise<HandlerResult> | HandlerResult;

export interface LeaseResult {
  lease: Lease;
  output: unknown;
  outcome: 'SUCCESS' | 'PARTIAL';
}

/** How a task failed, from what its handler threw. */
export interface TaskFailure {
  type: ErrorType;
  /** Unset when the handler did not say; the transport picks the default. */
  severity: ErrorSeverity | undefined;
  message: string;
  retryable: boolean;
  context: unknown;
}

export interface WorkWaiter {
  /** Resolves on news of work, after a time the transport chooses, or when `signal` fires. */
  wait(signal: AbortSignal): Promise<void>;
  cancel(): void;
}

/** How a runtime reaches the orchestrator. Give `receive` (push) or `claim` (pull). */
export interface AgentTransport {
  /** Push: hands each lease the server assigns to `run` until `signal` fires; the server keeps to the agent's concurrency. */
  receive?(run: (lease: Lease) => void, signal: AbortSignal): Promise<void>;
  /** Pull: takes up to `max` ready tasks; may itself wait for work first (a long-poll). */
  claim?(max: number, signal: AbortSignal): Promise<Lease[]>;
  /**
   * Starts listening for news of work. The runtime calls it before each claim, so news that
   * arrives during the claim is not missed, and waits on it after. Without it, the runtime claims
   * again as soon as a claim answers (claim waits itself).
   */
  waitForWork?(): WorkWaiter;
  /** Extends the lease, recording progress when given; false once the lease is no longer ours. */
  heartbeat(lease: Lease, progress?: { fraction: number; message: string | null }): Promise<boolean>;
  /**
   * Records results; a result whose lease is no longer ours is dropped. A transport that can claim
   * in the same write takes up to `next` tasks for the slots these results free and returns them;
   * null means it claimed nothing, so the slots are free for the next claim.
   */
  complete(results: LeaseResult[], next: number): Promise<Lease[] | null>;
  fail(lease: Lease, failure: TaskFailure): Promise<void>;
  /** Gives back leases whose handlers the runtime stopped: the tasks are queued again, attempt unspent. */
  handBack(leases: Lease[]): Promise<void>;
  /** Calls `ended` when the task leaves this lease (cancelled, timed out), sooner than a heartbeat would tell; returns the unwatch. */
  watch?(lease: Lease, ended: () => void): () => void;
  readonly cache: TaskContext['cache'];
  /** The runtime takes no more work: tell the orchestrator, so that a pending claim answers now. */
  drain?(): Promise<void>;
  close?(): Promise<void>;
}

export type RuntimeLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface RuntimeOptions {
  concurrency: number;
  /** By capability. */
  handlers: Record<string, Handler>;
  /** Heartbeat when this fraction of the lease has passed (default 1/3). */
  heartbeatFraction?: number;
  log: RuntimeLog;
}

interface Running {
  lease: Lease;
  abort: AbortController;
  done: Promise<void>;
  /** The handler has returned or thrown: what is left is reporting. */
  settled: boolean;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

function isPartial(v: unknown): v is { output: unknown; outcome: 'SUCCESS' | 'PARTIAL' } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const outcome = (v as { outcome?: unknown }).outcome;
  return Object.keys(v).every((k) => k === 'output' || k === 'outcome') && (outcome === 'PARTIAL' || outcome === 'SUCCESS');
}

/** A TaskError says how the task failed; anything else thrown is AGENT_FAILURE, retryable. */
export function toFailure(err: unknown): TaskFailure {
  if (err instanceof TaskError) {
    return { type: err.type, severity: err.severity, message: err.message || err.type, retryable: err.retryable, context: err.context ?? null };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { type: 'AGENT_FAILURE', severity: 'HIGH', message: message || 'handler failed', retryable: true, context: null };
}

const lost = (why: string) => new TaskError('AGENT_LOST', why, { retryable: true });

export class AgentRuntime {
  private readonly running = new Map<string, Running>();
  private readonly stopping = new AbortController();
  private intake: Promise<void> | null = null;
  private stopped: Promise<void> | null = null;
  /** Results waiting to be reported: those finished in one turn of the event loop go together. */
  private pending: { result: LeaseResult; done: (refilled: boolean) => void }[] = [];
  /** The report being written: its claim fills the slots it frees, so a claim waits for it. */
  private flushing: Promise<void> | null = null;
  /** Resolves when a slot frees that no report refilled (a failure, an abort, a transport that does not claim with results). */
  private freed: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(
    private readonly transport: AgentTransport,
    private readonly options: RuntimeOptions,
  ) {}

  /** Handlers running or reporting. */
  get size(): number {
    return this.running.size;
  }

  start(): void {
    const { receive, claim } = this.transport;
    if (this.intake || this.stopping.signal.aborted) return;
    if (receive) this.intake = receive.call(this.transport, (lease) => this.run(lease), this.stopping.signal);
    else if (claim) this.intake = this.pull(claim.bind(this.transport));
    else throw new Error('an AgentTransport needs receive or claim');
  }

  private slotFreed(): Promise<void> {
    if (!this.freed) {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      this.freed = { promise, resolve };
    }
    return this.freed.promise;
  }

  private signalFreed(): void {
    const freed = this.freed;
    this.freed = null;
    freed?.resolve();
  }

  private async pull(claim: NonNullable<AgentTransport['claim']>): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      const work = this.transport.waitForWork?.();
      // Listen before claiming, so that a task ending during the claim still wakes us.
      const freed = this.slotFreed();
      try {
        await this.flushing;
        const free = this.options.concurrency - this.running.size;
        if (free <= 0 && !work) {
          await freed;
          continue;
        }
        // Leases a claim answers with run even when stop() came meanwhile: dropping them would strand their tasks.
        for (const lease of free > 0 ? await claim(free, signal) : []) this.run(lease);
        // Whether it got none, some or all it could take, the next chance is news of work or a freed slot.
        if (work) await Promise.race([work.wait(signal), freed]);
      } catch (e) {
        if (signal.aborted) break;
        this.options.log('warn', 'could not claim work; retrying', { error: String(e) });
        await sleep(1000, signal);
      } finally {
        work?.cancel();
      }
    }
  }

  private run(lease: Lease): void {
    const handler = this.options.handlers[lease.task.capability];
    const abort = new AbortController();
    const leaseMs = Math.max(100, new Date(lease.expiresAt).getTime() - Date.now());
    const beat = (progress?: { fraction: number; message: string | null }) =>
      this.transport.heartbeat(lease, progress).then(
        (ours) => void (ours || abort.abort(lost('the lease is no longer ours: the task was cancelled, timed out or given to another agent'))),
        () => undefined, // unreachable just now: the next beat tries again
      );
    const heartbeat = setInterval(() => void beat(), Math.max(50, leaseMs * (this.options.heartbeatFraction ?? 1 / 3)));
    const unwatch = this.transport.watch?.(lease, () => abort.abort(lost('the task was cancelled or timed out')));
    const ctx: TaskContext = {
      task: { id: lease.task.id, key: lease.task.key, name: lease.task.name, attempt: lease.attempt, workflowId: lease.task.workflowId ?? null },
      signal: abort.signal,
      progress: (fraction, message) => beat({ fraction: Math.max(0, Math.min(1, fraction)), message: message ?? null }),
      cache: this.transport.cache,
    };
    const entry: Running = { lease, abort, settled: false, done: Promise.resolve() };
    let refilled = false;
    entry.done = (async () => {
      let result: HandlerResult;
      try {
        if (!handler) throw new TaskError('VALIDATION', `this agent has no handler for ${lease.task.capability}`);
        result = await handler(lease.task.input, ctx);
      } catch (err) {
        entry.settled = true;
        // Aborted: the lease is gone (nothing to report) or stop() hands the task back.
        if (!abort.signal.aborted) await this.fail(lease, err);
        return;
      }
      entry.settled = true;
      if (abort.signal.aborted) return;
      const { output, outcome } = isPartial(result) ? result : { output: result, outcome: 'SUCCESS' as const };
      refilled = await this.complete({ lease, output: output ?? null, outcome });
    })().finally(() => {
      clearInterval(heartbeat);
      unwatch?.();
      this.running.delete(lease.id);
      if (!refilled) this.signalFreed();
    });
    this.running.set(lease.id, entry);
  }

  private async fail(lease: Lease, err: unknown): Promise<void> {
    await this.transport.fail(lease, toFailure(err)).catch((e: unknown) => {
      this.options.log('error', 'could not report a result', { taskId: lease.task.id, leaseId: lease.id, error: String(e) });
    });
  }

  /** Queues a result for the next report; resolves once reported, true when its slot was refilled with it. */
  private complete(result: LeaseResult): Promise<boolean> {
    return new Promise((done) => {
      if (this.pending.push({ result, done }) === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    // The slots these results free, less any the agent is still busy with.
    const next = this.stopping.signal.aborted ? 0 : this.options.concurrency - this.running.size + batch.length;
    const write = (async () => {
      try {
        const leases = await this.transport.complete(
          batch.map((b) => b.result),
          next,
        );
        for (const b of batch) b.done(leases !== null);
        for (const lease of leases ?? []) this.run(lease);
      } catch (err) {
        // The results could not be recorded at all (refused as a whole, or storage down): say so
        // as each task's failure rather than leave it to run out its lease.
        await Promise.all(batch.map((b) => this.fail(b.result.lease, err)));
        for (const b of batch) b.done(false);
      }
    })();
    this.flushing = write;
    await write;
    if (this.flushing === write) this.flushing = null;
  }

  /** Takes no more work, lets running handlers finish for up to drainMs, then aborts them and hands their tasks back. */
  stop(drainMs: number): Promise<void> {
    this.stopped ??= this.drainAndStop(drainMs);
    return this.stopped;
  }

  private async drainAndStop(drainMs: number): Promise<void> {
    this.stopping.abort();
    await this.transport.drain?.();
    this.signalFreed();
    await this.intake;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([all().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), drainMs)))]);
    clearTimeout(timer);
    if (!drained) {
      const left = [...this.running.values()].filter((r) => !r.settled && !r.abort.signal.aborted);
      for (const r of left) r.abort.abort(lost('the agent stopped before the task finished'));
      if (left.length) {
        this.options.log('info', 'handing unfinished tasks back', { count: left.length });
        await this.transport.handBack(left.map((r) => r.lease)).catch((e: unknown) => {
          this.options.log('warn', 'could not hand unfinished tasks back; their leases will expire', { error: String(e) });
        });
      }
      await all();
    }
    await this.transport.close?.();
  }
}
