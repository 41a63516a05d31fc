// The Orchestrator: the engine's front door. It composes the services, runs the periodic jobs,
// and answers the questions that span them (status, reset).
import { HealthStatus, HistoryEventType } from '../domain/enums';
import type { EventBus, EventOf, Topic } from '../events/event-bus';
import { iterateEvents } from '../events/iterate';
import type { Store } from '../storage/store';
import { AgentService } from './agents';
import { CacheService } from './cache';
import type { EngineContext, EngineOptions } from './context';
import { ErrorService } from './errors';
import { HealthMonitor } from './health-monitor';
import { HistoryService } from './history';
import { type Logger, silentLogger } from '../support/logger';
import { QualityService } from './quality';
import { Claims } from './dispatch/claims';
import { LeaseService } from './dispatch/lease-service';
import { Liveness } from './dispatch/liveness';
import { LongPoll } from './dispatch/long-poll';
import { PushDispatcher } from './dispatch/push-dispatcher';
import { Results } from './dispatch/results';
import type { DispatchStrategy } from './dispatch/strategy';
import { Sweeper } from './sweeper';
import { Transitions } from './transitions';
import { WorkflowService } from './workflow-service';
import { WorkflowReader } from './workflows';
import { Writer } from './writer';

export type { EventOf } from '../events/event-bus';

export interface OrchestratorStatus {
  instanceId: string;
  version: string;
  status: HealthStatus;
  healthScore: number;
  uptimeSeconds: number;
  agents: number;
  runningWorkflows: number;
  queuedTasks: number;
  runningTasks: number;
}

export interface OrchestratorDeps {
  store: Store;
  bus: EventBus;
  options: EngineOptions;
  /** How push dispatch meets the writes that make work ready: depends on the store (see strategy.ts). */
  dispatch: DispatchStrategy;
  log?: Logger;
  now?: () => Date;
}

export class Orchestrator {
  readonly agents: AgentService;
  readonly errors: ErrorService;
  readonly quality: QualityService;
  readonly health: HealthMonitor;
  readonly cache: CacheService;
  readonly history: HistoryService;
  readonly workflows: WorkflowReader;
  readonly workflowControl: WorkflowService;
  readonly leases: LeaseService;
  readonly dispatcher: PushDispatcher;
  readonly sweeper: Sweeper;
  readonly bus: EventBus;
  private readonly ctx: EngineContext;
  private readonly startedAt = Date.now();
  private purgeTimer: NodeJS.Timeout | null = null;

  constructor(deps: OrchestratorDeps) {
    const now = deps.now ?? (() => new Date());
    const log = deps.log ?? silentLogger;
    const writer = new Writer(deps.store, deps.bus, now, log);
    this.ctx = { store: deps.store, bus: deps.bus, writer, now, options: deps.options, log };
    this.bus = deps.bus;
    this.agents = new AgentService(this.ctx);
    this.errors = new ErrorService(this.ctx);
    this.quality = new QualityService(this.ctx);
    this.health = new HealthMonitor(this.ctx, this.quality);
    this.cache = new CacheService(this.ctx);
    this.history = new HistoryService(this.ctx);
    this.workflows = new WorkflowReader(this.ctx);
    const transitions = new Transitions(this.ctx, this.errors);
    this.workflowControl = new WorkflowService(this.ctx, transitions);
    const liveness = new Liveness(this.ctx, transitions);
    const claims = new Claims(this.ctx, transitions, liveness);
    const results = new Results(this.ctx, transitions, claims, liveness);
    const longPoll = new LongPoll(this.ctx, claims, liveness);
    this.leases = new LeaseService(this.ctx, { claims, longPoll, results, liveness });
    this.dispatcher = new PushDispatcher(this.ctx, claims, liveness);
    deps.dispatch.install({ writer, starts: this.workflowControl, push: this.dispatcher });
    this.sweeper = new Sweeper(this.ctx, results, liveness);
    writer.onCommitted((changes) => {
      if (changes.events.some((e) => e.topic === 'agent' || e.topic === 'error') || changes.history.some((h) => h.type === HistoryEventType.ORCHESTRATOR_RESET)) {
        this.health.nudge();
      }
    });
  }

  /**
   * The events of one topic that `select` keeps (mapped), as an async iterator for a subscription:
   * listening from this call on, until the consumer returns.
   */
  watch<T extends Topic, R>(topic: T, select: (event: EventOf<T>) => R | undefined): AsyncIterableIterator<R> {
    return iterateEvents(this.bus, topic, select);
  }

  get options(): EngineOptions {
    return this.ctx.options;
  }

  /** Starts the periodic jobs, once the work of dead instances is back in the queue. */
  async start(): Promise<void> {
    await this.sweeper.recover();
    this.health.start();
    this.sweeper.start();
    this.purgeTimer = setInterval(() => {
      this.cache.purgeExpired().catch((err) => this.ctx.log.warn('cache purge failed', { err }));
    }, this.ctx.options.cachePurgeIntervalMs);
    this.purgeTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.purgeTimer = null;
    await this.sweeper.stop();
    await this.health.stop();
  }

  async status(): Promise<OrchestratorStatus> {
    const report = await this.health.report();
    const runningWorkflows = report.components.find((c) => c.name === 'storage')?.score
      ? await this.ctx.store.countRunningWorkflows()
      : 0;
    return {
      instanceId: this.ctx.options.instanceId,
      version: this.ctx.options.version,
      status: report.status,
      healthScore: report.score,
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      agents: report.agents.total,
      runningWorkflows,
      queuedTasks: report.queue.queued,
      runningTasks: report.queue.running,
    };
  }

  /**
   * Clears cache, history, error records and finished workflows; keeps agents and running work,
   * and the quality counters of what it keeps (see Store.recountQuality).
   */
  async reset(): Promise<OrchestratorStatus> {
    await this.ctx.writer.write(async (tx, changes) => {
      // First: results recorded while this runs wait for it, so the recount misses none.
      await tx.lockQuality();
      const cleared = {
        cacheEntries: await tx.clearCache(null, this.ctx.now()),
        historyEvents: await tx.clearHistory(null),
        errorRecords: await tx.deleteAllErrors(),
        workflows: await tx.deleteFinishedWorkflows(),
      };
      await tx.recountQuality();
      changes.record({ type: HistoryEventType.ORCHESTRATOR_RESET, data: cleared });
    });
    return this.status();
  }
}
