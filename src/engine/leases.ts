// The agent task protocol: claiming ready tasks under a lease (pull, long-poll or push), extending
// the lease with heartbeats, and ending it with a result. A lease id fences every write: a result
// is recorded once, by the holder of the current lease.
import { AgentStatus, ErrorSeverity, ErrorType, HistoryEventType, TaskOutcome, TaskStatus, WorkflowStatus } from '../domain/enums';
import { conflict, type DomainError, invalid, notFound } from '../domain/errors';
import { ErrorRecordBuilder } from '../domain/error-record';
import type { Task, TaskLease } from '../domain/workflow';
import type { LeaseLookup, Store, StoredTask } from '../storage/store';
import { publicAgent } from './agents';
import type { EngineContext } from './context';
import { checkJsonSize } from './json-limit';
import { publicTask, type Transitions } from './transitions';
import type { Changes } from './writer';

export const CLAIM_MAX = 500;
export const WAIT_MAX_MS = 60_000;

export interface FailInput {
  type: ErrorType;
  severity?: ErrorSeverity | null;
  message: string;
  context?: unknown;
  retryable?: boolean | null;
}

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

export class LeaseService {
  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  /** Takes up to `max` ready tasks the agent can run, never beyond its free concurrency. */
  async claim(agentId: string, max: number): Promise<TaskLease[]> {
    return (await this.tryClaim(agentId, max)).leases;
  }

