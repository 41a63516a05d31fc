// The agent task protocol: claiming ready tasks under a lease (pull, long-poll or push), extending
// the lease with heartbeats, and ending it with a result. A lease id fences every write: a result
// is recorded once, by the holder of the current lease.
import { AgentKind, AgentStatus, ErrorSeverity, ErrorType, HistoryEventType, TaskOutcome, TaskStatus, WorkflowStatus } from '../domain/enums';
import { conflict, type DomainError, invalid, notFound } from '../domain/errors';
import { ErrorRecordBuilder } from '../domain/error-record';
import { dispatchOrder, type Task, type TaskLease } from '../domain/workflow';
import { randomUUID } from 'node:crypto';
import type { LeaseLookup, NewLease, NewTask, ReturnedLeases, Store, StoredAgent, StoredTask } from '../storage/store';
import { publicAgent } from './agents';
import type { EngineContext } from './context';
import { checkJsonSize } from './json-limit';
import { publicTask, type Transitions } from './transitions';
import { GroupCommit } from './group-commit';
import type { Changes } from './writer';

export const CLAIM_MAX = 500;
export const WAIT_MAX_MS = 60_000;
/** Leases handed back per transaction when an instance stops. */
const HAND_BACK_BATCH = 500;

export interface ResultItem {
  leaseId: string;
  output: unknown;
  outcome?: TaskOutcome | null;
}

export interface FailInput {
  type: ErrorType;
  severity?: ErrorSeverity | null;
  message: string;
  context?: unknown;
  retryable?: boolean | null;
}

/**
 * A first lease's id, as the claim statement makes them: "<task id>:<claim number>:<random>" (see
 * the store's lease ids), claim number 1.
 */
const newLeaseId = (taskId: string) => `${taskId}:1:${randomUUID().replaceAll('-', '')}`;

function toLease(t: StoredTask): TaskLease {
  return {
    id: t.leaseId as string,
    taskId: t.id,
    agentId: t.agentId as string,
    attempt: t.attempt,
    expiresAt: t.leaseExpiresAt as Date,
    task: publicTask(t),
  };
}

/** What wakeFor returns: events that can give an agent work, remembered from when it was made. */
export interface Wake {
  /** Resolves once something happened (at once if it already has), after `ms`, or on abort. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  /** Something happened: waiting ends, now and for every later wait. */
  fire(): void;
  /** Whether something happened since the wake was made. */
  readonly fired: boolean;
  /** Ends the current wait, if any, without counting as something that happened. */
  release(): void;
  /** Stops listening (and ends the current wait). */
  cancel(): void;
}

export class LeaseService {
  /** When this instance last recorded each agent as seen (lastSeenAt is kept to this precision). */
  private readonly touched = new Map<string, number>();
  /** Results written together when they arrive together (see complete). */
  private readonly completions = new GroupCommit<ResultItem, Task | DomainError>({
    // Each item was checked by complete() before it joined the group.
    write: (items) => this.ctx.writer.write((tx, changes) => this.recordResults(tx, changes, items)),
    take: () => CLAIM_MAX,
  });

  /**
   * Workflows known to have left PENDING, which they never go back to: a claim need not try to
   * mark them RUNNING. Learnt from committed changes and from claims that found them started.
   */
  private readonly notPending = new Set<string>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {
    ctx.writer.onCommitted((changes) => {
      for (const e of changes.events) {
        if (e.topic === 'workflow' && e.workflow.status !== WorkflowStatus.PENDING) this.leftPending(e.workflow.id);
      }
    });
  }

  private leftPending(workflowId: string): void {
    if (this.notPending.size >= 10_000) this.notPending.clear();
    this.notPending.add(workflowId);
  }

  /** Takes up to `max` ready tasks the agent can run, never beyond its free concurrency. */
  async claim(agentId: string, max: number): Promise<TaskLease[]> {
    return (await this.tryClaim(agentId, max)).leases;
  }

