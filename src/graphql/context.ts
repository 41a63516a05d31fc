// Per-operation context: the engine, batch loaders (no N+1), and this instance's lifecycle.
import DataLoader from 'dataloader';
import type { Agent } from '../domain/agent';
import type { QualitySummary } from '../domain/quality';
import type { ErrorRecord } from '../domain/error-record';
import type { Task, Workflow, WorkflowProgress } from '../domain/workflow';
import type { Orchestrator } from '../engine/orchestrator';

export interface Lifecycle {
  /** Starts a graceful stop of this instance after the current response is sent. */
  shutdown(drainTimeoutMs: number): void;
}

export interface Loaders {
  agent: DataLoader<string, Agent | null>;
  agentQuality: DataLoader<string, QualitySummary>;
  workflowQuality: DataLoader<string, QualitySummary>;
  workflow: DataLoader<string, Workflow | null>;
  task: DataLoader<string, Task | null>;
  workflowTasks: DataLoader<string, Task[]>;
  workflowProgress: DataLoader<string, WorkflowProgress>;
  workflowOutput: DataLoader<string, Record<string, unknown>>;
  workflowErrors: DataLoader<string, ErrorRecord[]>;
  taskErrors: DataLoader<string, ErrorRecord[]>;
}

export interface GraphQLContext {
  orchestrator: Orchestrator;
  lifecycle: Lifecycle;
  loaders: Loaders;
  /** Fires when the client goes away before the answer (a long-poll stops waiting). */
  signal?: AbortSignal;
}

const LOADERS: { [K in keyof Loaders]: (o: Orchestrator) => Loaders[K] } = {
  agent: (o) =>
    new DataLoader(async (ids) => {
      const found = new Map((await o.agents.byIds(ids)).map((a) => [a.id, a]));
      return ids.map((id) => found.get(id) ?? null);
    }),
  agentQuality: (o) => new DataLoader((ids) => o.quality.many('agent', ids)),
  workflowQuality: (o) => new DataLoader((ids) => o.quality.many('workflow', ids)),
  workflow: (o) => new DataLoader((ids) => o.workflows.workflows(ids)),
  task: (o) => new DataLoader((ids) => o.workflows.tasks(ids)),
  workflowTasks: (o) => new DataLoader((ids) => o.workflows.tasksByWorkflow(ids)),
  workflowProgress: (o) => new DataLoader((ids) => o.workflows.progressByWorkflow(ids)),
  workflowOutput: (o) => new DataLoader((ids) => o.workflows.outputsByWorkflow(ids)),
  workflowErrors: (o) => new DataLoader((ids) => o.workflows.errorsBy('workflow', ids)),
  taskErrors: (o) => new DataLoader((ids) => o.workflows.errorsBy('task', ids)),
};

/** Loaders made so far for one operation, each on first use through a getter on the prototype. */
class LoadersOnUse {
  readonly made: Partial<Loaders> = {};
  constructor(readonly orchestrator: Orchestrator) {}
}
for (const key of Object.keys(LOADERS) as (keyof Loaders)[]) {
  Object.defineProperty(LoadersOnUse.prototype, key, {
    get(this: LoadersOnUse) {
      return (this.made[key] ??= LOADERS[key](this.orchestrator) as never);
    },
  });
}

/**
 * The batch loaders of one operation, each made on first use: a subscription (thousands may be
 * open) or a small query carries none of the ones it never touches, and making the set costs one
 * small object.
 */
export function createLoaders(o: Orchestrator): Loaders {
  return new LoadersOnUse(o) as unknown as Loaders;
}

/**
 * One operation's context. The signal is a getter on the prototype, made on first use (only a
 * long-poll asks for it): Apollo Server copies a context's own properties for every request, and
 * an own getter would be called by that copy.
 */
class OperationContext implements GraphQLContext {
  readonly loaders: Loaders;
  private madeSignal: AbortSignal | undefined;

  constructor(
    readonly orchestrator: Orchestrator,
    readonly lifecycle: Lifecycle,
    private readonly clientGone?: () => AbortSignal,
  ) {
    this.loaders = createLoaders(orchestrator);
  }

  get signal(): AbortSignal | undefined {
    return this.clientGone ? (this.madeSignal ??= this.clientGone()) : undefined;
  }
}

/** `clientGone` makes the operation's signal: one that fires if the client goes away first. */
export function createContext(orchestrator: Orchestrator, lifecycle: Lifecycle, clientGone?: () => AbortSignal): GraphQLContext {
  return new OperationContext(orchestrator, lifecycle, clientGone);
}
