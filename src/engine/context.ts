// What every engine service shares: storage, the bus, the writer, the clock, options and the log.
import type { HealthThresholds } from '../domain/health';
import type { EventBus } from '../events/event-bus';
import type { Store } from '../storage/store';
import type { Logger } from '../support/logger';
import type { Writer } from './writer';

export interface EngineOptions {
  instanceId: string;
  version: string;
  leaseTimeoutMs: number;
  health: HealthThresholds & {
    /** A score move of at least this many points announces `healthChanged` even without a status change. */
    changeStep: number;
    /** Errors newer than this count in the errors component. */
    errorWindowMs: number;
    /** A task queued this long drives the queue component to 0. */
    queueAgeLimitMs: number;
    /** How often health is re-evaluated without a triggering change. */
    intervalMs: number;
  };
  /** How often expired cache entries are purged from storage. */
  cachePurgeIntervalMs: number;
  /** How often the sweeper looks for expired leases, timed-out tasks and silent agents. */
  sweepIntervalMs: number;
  /** Progress reports of one task are announced (history + taskUpdated) at most this often. */
  progressThrottleMs: number;
  /** Most steps one workflow may have. */
  maxWorkflowSteps: number;
  /** Most dependsOn entries one workflow may have over all its steps. */
  maxWorkflowEdges: number;
  /** Most REMOTE agents registered at once (online or not, until deregistered). */
  maxAgents: number;
  /** How many tasks each built-in agent runs at once. */
  builtinConcurrency: number;
  /**
   * This instance is the only one that can be running (the embedded store is one process's): at
   * start-up every built-in lease of another instance is known dead and handed back at once.
   */
  soleInstance: boolean;
  /** An instance unseen for this long is dead: its built-in leases are handed back. */
  instanceTimeoutMs: number;
  /** Hand-backs after its instance died that one task gets; past them its lease is lost (AGENT_LOST). */
  maxTaskHandbacks: number;
  /** Largest JSON value (metadata, context, cache value) accepted, in bytes of its JSON text. */
  maxJsonBytes: number;
  /** Most levels of objects and arrays in one JSON value (the GraphQL layer refuses deeper ones). */
  maxJsonDepth: number;
}

export interface EngineContext {
  store: Store;
  bus: EventBus;
  writer: Writer;
  now: () => Date;
  options: EngineOptions;
  log: Logger;
}
