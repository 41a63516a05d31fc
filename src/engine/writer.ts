// The one way state changes are written: the change and its history in one transaction,
// then, only after the commit, its events on the bus.
import type { HistoryDraft } from '../domain/history';
import type { EventBus, OrchestratorEvent } from '../events/event-bus';
import { isStorageError, type Store } from '../storage/store';
import type { Logger } from '../support/logger';

export class Changes {
  readonly history: HistoryDraft[] = [];
  readonly events: OrchestratorEvent[] = [];
  /** Capabilities that got ready work: announced with one queue event after the commit. */
  readonly ready = new Set<string>();
  /**
   * Tasks made ready in this transaction, by capability. A capability whose ready tasks were all
   * claimed in this same transaction has nothing left to announce.
   */
  readonly readyTasks = new Map<string, Set<string>>();
  /** Capabilities whose work becomes ready later (retry backoff), with when. */
  readonly readyLater: { capability: string; at: Date }[] = [];
  /** Run once this transaction has committed (and its events are published). */
  readonly committed: (() => void)[] = [];

  record(draft: HistoryDraft): this {
    this.history.push(draft);
    return this;
  }

  emit(event: OrchestratorEvent): this {
    this.events.push(event);
    return this;
  }

  /** Work for `capability` is ready (now, or at `at`); `taskId` names it when it is one known task. */
  wake(capability: string, at?: Date, taskId?: string): this {
    if (at) this.readyLater.push({ capability, at });
    else if (taskId) {
      const ids = this.readyTasks.get(capability) ?? new Set<string>();
      this.readyTasks.set(capability, ids.add(taskId));
    } else this.ready.add(capability);
    return this;
  }

  /** Tasks claimed in this transaction: ready work that no longer needs announcing. */
  taken(tasks: { id: string; capability: string }[]): this {
    for (const t of tasks) this.readyTasks.get(t.capability)?.delete(t.id);
    return this;
  }

  /** Capabilities with ready work left to announce. */
  announce(): string[] {
    const out = new Set(this.ready);
    for (const [capability, ids] of this.readyTasks) if (ids.size) out.add(capability);
    return [...out];
  }
}

const MAX_TX_ATTEMPTS = 5;
const isRetryableConflict = (e: unknown) => isStorageError(e, 'retryable-conflict');

/** Work a transaction does last, before it commits: it sees everything the transaction changed. */
export type BeforeCommit = (tx: Store, changes: Changes) => Promise<void>;

export class Writer {
  private readonly committedListeners: ((changes: Changes) => void)[] = [];
  private readonly beforeCommitHooks: BeforeCommit[] = [];

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly now: () => Date,
    private readonly log: Logger,
  ) {}

  async write<T>(fn: (tx: Store, changes: Changes) => Promise<T>): Promise<T> {
    let changes = new Changes();
    let result: T;
    for (let attempt = 1; ; attempt++) {
      try {
        result = await this.store.transaction(async (tx) => {
          const value = await fn(tx, changes);
          for (const hook of this.beforeCommitHooks) await hook(tx, changes);
          await tx.appendHistory(changes.history, this.now());
          return value;
        });
        break;
      } catch (e) {
        // Two transactions that lock rows in opposite orders (a cancel and a completion, say):
        // PostgreSQL aborts one; running it again is safe because nothing of it was committed.
        if (!isRetryableConflict(e) || attempt >= MAX_TX_ATTEMPTS) throw e;
        changes = new Changes();
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      }
    }
    const ready = changes.announce();
    if (ready.length) changes.events.push({ topic: 'queue', capabilities: ready });
    for (const later of changes.readyLater) this.wakeAt(later.capability, later.at);
    if (changes.events.length) {
      try {
        await this.bus.publish(changes.events);
      } catch (err) {
        // Committed is committed: a failed notification is logged, never turned into a failed write.
        this.log.error('event publish failed', { err, events: changes.events.length });
      }
    }
    for (const action of changes.committed) action();
    for (const listener of this.committedListeners) listener(changes);
    return result;
  }

  /** Adds work every write transaction does last (see BeforeCommit). */
  beforeCommit(hook: BeforeCommit): void {
    this.beforeCommitHooks.push(hook);
  }

  /**
   * Announces work that becomes ready after a backoff. The timer lives in this process only; the
   * sweeper announces the same on whichever instance runs it, so a lost timer costs one tick.
   */
  private wakeAt(capability: string, at: Date): void {
    const timer = setTimeout(() => {
      this.bus.publish([{ topic: 'queue', capabilities: [capability] }]).catch((err) => this.log.warn('wake-up failed', { err }));
    }, Math.max(0, at.getTime() - this.now().getTime()));
    timer.unref();
  }

  /** Called after every committed write (the health monitor re-checks on errors and agent changes). */
  onCommitted(listener: (changes: Changes) => void): void {
    this.committedListeners.push(listener);
  }
}
