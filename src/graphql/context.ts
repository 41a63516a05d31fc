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

/**
 * The batch loaders of one operation, each made on first use: a subscription (thousands may be
 * open) or a small query carries none of the ones it never touches.
 */
export function createLoaders(o: Orchestrator): Loaders {
  const made: Partial<Loaders> = {};
  const loaders = {} as Loaders;
  for (const key of Object.keys(LOADERS) as (keyof Loaders)[]) {
    Object.defineProperty(loaders, key, {
      enumerable: true,
      get: () => (made[key] ??= LOADERS[key](o) as never),
    });
  }
  return loaders;
}

export function createContext(orchestrator: Orchestrator, lifecycle: Lifecycle, signal?: AbortSignal): GraphQLContext {
  return { orchestrator, lifecycle, loaders: createLoaders(orchestrator), signal };
}
