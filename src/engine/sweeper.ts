// The sweeper: on a timer, on one instance at a time (an advisory lock), it expires leases whose
// agent went silent (AGENT_LOST), times out attempts past timeoutMs (TIMEOUT), marks silent remote
// agents OFFLINE, and announces work whose retry backoff has ended. On every instance, it also says
// that instance is alive and hands back the built-in work of instances that died.
import { AgentStatus, HistoryEventType } from '../domain/enums';
import { publicAgent } from './agents';
import type { EngineContext } from './context';
import type { LeaseService } from './leases';

export const SWEEPER_LOCK = 7_310_002;
/** Overdue tasks handled per transaction. */
const BATCH = 50;
/** Transactions of overdue tasks per pass; the rest wait for the next pass. */
const BATCHES_PER_PASS = 20;

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastTick: Date;
  /** Built-in leases of dead instances may be left to hand back (always worth a look at start-up). */
  private orphansLeft = true;

  constructor(
    private readonly ctx: EngineContext,
    private readonly leases: LeaseService,
  ) {
    this.lastTick = ctx.now();
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.ctx.options.sweepIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    // Its built-in leases were handed back (BuiltinRunner.stop); any left are orphans from now on.
    await this.ctx.writer
      .write((tx) => tx.forgetInstances({ id: this.ctx.options.instanceId }))
      .catch((err) => this.ctx.log.warn('could not remove this instance from the live ones', { err }));
  }

  /**
   * Before the built-in agents take work: the built-in work of dead instances goes back to the
   * queue now, not a lease timeout later. With the embedded store no other instance can be running,
   * so every other one is dead; a row under this instance's own id is from an earlier life of it
   * (a restart with the same INSTANCE_ID), so its leases are orphans too.
   */
  async recover(): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.writer.write((tx) => tx.forgetInstances({ id: this.ctx.options.instanceId }));
    await this.liveness(now, this.ctx.options.soleInstance ? null : this.deadBefore(now), Infinity);
  }

  private deadBefore(now: Date): Date {
    return new Date(now.getTime() - this.ctx.options.instanceTimeoutMs);
  }

  /**
   * Forgets instances unseen since `deadBefore` (null: every other one), hands their built-in work
   * back (up to `maxBatches` transactions), and says this instance is alive — last, so that at
   * start-up the leases of its own earlier life are handed back first.
   */
  private async liveness(now: Date, deadBefore: Date | null, maxBatches: number): Promise<void> {
    const self = this.ctx.options.instanceId;
    let handed = 0;
    for (let batch = 0; ; batch++) {
      const last = batch + 1 >= maxBatches;
      const back = await this.ctx.writer.write(async (tx, changes) => {
        const dead = batch === 0 ? await tx.forgetInstances({ unseenSince: deadBefore, except: self }) : 0;
        const back = dead > 0 || this.orphansLeft ? await this.leases.handBackOrphans(tx, changes, BATCH) : 0;
        if (back < BATCH || last) await tx.instanceSeen(self, now);
        return back;
      });
      handed += back;
      this.orphansLeft = back === BATCH;
      if (back < BATCH || last) break;
    }
    if (handed) this.ctx.log.info('handed back the built-in tasks of instances that died', { count: handed });
  }

  /** One pass; overlapping calls share the pass in progress. */
  tick(): Promise<void> {
    this.running ??= this.sweep()
      .catch((err) => this.ctx.log.warn('sweep failed', { err }))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /**
   * Each batch of overdue tasks is a transaction of its own. On PGlite a transaction holds the
   * event loop while it runs: when an agent holding 2,000 leases went silent, expiring them all in
   * one transaction stopped every request for 1.6 s.
   */
  private async sweep(): Promise<void> {
    const now = this.ctx.now();
    // A sole instance handed back every dead one's work at start-up (recover) and has no peers to
    // tell it is alive: its sweeps write nothing for liveness (a write per sweep would also empty
    // the query cache every second).
    if (!this.ctx.options.soleInstance) await this.liveness(now, this.deadBefore(now), BATCHES_PER_PASS);
    const from = this.lastTick;
    let handled = 0;
    for (let batch = 0; batch < BATCHES_PER_PASS; batch++) {
      const expired = await this.ctx.writer.write(async (tx, changes) => {
        if (!(await tx.tryLock(SWEEPER_LOCK))) return 0;
        const overdue = await tx.overdueTasks(now, BATCH);
        for (const task of overdue) await this.leases.expire(tx, changes, task, task.reason);
        if (batch > 0) return overdue.length;
        // Once per pass, with the first batch.
        for (const agent of await tx.markSilentAgentsOffline(new Date(now.getTime() - this.ctx.options.leaseTimeoutMs))) {
          changes.record({
            type: HistoryEventType.AGENT_STATUS_CHANGED,
            agentId: agent.id,
            data: { to: AgentStatus.OFFLINE, reason: `not seen for ${this.ctx.options.leaseTimeoutMs} ms` },
          });
          changes.emit({ topic: 'agent', agent: publicAgent(agent) });
        }
        for (const capability of await tx.capabilitiesAvailableBetween(from, now)) changes.readyWork.wakeCapability(capability);
        return overdue.length;
      });
      handled += expired;
      if (expired < BATCH) break;
    }
    if (handled) this.ctx.log.info('sweeper handled overdue tasks', { count: handled });
    this.lastTick = now;
  }
}
