// The sweeper: on a timer, on one instance at a time (an advisory lock), it expires leases whose
// agent went silent (AGENT_LOST), times out attempts past timeoutMs (TIMEOUT), marks silent remote
// agents OFFLINE, and announces work whose retry backoff has ended.
import { AgentStatus, HistoryEventType } from '../domain/enums';
import { publicAgent } from './agents';
import type { EngineContext } from './context';
import type { LeaseService } from './leases';

export const SWEEPER_LOCK = 7_310_002;
/** Overdue tasks handled per transaction; the rest wait for the next pass. */
const BATCH = 200;

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastTick: Date;

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

  private async sweep(): Promise<void> {
    const now = this.ctx.now();
    const from = this.lastTick;
    await this.ctx.writer.write(async (tx, changes) => {
      if (!(await tx.tryLock(SWEEPER_LOCK))) return;
      let handled = 0;
      for (;;) {
        const overdue = await tx.overdueTasks(now, BATCH);
        for (const task of overdue) await this.leases.expire(tx, changes, task, task.reason);
        handled += overdue.length;
        if (overdue.length < BATCH || handled >= BATCH * 10) break;
      }
      for (const agent of await tx.markSilentAgentsOffline(new Date(now.getTime() - this.ctx.options.leaseTimeoutMs))) {
        changes.record({
          type: HistoryEventType.AGENT_STATUS_CHANGED,
          agentId: agent.id,
          data: { to: AgentStatus.OFFLINE, reason: `not seen for ${this.ctx.options.leaseTimeoutMs} ms` },
        });
        changes.emit({ topic: 'agent', agent: publicAgent(agent) });
      }
      for (const capability of await tx.capabilitiesAvailableBetween(from, now)) changes.wake(capability);
      if (handled) this.ctx.log.info('sweeper handled overdue tasks', { count: handled });
    });
    this.lastTick = now;
  }
}
