// Claims: ready tasks taken under a lease by an agent that can run them, in dispatch order
// (priority, then age), never beyond its free concurrency, each a row update fenced by SKIP LOCKED
// in the store. Also the lease a start gives a task as it writes it (leaseAtStart), the same claim
// without the update.
import { AgentKind, AgentStatus, HistoryEventType, TaskStatus, WorkflowStatus } from '../../domain/enums';
import { invalid, notFound } from '../../domain/errors';
import { dispatchOrder, type TaskLease } from '../../domain/workflow';
import type { NewLease, NewTask, Store, StoredAgent, StoredTask } from '../../storage/store';
import { publicAgent } from '../agents';
import type { EngineContext } from '../context';
import type { Transitions } from '../transitions';
import type { Changes } from '../writer';
import { toLease } from './lease';
import type { Liveness } from './liveness';

export const CLAIM_MAX = 500;

/** What a claim gave, and what it learnt of the agent. */
export interface Claimed {
  leases: TaskLease[];
  /** False for a DRAINING agent (and, inside another write, one that no longer exists). */
  accepting: boolean;
  /** The agent has no free slot left (this claim may have filled it). */
  full?: boolean;
}

/** Leases for tasks a start is about to write, and what to do once they are written. */
export interface StartGrant {
  leases: Map<string, NewLease>;
  full: boolean;
  /** Records the start of the tasks as inserted and returns their leases. */
  written(tasks: StoredTask[]): TaskLease[];
}

export class Claims {
  /**
   * Workflows known to have left PENDING, which they never go back to: a claim need not try to
   * mark them RUNNING. Learnt from committed changes and from claims that found them started.
   */
  private readonly notPending = new Set<string>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
    private readonly liveness: Liveness,
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

  /** Takes up to `max` ready tasks the agent can run, in a transaction of its own. */
  async claim(agentId: string, max: number): Promise<Claimed> {
    if (!Number.isInteger(max) || max < 1 || max > CLAIM_MAX) {
      throw invalid(`max must be an integer from 1 to ${CLAIM_MAX}`, { field: 'max' });
    }
    return this.ctx.writer.write((tx, changes) => this.claimIn(tx, changes, agentId, max));
  }

  /**
   * The claim itself, inside a transaction the caller writes. With `ifExists`, an agent that no
   * longer exists gets nothing instead of NOT_FOUND (a claim made for it inside another write).
   */
  async claimIn(tx: Store, changes: Changes, agentId: string, max: number, options: { ifExists?: boolean } = {}): Promise<Claimed> {
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
      // A built-in agent runs in this process: its leases end with it (see Liveness).
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
    await this.liveness.seen(tx, [agentId]);
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
   * PushDispatcher.leaseAtStart): its first claim goes into the task's row as it is inserted,
   * instead of an insert QUEUED and an update to RUNNING in the same transaction (a claim's UPDATE
   * is a second version of every row and of its index entries).
   * Up to `max` of `ready` the agent can run, highest priority first, never beyond its free slots —
   * and none while work it could take is already queued: that goes first, and the claim that
   * follows the insert takes everything in dispatch order.
   */
  async leaseAtStart(tx: Store, changes: Changes, agentId: string, ready: readonly NewTask[], max: number): Promise<StartGrant> {
    const none: StartGrant = { leases: new Map<string, NewLease>(), full: false, written: () => [] };
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
      chosen.map((t): [string, NewLease] => [t.id, { agentId, expiresAt, at: now }]),
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
}
