// Wake-ups, the writing side: what one transaction made ready, announced once it commits with one
// `queue` event (its capabilities, not its tasks), and what becomes ready later (retry backoff),
// announced by a timer. Agents listen for these (see wake.ts); the database stays the truth.
import type { EventBus } from '../../events/event-bus';
import type { Logger } from '../../support/logger';

/** Work that becomes ready at a known time: a task waiting out its retry backoff. */
export interface DelayedWork {
  capability: string;
  availableAt: Date;
}

export class ReadyWork {
  /** Capabilities announced whatever else this transaction does. */
  private readonly capabilities = new Set<string>();
  /**
   * Tasks made ready, by capability: a capability whose ready tasks were all claimed in this same
   * transaction has nothing left to announce.
   */
  private readonly tasksByCapability = new Map<string, Set<string>>();
  /** Announced when it becomes ready, each by a timer of its own. */
  readonly later: DelayedWork[] = [];

  /** Work for `capability` is ready, its tasks not known one by one: announced in any case. */
  wakeCapability(capability: string): this {
    this.capabilities.add(capability);
    return this;
  }

  /** This task is ready: its capability is announced unless a claim in this transaction takes it. */
  wakeForTask(task: { id: string; capability: string }): this {
    const ids = this.tasksByCapability.get(task.capability) ?? new Set<string>();
    this.tasksByCapability.set(task.capability, ids.add(task.id));
    return this;
  }

  /** Work for `capability` becomes ready at `availableAt`. */
  wakeAt(capability: string, availableAt: Date): this {
    this.later.push({ capability, availableAt });
    return this;
  }

  /** Tasks claimed in this transaction: ready work that no longer needs announcing. */
  claimed(tasks: readonly { id: string; capability: string }[]): this {
    for (const t of tasks) this.tasksByCapability.get(t.capability)?.delete(t.id);
    return this;
  }

  /** Capabilities with ready work left to announce. */
  toAnnounce(): string[] {
    const out = new Set(this.capabilities);
    for (const [capability, ids] of this.tasksByCapability) if (ids.size) out.add(capability);
    return [...out];
  }
}

/**
 * Announces work that becomes ready after a backoff. The timer lives in this process only; the
 * sweeper announces the same on whichever instance runs it, so a lost timer costs one tick.
 */
export function announceWhenReady(bus: EventBus, log: Logger, now: Date, work: DelayedWork): void {
  const timer = setTimeout(() => {
    bus.publish([{ topic: 'queue', capabilities: [work.capability] }]).catch((err) => log.warn('wake-up failed', { err }));
  }, Math.max(0, work.availableAt.getTime() - now.getTime()));
  timer.unref();
}
