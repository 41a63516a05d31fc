// Health: evaluates the report on demand, and re-evaluates after relevant changes and on a timer
// to announce `healthChanged` when the status changes or the score moves by the configured step.
import { AgentStatus, ErrorSeverity, HealthStatus, HistoryEventType } from '../domain/enums';
import { buildErrorSummary } from '../domain/error-record';
import { type HealthReport, healthScore, isHealthChangeWorthAnnouncing } from '../domain/health';
import { NO_RESULTS, qualitySummary } from '../domain/quality';
import type { EngineContext } from './context';
import type { QualityService } from './quality';

/** Coalesces bursts of changes into one evaluation (a busy engine evaluates at most this often). */
const NUDGE_DELAY_MS = 200;

export class HealthMonitor {
  private last: { score: number; status: HealthStatus } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private nudgeTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rerun = false;
  private stopped = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly quality: QualityService,
  ) {}

  async report(): Promise<HealthReport> {
    const { store, options } = this.ctx;
    const now = this.ctx.now();
    const since = new Date(now.getTime() - options.health.errorWindowMs);
    const storageReachable = await store.ping();
    if (!storageReachable) {
      const score = healthScore(
        {
          quality: qualitySummary(NO_RESULTS),
          recentErrors: zeroSeverities(),
          recentWindowMs: options.health.errorWindowMs,
          queuedCapabilities: [],
          servedCapabilities: [],
          onlineAgents: 0,
          oldestQueuedAgeMs: null,
          queueAgeLimitMs: options.health.queueAgeLimitMs,
          storageReachable: false,
        },
        options.health,
      );
      return {
        ...score,
        generatedAt: now,
        quality: qualitySummary(NO_RESULTS),
        agents: { total: 0, online: 0, busy: 0, draining: 0, offline: 0 },
        queue: { queued: 0, running: 0, oldestQueuedAgeMs: null },
        errors: buildErrorSummary([], since),
      };
    }
    const [quality, errorCounts, agents, queue] = await Promise.all([
      this.quality.of(null, null),
      store.errorCounts(since),
      store.listAgents(null),
      store.queueStats(),
    ]);
    const errors = buildErrorSummary(errorCounts, since);
    const recentErrors = zeroSeverities();
    for (const s of errors.bySeverity) recentErrors[s.severity] = s.count;
    const counts = { total: agents.length, online: 0, busy: 0, draining: 0, offline: 0 };
    const served = new Set<string>();
    for (const a of agents) {
      const busy = a.status === AgentStatus.ONLINE && a.runningTasks >= a.concurrency;
      if (a.status === AgentStatus.ONLINE) {
        counts[busy ? 'busy' : 'online'] += 1;
        for (const c of a.capabilities) served.add(c);
      } else if (a.status === AgentStatus.DRAINING) counts.draining += 1;
      else counts.offline += 1;
    }
    const oldestQueuedAgeMs = queue.oldestQueuedAt ? Math.max(0, now.getTime() - queue.oldestQueuedAt.getTime()) : null;
    const score = healthScore(
      {
        quality,
        recentErrors,
        recentWindowMs: options.health.errorWindowMs,
        queuedCapabilities: queue.queuedCapabilities,
        servedCapabilities: [...served],
        onlineAgents: counts.online + counts.busy,
        oldestQueuedAgeMs,
        queueAgeLimitMs: options.health.queueAgeLimitMs,
        storageReachable,
      },
      options.health,
    );
    return {
      ...score,
      generatedAt: now,
      quality,
      agents: counts,
      queue: { queued: queue.queued, running: queue.running, oldestQueuedAgeMs },
      errors,
    };
  }

  start(): void {
    this.stopped = false;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.ctx.options.health.intervalMs);
    this.timer.unref();
  }

  /** Schedules a re-evaluation soon; many nudges in a burst make one. */
  nudge(): void {
    if (this.stopped || this.nudgeTimer) return;
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = null;
      void this.check();
    }, NUDGE_DELAY_MS);
    this.nudgeTimer.unref();
  }

  /** Evaluates now (one evaluation at a time) and announces a change worth announcing. */
  check(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.rerun = false;
          await this.evaluateAndAnnounce();
        } while (this.rerun && !this.stopped);
      } catch (err) {
        this.ctx.log.warn('health evaluation failed', { err });
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async evaluateAndAnnounce(): Promise<void> {
    if (this.stopped) return;
    const report = await this.report();
    const previous = this.last;
    if (!isHealthChangeWorthAnnouncing(previous, report, this.ctx.options.health.changeStep)) {
      if (!previous) this.last = { score: report.score, status: report.status };
      return;
    }
    this.last = { score: report.score, status: report.status };
    try {
      await this.ctx.writer.write(async (_tx, changes) => {
        changes.record({
          type: HistoryEventType.HEALTH_CHANGED,
          data: { from: previous, to: { score: report.score, status: report.status } },
        });
        changes.emit({ topic: 'health', report });
      });
    } catch (err) {
      // Storage is down (that is likely why health changed): subscribers still deserve to know.
      this.ctx.log.warn('health change not recorded in history', { err });
      await this.ctx.bus.publish([{ topic: 'health', report }]);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.nudgeTimer) clearTimeout(this.nudgeTimer);
    this.timer = this.nudgeTimer = null;
    await this.running;
  }
}

function zeroSeverities(): Record<ErrorSeverity, number> {
  return { [ErrorSeverity.LOW]: 0, [ErrorSeverity.MEDIUM]: 0, [ErrorSeverity.HIGH]: 0, [ErrorSeverity.CRITICAL]: 0 };
}
