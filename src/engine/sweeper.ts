// The sweeper: on a timer, on one instance at a time (an advisory lock), it expires leases whose
// agent went silent (AGENT_LOST), times out attempts past timeoutMs (TIMEOUT), marks silent remote
// agents OFFLINE, and announces work whose retry backoff has ended. On every instance, it also
// gives instance liveness its turn (dispatch/liveness.ts: this instance is alive, the built-in
// work of instances that died goes back).
import { AgentStatus, HistoryEventType } from '../domain/enums';
import { publicAgent } from './agents';
import type { EngineContext } from './context';
import type { Liveness } from './dispatch/liveness';
import type { Results } from './dispatch/results';

export const SWEEPER_LOCK = 7_310_002;
/** Overdue tasks handled per transaction. */
const BATCH = 50;
/** Transactions of overdue tasks per pass; the rest wait for the next pass. */
const BATCHES_PER_PASS = 20;

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastTick: Date;

  constructor(
    private readonly ctx: EngineContext,
    private readonly results: Results,
    private readonly liveness: Liveness,
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
    await this.liveness.forgetSelf().catch((err) => this.ctx.log.warn('could not remove this instance from the live ones', { err }));
  }

  /** Before the built-in agents take work: the built-in work of dead instances goes back now. */
  recover(): Promise<void> {
    return this.liveness.recover();
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
   * event loop while it runs: expiring the thousands of leases of one silent agent in a single
   * transaction would stop every request for as long.
   */
  private async sweep(): Promise<void> {
    const now = this.ctx.now();
    await this.liveness.sweep(now, BATCHES_PER_PASS);
    const from = this.lastTick;
    let handled = 0;
    for (let batch = 0; batch < BATCHES_PER_PASS; batch++) {
      const expired = await this.ctx.writer.write(async (tx, changes) => {
        if (!(await tx.tryLock(SWEEPER_LOCK))) return 0;
        const overdue = await tx.overdueTasks(now, BATCH);
        for (const task of overdue) await this.results.expire(tx, changes, task, task.reason);
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
