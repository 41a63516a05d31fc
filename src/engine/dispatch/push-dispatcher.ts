// Push dispatch (`taskAssigned`): leases for one connected agent, claimed by the server as work
// arrives, up to PUSH_BATCH per claim (never beyond the agent's free concurrency), and sent one
// by one. A subscriber claims for itself only when something it could take may be waiting (it
// listens from before each claim on). Where the dispatch strategy says so (see strategy.ts), work
// made ready by a transaction is also claimed for subscribers with nothing to send in that same
// transaction, and a start writes such tasks already leased. Leases claimed but not yet sent when
// the subscriber leaves are handed back at once.
import { notFound } from '../../domain/errors';
import type { TaskLease } from '../../domain/workflow';
import type { NewLease, NewTask, Store, StoredTask } from '../../storage/store';
import type { EngineContext } from '../context';
import type { Changes } from '../writer';
import type { Claims, StartGrant } from './claims';
import type { Liveness } from './liveness';
import { type Wake, wakeFor } from './wake';

/** The most leases one push claim takes: a burst of work costs one transaction per this many. */
const PUSH_BATCH = 50;
/** The most subscribers one transaction claims for (the others claim for themselves when woken). */
const CLAIMS_PER_TRANSACTION = 4;

/** Ready tasks of a start given to connected agents as they are written (see PushDispatcher.leaseAtStart). */
export interface StartLeases {
  /** The lease each of them is written with, by task id. */
  byTask: Map<string, NewLease>;
  /** Called with those tasks as written: records their start; their leases go out once committed. */
  written(tasks: StoredTask[]): void;
}

/** Gives some of a start's ready tasks (about to be written QUEUED) to connected agents instead. */
export type LeaseAtStart = (tx: Store, changes: Changes, ready: readonly NewTask[]) => Promise<StartLeases | null>;

/** A connected `taskAssigned` subscriber of this instance. */
interface Subscriber {
  agentId: string;
  capabilities: readonly string[];
  /** Claimed, not yet sent. */
  buffer: TaskLease[];
  /**
   * What can give the subscriber work, heard from before its last claim on: while nothing has
   * fired it, that claim (or a push claim since) left nothing the subscriber could take.
   */
  wake: Wake | null;
  /** A claim found no free slot: not tried again until the subscriber has been woken. */
  full: boolean;
  /** The last claim for it (a push claim or its own) took as many as one claim may: more may be ready. */
  more: boolean;
  stopped: boolean;
}

