// Liveness: who is alive, and the work of whoever is not. Agents are seen when they call
// (lastSeenAt), instances say they are alive in `instances`; running work goes back to the queue,
// attempt unspent, when its holder can no longer run it: a lease that never reached its agent, the
// built-in leases of an instance that stops, those of instances that died. The sweeper calls in
// on its timer; the built-in agents hand back on stop.
import { HistoryEventType, TaskStatus } from '../../domain/enums';
import type { ReturnedLeases, Store } from '../../storage/store';
import type { EngineContext } from '../context';
import type { Transitions } from '../transitions';
import type { Changes } from '../writer';

/** Why running work goes back to the queue, and which. */
export type HandBack =
  /** Leases claimed for a caller that went away before they reached it. */
  | { reason: 'not delivered'; leaseIds: string[] }
  /** Leases an agent gives back unfinished: it is stopping (handBackTasks). */
  | { reason: 'agent stopping'; leaseIds: string[] }
  /** Every built-in lease this instance holds: it is stopping. */
  | { reason: 'instance stopping' }
  /** Built-in leases of instances that died (their row is gone), up to `limit`. */
  | { reason: 'instance died'; limit: number };

/** What the history of a task handed back says. */
const HISTORY_REASON: Record<HandBack['reason'], string> = {
  'not delivered': 'lease not delivered',
  'agent stopping': 'handed back by its agent',
  'instance stopping': 'handed back on stop',
  'instance died': 'handed back: the instance running it stopped without handing it back',
};

/** Leases handed back per transaction when an instance stops. */
const STOP_BATCH = 500;
/** Leases of dead instances handed back per transaction. */
const ORPHAN_BATCH = 50;

export class Liveness {
  /** When this instance last recorded each agent as seen (lastSeenAt is kept to this precision). */
  private readonly touched = new Map<string, number>();
  /** Built-in leases of dead instances may be left to hand back (always worth a look at start-up). */
  private orphansLeft = true;

  constructor(
    private readonly ctx: EngineContext,
    private readonly transitions: Transitions,
  ) {}

  /**
   * Records agents as seen. An agent busy with many calls is written at most once per interval (a
   * tenth of the lease timeout, at most a second): lastSeenAt only has to beat the lease timeout.
   */
  async seen(tx: Store, agentIds: string[]): Promise<void> {
    const now = this.ctx.now().getTime();
    const every = Math.min(1000, this.ctx.options.leaseTimeoutMs / 10);
    const due = [...new Set(agentIds)].filter((id) => now - (this.touched.get(id) ?? 0) >= every);
    if (due.length === 0) return;
    for (const id of due) this.touched.set(id, now);
    if (this.touched.size > 10_000) this.touched.clear();
    await tx.touchAgents(due, this.ctx.now());
  }

  /**
   * Running work goes back to the queue, attempt unspent, and any instance starts it at once.
   * Returns how many tasks went back. Dead instances' work goes back through `instancesPass`.
   */
  async handBack(which: Exclude<HandBack, { reason: 'instance died' }>): Promise<number> {
    if ('leaseIds' in which) return this.ctx.writer.write((tx, changes) => this.handBackIn(tx, changes, which));
    let total = 0;
    for (;;) {
      const back = await this.ctx.writer.write((tx, changes) => this.handBackIn(tx, changes, which));
      total += back;
      if (back < STOP_BATCH) return total;
    }
  }

  /**
   * A task already handed back maxTaskHandbacks times after a death is not handed back again: its
   * lease expires now and the sweeper ends it as AGENT_LOST, so a task that takes its server down
   * does not do so forever.
   */
  private async handBackIn(tx: Store, changes: Changes, which: HandBack): Promise<number> {
    const selected: ReturnedLeases =
      'leaseIds' in which
        ? { leaseIds: which.leaseIds }
        : which.reason === 'instance stopping'
          ? { instance: this.ctx.options.instanceId, limit: STOP_BATCH }
          : { orphans: true, maxHandbacks: this.ctx.options.maxTaskHandbacks, limit: which.limit };
    const back = await tx.returnLeases(selected);
    for (const t of back) {
      this.transitions.taskChanged(changes, t, TaskStatus.RUNNING, HistoryEventType.TASK_QUEUED, { reason: HISTORY_REASON[which.reason] });
      changes.readyWork.wakeCapability(t.capability);
    }
    if (which.reason === 'instance died' && back.length < which.limit) await tx.expireOrphanedLeases(this.ctx.now());
    return back.length;
  }

  /**
   * Before the built-in agents take work: the built-in work of dead instances goes back to the
   * queue now, not a lease timeout later. With the embedded store no other instance can be running,
   * so every other one is dead; a row under this instance's own id is from an earlier life of it
   * (a restart with the same INSTANCE_ID), so its leases are orphans too.
   */
  async recover(): Promise<void> {
    const now = this.ctx.now();
    await this.forgetSelf();
    await this.instancesPass(now, this.ctx.options.soleInstance ? null : this.deadBefore(now), Infinity);
  }

  /**
   * One sweep's look at the instances. A sole instance handed back every dead one's work at
   * start-up (recover) and has no peers to tell it is alive: its sweeps write nothing for liveness
   * (a write per sweep would also empty the query cache every second).
   */
  async sweep(now: Date, maxBatches: number): Promise<void> {
    if (!this.ctx.options.soleInstance) await this.instancesPass(now, this.deadBefore(now), maxBatches);
  }

  /** This instance stops: its built-in leases were handed back, and any left are orphans from now on. */
  forgetSelf(): Promise<number> {
    return this.ctx.writer.write((tx) => tx.forgetInstances({ id: this.ctx.options.instanceId }));
  }

  private deadBefore(now: Date): Date {
    return new Date(now.getTime() - this.ctx.options.instanceTimeoutMs);
  }

  /**
   * Forgets instances unseen since `deadBefore` (null: every other one), hands their built-in work
   * back (up to `maxBatches` transactions), and says this instance is alive — last, so that at
   * start-up the leases of its own earlier life are handed back first.
   */
  private async instancesPass(now: Date, deadBefore: Date | null, maxBatches: number): Promise<void> {
    const self = this.ctx.options.instanceId;
    let handed = 0;
    for (let batch = 0; ; batch++) {
      const last = batch + 1 >= maxBatches;
      const back = await this.ctx.writer.write(async (tx, changes) => {
        const dead = batch === 0 ? await tx.forgetInstances({ unseenSince: deadBefore, except: self }) : 0;
        const back =
          dead > 0 || this.orphansLeft ? await this.handBackIn(tx, changes, { reason: 'instance died', limit: ORPHAN_BATCH }) : 0;
        if (back < ORPHAN_BATCH || last) await tx.instanceSeen(self, now);
        return back;
      });
      handed += back;
      this.orphansLeft = back === ORPHAN_BATCH;
      if (back < ORPHAN_BATCH || last) break;
    }
    if (handed) this.ctx.log.info('handed back the built-in tasks of instances that died', { count: handed });
  }
}