  /** Like claim, and tells whether the agent takes work at all (a DRAINING agent does not). */
  private async tryClaim(agentId: string, max: number): Promise<{ leases: TaskLease[]; accepting: boolean }> {
    if (!Number.isInteger(max) || max < 1 || max > CLAIM_MAX) {
      throw invalid(`max must be an integer from 1 to ${CLAIM_MAX}`, { field: 'max' });
    }
    const now = this.ctx.now();
    return this.ctx.writer.write(async (tx, changes) => {
      const agent = await tx.getAgentForUpdate(agentId);
      if (!agent) throw notFound('agent', agentId);
      await tx.touchAgents([agentId], now);
      if (agent.status === AgentStatus.OFFLINE) {
        // An agent that asks for work is alive again.
        await tx.updateAgent(agentId, { status: AgentStatus.ONLINE });
        const back = publicAgent({ ...agent, status: AgentStatus.ONLINE, lastSeenAt: now });
        changes.record({ type: HistoryEventType.AGENT_STATUS_CHANGED, agentId, data: { from: AgentStatus.OFFLINE, to: AgentStatus.ONLINE } });
        changes.emit({ topic: 'agent', agent: back });
      } else if (agent.status === AgentStatus.DRAINING) {
        return { leases: [], accepting: false };
      }
      const free = agent.concurrency - agent.runningTasks;
      if (free <= 0) return { leases: [], accepting: true };
      const claimed = await tx.claimTasks({
        agentId,
        capabilities: agent.capabilities,
        limit: Math.min(max, free),
        now,
        expiresAt: new Date(now.getTime() + this.ctx.options.leaseTimeoutMs),
      });
      for (const t of claimed) this.transitions.taskChanged(changes, t, t.previousStatus, HistoryEventType.TASK_STARTED);
      const started = await tx.markWorkflowsRunning([...new Set(claimed.flatMap((t) => (t.workflowId ? [t.workflowId] : [])))], now);
      for (const w of started) this.transitions.workflowChanged(changes, w, WorkflowStatus.PENDING, null);
      if (claimed.length && agent.runningTasks + claimed.length >= agent.concurrency) {
        changes.emit({ topic: 'agent', agent: publicAgent({ ...agent, runningTasks: agent.runningTasks + claimed.length, lastSeenAt: now }) });
      }
      return { leases: claimed.map(toLease), accepting: true };
    });
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
  wakeFor(agentId: string): { wait(ms: number, signal?: AbortSignal): Promise<void>; cancel(): void } {
    let fire: (() => void) | null = null;
    let fired = false;
    const trigger = () => {
      fired = true;
      fire?.();
    };
    let capabilities: Set<string> | null = null;
    // Until the capabilities are known every queue event wakes the waiter (a spare claim, no harm).
    this.ctx.store.getAgents([agentId]).then(
      ([a]) => {
        capabilities = new Set(a?.capabilities ?? []);
      },
      () => undefined,
    );
    const offQueue = this.ctx.bus.subscribe('queue', (e) => {
      if (!capabilities || e.capabilities.some((c) => capabilities?.has(c))) trigger();
    });
    const offTask = this.ctx.bus.subscribe('task', (e) => {
      if (e.task.agentId === agentId && e.previousStatus === TaskStatus.RUNNING) trigger();
    });
    const offAgent = this.ctx.bus.subscribe('agent', (e) => {
      if (e.agent.id === agentId) {
        capabilities = new Set(e.agent.capabilities);
        trigger();
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
      if (task.agentId) await tx.touchAgents([task.agentId], now);
      if (announce) {
        this.transitions.taskChanged(changes, updated, TaskStatus.RUNNING, HistoryEventType.TASK_PROGRESS, {
          progress: updated.progress,
          message: updated.progressMessage,
        });
      }
      return toLease(updated);
    });
  }

  async complete(leaseId: string, output: unknown, outcome: TaskOutcome | null | undefined): Promise<Task> {
    const [result] = await this.completeMany([{ leaseId, output, outcome }]);
    if (result instanceof Error) throw result;
    return result as Task;
  }

  /**
   * Records many results in one transaction (the built-in agents report this way). Each item
   * answers with its task, or with the error that refused it (stale or unknown lease), alone.
   */
  async completeMany(items: { leaseId: string; output: unknown; outcome?: TaskOutcome | null }[]): Promise<(Task | DomainError)[]> {
    for (const i of items) {
      checkJsonSize(i.output, this.ctx.options.maxJsonBytes, 'output');
      if (i.outcome === TaskOutcome.FAILURE) throw invalid('report a failure with failTask, which records why', { field: 'outcome' });
    }
    return this.ctx.writer.write(async (tx, changes) => {
      const found = new Map((await tx.getLeases(items.map((i) => i.leaseId))).map((l) => [l.lease.id, l]));
      const results: (Task | DomainError)[] = [];
      const accepted: { task: StoredTask; outcome: TaskOutcome; output: unknown; index: number }[] = [];
      const seen = new Set<string>(); // a task whose lease appears twice in one batch is recorded once
      items.forEach((item, index) => {
        const lookup = found.get(item.leaseId);
        const stale = this.staleness(item.leaseId, lookup);
        const task = lookup?.task;
        if (stale || !task || seen.has(task.id)) {
          results[index] = stale ?? conflict(`lease ${item.leaseId} was reported twice`, { leaseId: item.leaseId });
          return;
        }
        seen.add(task.id);
        accepted.push({ task, outcome: item.outcome ?? TaskOutcome.SUCCESS, output: item.output ?? null, index });
      });
      await tx.touchAgents(accepted.flatMap((a) => (a.task.agentId ? [a.task.agentId] : [])), this.ctx.now());
      const done = new Map((await this.transitions.complete(tx, changes, accepted)).map((t) => [t.id, t]));
      for (const a of accepted) results[a.index] = publicTask(done.get(a.task.id) as StoredTask);
      return results;
    });
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
      if (task.agentId) await tx.touchAgents([task.agentId], this.ctx.now());
      return publicTask(await this.transitions.fail(tx, changes, task, error));
    });
  }

  /** Gives back leases that never reached their agent: the tasks are QUEUED again, attempt unspent. */
  async unclaim(leaseIds: string[]): Promise<void> {
    await this.ctx.writer.write(async (tx, changes) => {
      for (const t of await tx.unclaimTasks(leaseIds)) {
        this.transitions.taskChanged(changes, t, TaskStatus.RUNNING, HistoryEventType.TASK_QUEUED, { reason: 'lease not delivered' });
        changes.wake(t.capability);
      }
    });
  }

  /** Expires the running leases of these agents now; the sweeper then retries their tasks. */
  handBack(agentIds: string[]): Promise<number> {
    return this.ctx.store.expireLeases({ agentIds }, this.ctx.now());
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