  /** Like claim, and tells whether the agent takes work at all (a DRAINING agent does not). */
  private async tryClaim(agentId: string, max: number): Promise<{ leases: TaskLease[]; accepting: boolean }> {
    if (!Number.isInteger(max) || max < 1 || max > CLAIM_MAX) {
      throw invalid(`max must be an integer from 1 to ${CLAIM_MAX}`, { field: 'max' });
    }
    return this.ctx.writer.write((tx, changes) => this.claimIn(tx, changes, agentId, max));
  }

  /**
   * The claim itself, inside a transaction the caller writes. With `ifExists`, an agent that no
   * longer exists gets nothing instead of NOT_FOUND (a claim made for it inside another write).
   */
  async claimIn(
    tx: Store,
    changes: Changes,
    agentId: string,
    max: number,
    options: { ifExists?: boolean } = {},
  ): Promise<{ leases: TaskLease[]; accepting: boolean; full?: boolean }> {
    const now = this.ctx.now();
    const agent = (await this.takeAgent(tx, changes, agentId, options))?.agent;
    if (!agent) return { leases: [], accepting: false };
    const free = agent.concurrency - agent.runningTasks;
    if (free <= 0) return { leases: [], accepting: true, full: true };
    const claimed = await tx.claimTasks({
      agentId,
      capabilities: agent.capabilities,
      limit: Math.min(max, free),
      now,
      expiresAt: new Date(now.getTime() + this.ctx.options.leaseTimeoutMs),
      // A built-in agent runs in this process: its leases end with it (handBack, handBackOrphans).
      instance: agent.kind === AgentKind.BUILTIN ? this.ctx.options.instanceId : null,
    });
    for (const t of claimed) this.transitions.taskChanged(changes, t, t.previousStatus, HistoryEventType.TASK_STARTED);
    const maybePending = [...new Set(claimed.flatMap((t) => (t.workflowId && !this.notPending.has(t.workflowId) ? [t.workflowId] : [])))];
    const started = await tx.markWorkflowsRunning(maybePending, now);
    for (const w of started) this.transitions.workflowChanged(changes, w, WorkflowStatus.PENDING, null);
    // Those it did not start had left PENDING, for good: noted once committed (this transaction may
    // have started them itself, and may yet roll back).
    const startedIds = new Set(started.map((w) => w.id));
    const left = maybePending.filter((id) => !startedIds.has(id));
    if (left.length) changes.afterCommit.push(() => left.forEach((id) => this.leftPending(id)));
    changes.readyWork.claimed(claimed);
    this.announceIfFull(changes, agent, claimed.length, now);
    return { leases: claimed.map(toLease), accepting: true, full: claimed.length >= free };
  }

  /**
   * The agent about to be given work, its row locked: seen now, ONLINE again if it was OFFLINE.
   * Null for a DRAINING agent, and (with `ifExists`) for one that no longer exists; NOT_FOUND
   * otherwise. With `readyAt`, also whether work it could claim is already queued (same statement).
   */
  private async takeAgent(
    tx: Store,
    changes: Changes,
    agentId: string,
    options: { ifExists?: boolean; readyAt?: Date },
  ): Promise<{ agent: StoredAgent; hasReadyTasks: boolean } | null> {
    const found = options.readyAt
      ? await tx.getAgentForLease(agentId, options.readyAt)
      : await tx.getAgentForUpdate(agentId).then((agent) => (agent ? { agent, hasReadyTasks: false } : null));
    if (!found && options.ifExists) return null;
    if (!found) throw notFound('agent', agentId);
    const { agent } = found;
    await this.touch(tx, [agentId]);
    if (agent.status === AgentStatus.OFFLINE) {
      // An agent that asks for work is alive again.
      await tx.updateAgent(agentId, { status: AgentStatus.ONLINE });
      const back = { ...agent, status: AgentStatus.ONLINE };
      changes.record({ type: HistoryEventType.AGENT_STATUS_CHANGED, agentId, data: { from: AgentStatus.OFFLINE, to: AgentStatus.ONLINE } });
      changes.emit({ topic: 'agent', agent: publicAgent({ ...back, lastSeenAt: this.ctx.now() }) });
      return { ...found, agent: back };
    }
    return agent.status === AgentStatus.DRAINING ? null : found;
  }