export class PushDispatcher {
  private readonly subscribers = new Set<Subscriber>();
  /**
   * Subscribers a transaction not yet committed found full (or gave all they may take): skipped
   * for the rest of it. Their `full` flag is set only once it commits (a rolled-back transaction
   * changed nothing), as is `more`.
   */
  private readonly fullIn = new WeakMap<Changes, Set<Subscriber>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly claims: Claims,
    private readonly liveness: Liveness,
  ) {}

  /**
   * Before a transaction commits work it made ready, up to CLAIMS_PER_TRANSACTION subscribers with
   * nothing left to send (and not known to be full) that can run it claim it in the same
   * transaction: the lease goes out once it commits, with no wake-up and no claim transaction
   * queued behind other writes. Work nobody took here is announced as before. Subscribers tried
   * go to the back of the line.
   */
  async claimInTransaction(tx: Store, changes: Changes): Promise<void> {
    if (this.subscribers.size === 0) return;
    const tried: Subscriber[] = [];
    let ready = changes.readyWork.toAnnounce();
    for (const sub of this.subscribers) {
      if (!ready.length || tried.length >= CLAIMS_PER_TRANSACTION) break;
      if (!this.mayTake(sub, changes)) continue;
      if (!sub.capabilities.some((c) => ready.includes(c))) continue;
      tried.push(sub);
      const { leases, full } = await this.claims.claimIn(tx, changes, sub.agentId, PUSH_BATCH, { ifExists: true });
      this.flag(sub, changes, full, leases.length >= PUSH_BATCH);
      if (leases.length) {
        changes.afterCommit.push(() => this.deliver(sub, leases));
        ready = changes.readyWork.toAnnounce();
      }
    }
    this.toBack(tried);
  }

  /**
   * As a start writes tasks that are ready at once: up to CLAIMS_PER_TRANSACTION subscribers with
   * nothing left to send (and not known to be full) take those they can run as they are inserted —
   * each written RUNNING under its first lease, no claim afterwards (see Claims.leaseAtStart, which
   * also leaves them to the usual claim while older work is queued). What nobody took is written
   * QUEUED and claimed or announced as before commit. Subscribers tried go to the back of the line.
   */
  async leaseAtStart(tx: Store, changes: Changes, ready: readonly NewTask[]): Promise<StartLeases | null> {
    if (this.subscribers.size === 0 || ready.length === 0) return null;
    const byTask = new Map<string, NewLease>();
    const given: { sub: Subscriber; ids: Set<string>; written: StartGrant['written'] }[] = [];
    const tried: Subscriber[] = [];
    // One grant per agent: its free slots are read from its row, which counts these leases only
    // once the tasks are inserted (an agent may have several subscriptions).
    const agents = new Set<string>();
    for (const sub of this.subscribers) {
      if (tried.length >= CLAIMS_PER_TRANSACTION) break;
      if (!this.mayTake(sub, changes) || agents.has(sub.agentId)) continue;
      const candidates = ready.filter((t) => !byTask.has(t.id) && sub.capabilities.includes(t.capability));
      if (!candidates.length) continue;
      tried.push(sub);
      agents.add(sub.agentId);
      const grant = await this.claims.leaseAtStart(tx, changes, sub.agentId, candidates, PUSH_BATCH);
      this.flag(sub, changes, grant.full, grant.leases.size >= PUSH_BATCH);
      if (grant.leases.size === 0) continue;
      for (const [id, lease] of grant.leases) byTask.set(id, lease);
      given.push({ sub, ids: new Set(grant.leases.keys()), written: grant.written });
    }
    this.toBack(tried);
    if (byTask.size === 0) return null;
    return {
      byTask,
      written: (tasks) => {
        for (const g of given) {
          const leases = g.written(tasks.filter((t) => g.ids.has(t.id)));
          changes.afterCommit.push(() => this.deliver(g.sub, leases));
        }
      },
    };
  }

  /** Whether a transaction may claim for this subscriber: connected, nothing left to send, not known full. */
  private mayTake(sub: Subscriber, changes: Changes): boolean {
    return !sub.stopped && !sub.full && sub.buffer.length === 0 && !this.fullIn.get(changes)?.has(sub);
  }

  /** What a claim in this transaction learnt of the subscriber: kept once it commits. */
  private flag(sub: Subscriber, changes: Changes, full: boolean | undefined, more: boolean): void {
    if (full) {
      const inTx = this.fullIn.get(changes) ?? new Set<Subscriber>();
      this.fullIn.set(changes, inTx.add(sub));
    }
    if (full || more) {
      changes.afterCommit.push(() => {
        if (full) sub.full = true;
        if (more) sub.more = true;
      });
    }
  }

  /** Subscribers just given a chance go to the back of the line (the others are tried first next time). */
  private toBack(tried: Subscriber[]): void {
    for (const sub of tried) {
      this.subscribers.delete(sub);
      if (!sub.stopped) this.subscribers.add(sub);
    }
  }

  private deliver(sub: Subscriber, leases: TaskLease[]): void {
    if (sub.stopped) {
      // Gone between the claim and its commit: the tasks go back to the queue at once.
      void this.handBack(leases);
      return;
    }
    sub.buffer.push(...leases);
    // Resumes a waiting subscriber to send them. Not a sign of more work: this claim took all it
    // could see, and what is queued after it either is claimed the same way or fires the wake.
    sub.wake?.release();
  }

  /** Leases claimed for a subscriber that will never send them: the tasks are QUEUED again, attempt unspent. */
  private handBack(leases: TaskLease[]): Promise<void> {
    if (!leases.length) return Promise.resolve();
    return this.liveness.handBack({ reason: 'not delivered', leaseIds: leases.map((l) => l.id) }).then(
      () => undefined,
      () => undefined,
    );
  }

  /** Throws NOT_FOUND for an unknown agent; otherwise yields leases until the consumer returns. */
  async leasesFor(agentId: string): Promise<AsyncIterableIterator<TaskLease>> {
    const [agent] = await this.ctx.store.getAgents([agentId]);
    if (!agent) throw notFound('agent', agentId);
    const stop = new AbortController();
    // What wakes this subscriber: work queued for its capabilities (kept current as it re-registers).
    const sub: Subscriber = { agentId, capabilities: agent.capabilities, buffer: [], wake: null, full: false, more: false, stopped: false };
    const buffer = sub.buffer;
    const offAgent = this.ctx.bus.subscribe('agent', (e) => {
      if (e.agent.id === agentId) sub.capabilities = e.agent.capabilities;
    });
    this.subscribers.add(sub);
    // While subscribed the agent is connected: keep it from being marked OFFLINE.
    const keepAlive = setInterval(
      () => void this.ctx.store.touchAgents([agentId], this.ctx.now()).catch(() => undefined),
      Math.max(1000, Math.floor(this.ctx.options.leaseTimeoutMs / 3)),
    );
    keepAlive.unref();

    const finish = async (): Promise<IteratorResult<TaskLease>> => {
      if (!stop.signal.aborted) {
        stop.abort();
        sub.stopped = true;
        this.subscribers.delete(sub);
        sub.wake?.cancel();
        sub.wake = null;
        clearInterval(keepAlive);
        offAgent();
        // Claimed but never delivered: the tasks go back to the queue at once, attempt unspent.
        await this.handBack(buffer.splice(0));
      }
      return { value: undefined, done: true };
    };

    const next = async (): Promise<IteratorResult<TaskLease>> => {
      while (!stop.signal.aborted) {
        const ready = buffer.shift();
        if (ready) return { value: ready, done: false };
        // Claims only when something may be waiting for it: at first, after a wake-up (or a wait
        // that timed out), or when the last claim was cut at PUSH_BATCH. A buffer a push claim filled
        // and nothing since does not need a claim of its own to learn that nothing else is ready:
        // that was one more write transaction for every push, finding nothing.
        if (!sub.wake || sub.wake.fired || sub.more) {
          sub.wake?.cancel();
          const wake = wakeFor(this.ctx, agentId, sub.capabilities);
          sub.wake = wake;
          sub.more = false;
          // About to claim for itself, woken or not: whatever made it full may have changed.
          sub.full = false;
          const { leases: claimed } = await this.claims.claim(agentId, PUSH_BATCH).catch(async (e: unknown) => {
            wake.cancel();
            if (sub.wake === wake) sub.wake = null;
            // A failed claim ends the subscription (NOT_FOUND once the agent is deregistered), and
            // the consumer does not call return() after a next() that threw: finish here.
            await finish();
            throw e;
          });
          if (stop.signal.aborted) {
            // The subscriber left while we claimed (finish has run): these go straight back.
            await this.handBack(claimed);
            break;
          }
          if (claimed.length) {
            buffer.push(...claimed);
            sub.more = claimed.length >= PUSH_BATCH;
            continue;
          }
        }
        // A push claim may have delivered while this subscriber claimed for itself.
        if (buffer.length) continue;
        const wake = sub.wake as Wake;
        await wake.wait(this.ctx.options.leaseTimeoutMs, stop.signal);
        // A wait that ran out counts as a wake-up: the subscriber claims anyway, as a safety net.
        if (!buffer.length) wake.fire();
      }
      return finish();
    };

    const iterator: AsyncIterableIterator<TaskLease> = {
      next,
      return: finish,
      throw: async (e?: unknown) => {
        await finish();
        throw e;
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }
}
