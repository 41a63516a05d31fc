// EventBus for one process: synchronous fan-out to in-process listeners.
import type { EventBus, Listener, OrchestratorEvent, Topic } from './event-bus';

export class MemoryBus implements EventBus {
  private readonly listeners = new Map<Topic, Set<(event: OrchestratorEvent) => void>>();

  async publish(events: readonly OrchestratorEvent[]): Promise<void> {
    for (const event of events) {
      for (const listener of this.listeners.get(event.topic) ?? []) {
        try {
          listener(event);
        } catch {
          // A faulty subscriber must not stop delivery to the others.
        }
      }
    }
  }

  subscribe<T extends Topic>(topic: T, listener: Listener<T>): () => void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    const untyped = listener as unknown as (event: OrchestratorEvent) => void;
    set.add(untyped);
    return () => set.delete(untyped);
  }

  status(): 'in-process' {
    return 'in-process';
  }

  listenerCounts(): Record<Topic, number> {
    const count = (t: Topic) => this.listeners.get(t)?.size ?? 0;
    return { agent: count('agent'), error: count('error'), health: count('health'), task: count('task'), workflow: count('workflow'), queue: count('queue') };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