  /** An agent whose free slots these leases took is BUSY now: announced with them. */
  private announceIfFull(changes: Changes, agent: StoredAgent, leased: number, now: Date): void {
    if (leased && agent.runningTasks + leased >= agent.concurrency) {
      changes.emit({ topic: 'agent', agent: publicAgent({ ...agent, runningTasks: agent.runningTasks + leased, lastSeenAt: now }) });
    }
  }

  /**
   * Leases for tasks a start is about to write, for a connected agent waiting for work (see
   * Dispatcher.leaseAtStart): its first claim goes into the task's row as it is inserted, instead of
   * an insert QUEUED and an update to RUNNING in the same transaction (a claim's UPDATE was a
   * second version of every row and of its index entries: about half of such a transaction). Up to
   * `max` of `ready` the agent can run, highest priority first, never beyond its free slots — and
   * none while work it could take is already queued: that goes first, and the claim that follows
   * the insert takes everything in dispatch order. `written` is called with the tasks as inserted:
   * it records their start and returns their leases.
   */
  async leaseAtStart(
    tx: Store,
    changes: Changes,
    agentId: string,
    ready: readonly NewTask[],
    max: number,
  ): Promise<{ leases: Map<string, NewLease>; full: boolean; written(tasks: StoredTask[]): TaskLease[] }> {
    const none = { leases: new Map<string, NewLease>(), full: false, written: () => [] };
    const now = this.ctx.now();
    const taken = await this.takeAgent(tx, changes, agentId, { ifExists: true, readyAt: now });
    if (!taken) return none;
    const { agent } = taken;
    const free = agent.concurrency - agent.runningTasks;
    if (free <= 0) return { ...none, full: true };
    const mine = ready.filter((t) => agent.capabilities.includes(t.capability));
    if (mine.length === 0 || taken.hasReadyTasks) return none;
    // Dispatch order among them: priority, then the order they are written in (their seq).
    const chosen = [...mine].sort((a, b) => b.priority - a.priority).slice(0, Math.min(max, free));
    const expiresAt = new Date(now.getTime() + this.ctx.options.leaseTimeoutMs);
    const leases = new Map(
      chosen.map((t): [string, NewLease] => [t.id, { agentId, leaseId: newLeaseId(t.id), expiresAt, at: now }]),
    );
    return {
      leases,
      full: chosen.length >= free,
      written: (tasks) => {
        const inOrder = dispatchOrder([...tasks]);
        for (const t of inOrder) this.transitions.taskChanged(changes, t, TaskStatus.QUEUED, HistoryEventType.TASK_STARTED);
        this.announceIfFull(changes, agent, tasks.length, now);
        return inOrder.map(toLease);
      },
    };
  }

