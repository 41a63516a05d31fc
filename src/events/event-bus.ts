// The EventBus: how committed state changes reach subscribers, in this process or (with Redis) in all.
// Events are notifications published after the transaction commits; the database stays the truth.
import type { Agent } from '../domain/agent';
import type { ErrorRecord } from '../domain/error-record';
import type { TaskStatus, WorkflowStatus } from '../domain/enums';
import type { HealthReport } from '../domain/health';
import type { Task, Workflow } from '../domain/workflow';

export interface EventMap {
  agent: { agent: Agent };
  error: { error: ErrorRecord };
  health: { report: HealthReport };
  task: { task: Task; previousStatus: TaskStatus | null; at: Date };
  workflow: { workflow: Workflow; previousStatus: WorkflowStatus | null; at: Date };
  /** Wake-up: work became ready for these capabilities (one per transaction, not one per task). */
  queue: { capabilities: string[] };
}

export type Topic = keyof EventMap;
export type OrchestratorEvent = { [T in Topic]: { topic: T } & EventMap[T] }[Topic];
export type EventOf<T extends Topic> = Extract<OrchestratorEvent, { topic: T }>;
export type Listener<T extends Topic> = (event: EventOf<T>) => void;

export interface EventBus {
  /** Delivers the events, in order, to every subscriber of their topics. */
  publish(events: readonly OrchestratorEvent[]): Promise<void>;
  /** Calls listener for each event of the topic until the returned function is called. */
  subscribe<T extends Topic>(topic: T, listener: Listener<T>): () => void;
  /** 'in-process' for the local bus; 'up' or 'down' for a broker shared by several instances. */
  status(): 'in-process' | 'up' | 'down';
  /** Live listeners on this instance, by topic (for /metrics and readiness of subscribers). */
  listenerCounts(): Record<Topic, number>;
  close(): Promise<void>;
}