  /**
   * Long-poll: claims now, or waits up to waitMs for work this agent can take and claims then.
   * Woken by the event bus (work queued, or one of its own tasks finished), not by polling.
   * Returns at once for a draining agent, and without claiming once `signal` fires (the caller
   * went away), so no lease is taken for nobody.
   */
  async claimWaiting(agentId: string, max: number, waitMs: number, signal?: AbortSignal): Promise<TaskLease[]> {
    if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > WAIT_MAX_MS) {
      throw invalid(`waitMs must be an integer from 0 to ${WAIT_MAX_MS}`, { field: 'waitMs' });
    }
    const deadline = Date.now() + waitMs;
    for (;;) {
      const wake = this.wakeFor(agentId);
      try {
        if (signal?.aborted) return [];
        const { leases, accepting } = await this.tryClaim(agentId, max);
        if (signal?.aborted && leases.length) {
          // The caller went away while we claimed: nobody will run these, so they go back now.
          await this.unclaim(leases.map((l) => l.id));
          return [];
        }
        const left = deadline - Date.now();
        if (leases.length || !accepting || left <= 0 || signal?.aborted) return leases;
        await wake.wait(left, signal);
      } finally {
        wake.cancel();
      }
    }
  }

  /**
   * Subscribes to the events that can give this agent work: tasks queued for a capability, or one
   * of its own tasks finishing (a free slot). Subscribe before claiming so no wake-up is missed.
   */
  wakeFor(
    agentId: string,
    knownCapabilities?: readonly string[],
    options: { slots?: boolean } = {},
  ): Wake {
    let fire: (() => void) | null = null;
    let fired = false;
    const trigger = () => {
      fired = true;
      fire?.();
    };
    let capabilities: Set<string> | null = knownCapabilities ? new Set(knownCapabilities) : null;
    // Until the capabilities are known every queue event wakes the waiter (a spare claim, no harm).
    if (!capabilities) {
      this.ctx.store.getAgents([agentId]).then(
        ([a]) => {
          capabilities = new Set(a?.capabilities ?? []);
        },
        () => undefined,
      );
    }
    const offQueue = this.ctx.bus.subscribe('queue', (e) => {
      if (!capabilities || e.capabilities.some((c) => capabilities?.has(c))) trigger();
    });
    const offTask =
      options.slots === false
        ? () => undefined
        : this.ctx.bus.subscribe('task', (e) => {
            if (e.task.agentId === agentId && e.previousStatus === TaskStatus.RUNNING) trigger();
          });
    const offAgent = this.ctx.bus.subscribe('agent', (e) => {
      if (e.agent.id === agentId) {
        capabilities = new Set(e.agent.capabilities);
        // An agent that has just become full has nothing to claim.
        const full = e.agent.runningTasks >= e.agent.concurrency && [AgentStatus.ONLINE, AgentStatus.BUSY].includes(e.agent.status);
        if (!full) trigger();
      }
    });
    const cancel = () => {
      offQueue();
      offTask();
      offAgent();
      fire?.();
    };
    return {
      cancel,
      fire: trigger,
      get fired() {
        return fired;
      },
      release: () => fire?.(),
      wait: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (fired || signal?.aborted) return resolve();
          const timer = setTimeout(done, ms);
          const onAbort = () => done();
          signal?.addEventListener('abort', onAbort, { once: true });
          function done() {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            fire = null;
            resolve();
          }
          fire = done;
        }),
    };
  }

  /** Why a lease cannot be used, or null when it is the task's current lease. */
  private staleness(leaseId: string, found: LeaseLookup | undefined): DomainError | null {
    if (!found) return notFound('lease', leaseId);
    const { task } = found;
    if (task.leaseId === leaseId && task.status === TaskStatus.RUNNING) return null;
    const why =
      task.status === TaskStatus.RUNNING
        ? `the task was claimed again (attempt ${task.attempt})`
        : task.status === TaskStatus.QUEUED
          ? 'the lease expired and the task was queued again'
          : `the task is ${task.status}`;
    return conflict(`lease ${leaseId} is no longer valid: ${why}`, { leaseId, taskStatus: task.status });
  }

  private async lookup(tx: Store, leaseId: string): Promise<LeaseLookup> {
    const [found] = await tx.getLeases([leaseId]);
    const stale = this.staleness(leaseId, found);
    if (stale) throw stale;
    return found as LeaseLookup;
  }

  /** Extends the lease; progress (0..1) and message are recorded, announced at most once per throttle window. */
  async heartbeat(leaseId: string, progress: number | null | undefined, message: string | null | undefined): Promise<TaskLease> {
    if (progress != null && (!Number.isFinite(progress) || progress < 0 || progress > 1)) {
      throw invalid('progress must be between 0 and 1', { field: 'progress' });
    }
    if (message != null && message.length > 1000) throw invalid('message is longer than 1000 characters', { field: 'message' });
    const now = this.ctx.now();
    return this.ctx.writer.write(async (tx, changes) => {
      const { task } = await this.lookup(tx, leaseId);
      const reported = progress != null || message != null;
      const announce =
        reported && (!task.progressAt || now.getTime() - task.progressAt.getTime() >= this.ctx.options.progressThrottleMs);
      const updated = await tx.extendLease(
        task.id,
        new Date(now.getTime() + this.ctx.options.leaseTimeoutMs),
        reported
          ? { progress: progress ?? task.progress, message: message ?? task.progressMessage, at: announce ? now : null }
          : null,
      );
      if (task.agentId) await this.touch(tx, [task.agentId]);
      if (announce) {
        this.transitions.taskChanged(changes, updated, TaskStatus.RUNNING, HistoryEventType.TASK_PROGRESS, {
          progress: updated.progress,
          message: updated.progressMessage,
        });
      }
      return toLease(updated);
    });
  }

  /**
   * Records one result. Results that arrive while an earlier group is being written are written
   * together in the next transaction (group commit): an idle server writes at once, a busy one
   * pays one transaction per group instead of one per result.
   */
  async complete(leaseId: string, output: unknown, outcome: TaskOutcome | null | undefined): Promise<Task> {
    this.checkResult(output, outcome);
    const result = await this.completions.add({ leaseId, output, outcome });
    if (result instanceof Error) throw result;
    return result;
  }

  private checkResult(output: unknown, outcome: TaskOutcome | null | undefined): void {
    checkJsonSize(output, this.ctx.options.maxJsonBytes, 'output');
    if (outcome === TaskOutcome.FAILURE) throw invalid('report a failure with failTask, which records why', { field: 'outcome' });
  }

  /**
   * Records many results in one transaction (the built-in agents report this way). Each item
   * answers with its task, or with the error that refused it (stale or unknown lease), alone.
   */
  async completeMany(items: ResultItem[]): Promise<(Task | DomainError)[]> {
    if (items.length === 0 || items.length > CLAIM_MAX) {
      throw invalid(`results must hold 1 to ${CLAIM_MAX} results`, { field: 'results' });
    }
    for (const i of items) this.checkResult(i.output, i.outcome);
    return this.ctx.writer.write((tx, changes) => this.recordResults(tx, changes, items));
  }

  /**
   * Records results and, in the same transaction, claims the agent's next tasks: up to `max`,
   * which may be the slots these results free. A built-in agent thus pays one transaction per
   * batch, and the tasks its results make ready go straight to it without a wake-up.
   */
  async completeAndClaim(
    items: ResultItem[],
    next: { agentId: string; max: number },
  ): Promise<{ results: (Task | DomainError)[]; leases: TaskLease[] }> {
    for (const i of items) this.checkResult(i.output, i.outcome);
    return this.ctx.writer.write(async (tx, changes) => {
      const results = await this.recordResults(tx, changes, items);
      const leases = next.max > 0 ? (await this.claimIn(tx, changes, next.agentId, Math.min(next.max, CLAIM_MAX))).leases : [];
      return { results, leases };
    });
  }

  private async recordResults(tx: Store, changes: Changes, items: ResultItem[]): Promise<(Task | DomainError)[]> {
    // The lease check is part of the update: only current leases complete. A lease given twice
    // in one batch counts once; the rest are looked up only to say why they were refused.
    const results: (Task | DomainError)[] = [];
    const first = new Map<string, number>();
    items.forEach((item, index) => {
      if (first.has(item.leaseId)) results[index] = conflict(`lease ${item.leaseId} was reported twice`, { leaseId: item.leaseId });
      else first.set(item.leaseId, index);
    });
    const done = await tx.completeLeasedTasks(
      [...first].map(([leaseId, index]) => ({
        leaseId,
        outcome: items[index]?.outcome ?? TaskOutcome.SUCCESS,
        output: items[index]?.output ?? null,
      })),
      this.ctx.now(),
    );
    for (const d of done) {
      results[first.get(d.leaseId) as number] = publicTask(d.task);
      first.delete(d.leaseId);
    }
    if (first.size) {
      const found = new Map((await tx.getLeases([...first.keys()])).map((l) => [l.leaseId, l]));
      for (const [leaseId, index] of first) {
        results[index] =
          this.staleness(leaseId, found.get(leaseId)) ?? conflict(`lease ${leaseId} is no longer valid`, { leaseId });
      }
    }
    await this.touch(tx, done.flatMap((d) => (d.task.agentId ? [d.task.agentId] : [])));
    await this.transitions.completed(tx, changes, done.map((d) => d.task));
    return results;
  }

  async fail(leaseId: string, input: FailInput): Promise<Task> {
    checkJsonSize(input.context, this.ctx.options.maxJsonBytes, 'context');
    return this.ctx.writer.write(async (tx, changes) => {
      const { task } = await this.lookup(tx, leaseId);
      const error = ErrorRecordBuilder.reported(input)
        .workflow(task.workflowId)
        .task(task.id)
        .agent(task.agentId)
        .at(this.ctx.now())
        .build();
      if (task.agentId) await this.touch(tx, [task.agentId]);
      return publicTask(await this.transitions.fail(tx, changes, task, error));
    });
  }

  /**
   * Records agents as seen. An agent busy with many calls is written at most once per interval (a
   * tenth of the lease timeout, at most a second): lastSeenAt only has to beat the lease timeout.
   */
  private async touch(tx: Store, agentIds: string[]): Promise<void> {
    const now = this.ctx.now().getTime();
    const every = Math.min(1000, this.ctx.options.leaseTimeoutMs / 10);
    const due = [...new Set(agentIds)].filter((id) => now - (this.touched.get(id) ?? 0) >= every);
    if (due.length === 0) return;
    for (const id of due) this.touched.set(id, now);
    if (this.touched.size > 10_000) this.touched.clear();
    await tx.touchAgents(due, this.ctx.now());
  }

  /** Gives back leases that never reached their agent: the tasks are QUEUED again, attempt unspent. */
  async unclaim(leaseIds: string[]): Promise<void> {
    await this.ctx.writer.write((tx, changes) => this.returnLeases(tx, changes, { leaseIds }, 'lease not delivered'));
  }

  /**
   * This instance is stopping: the built-in leases it holds go back to the queue, attempt unspent,
   * and any instance (this one after a restart) starts them at once. Returns how many.
   */
  async handBack(): Promise<number> {
    let total = 0;
    for (;;) {
      const back = await this.ctx.writer.write((tx, changes) =>
        this.returnLeases(tx, changes, { instance: this.ctx.options.instanceId, limit: HAND_BACK_BATCH }, 'handed back on stop'),
      );
      total += back;
      if (back < HAND_BACK_BATCH) return total;
    }
  }

  /**
   * Built-in leases of instances that died (their row is gone, see the sweeper) go back to the
   * queue, attempt unspent, up to `limit` per call; a task already handed back maxTaskHandbacks
   * times after a death is not: its lease expires now and the sweeper ends it as AGENT_LOST, so a
   * task that takes its server down does not do so forever. Returns how many went back.
   */
  async handBackOrphans(tx: Store, changes: Changes, limit: number): Promise<number> {
    const back = await this.returnLeases(
      tx,
      changes,
      { orphans: true, maxHandbacks: this.ctx.options.maxTaskHandbacks, limit },
      'handed back: the instance running it stopped without handing it back',
    );
    if (back < limit) await tx.expireOrphanedLeases(this.ctx.now());
    return back;
  }

  private async returnLeases(tx: Store, changes: Changes, which: ReturnedLeases, reason: string): Promise<number> {
    const back = await tx.returnLeases(which);
    for (const t of back) {
      this.transitions.taskChanged(changes, t, TaskStatus.RUNNING, HistoryEventType.TASK_QUEUED, { reason });
      changes.readyWork.wakeCapability(t.capability);
    }
    return back.length;
  }

  /** Fails a task whose lease expired or whose attempt ran out of time (the sweeper). */
  async expire(tx: Store, changes: Changes, task: StoredTask, reason: 'lease' | 'timeout'): Promise<void> {
    const error =
      reason === 'timeout'
        ? ErrorRecordBuilder.of(ErrorType.TIMEOUT, `attempt ${task.attempt} ran longer than timeoutMs ${task.timeoutMs}`)
        : ErrorRecordBuilder.of(ErrorType.AGENT_LOST, `no heartbeat from the agent before the lease expired (attempt ${task.attempt})`);
    await this.transitions.fail(
      tx,
      changes,
      task,
      error.workflow(task.workflowId).task(task.id).agent(task.agentId).at(this.ctx.now()).build(),
    );
  }
}
