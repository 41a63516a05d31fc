// The one way state changes are written: the change and its history in one transaction,
// then, only after the commit, its events on the bus.
import type { HistoryDraft } from '../domain/history';
import type { EventBus, OrchestratorEvent } from '../events/event-bus';
import { isStorageError, type Store } from '../storage/store';
import type { Logger } from '../support/logger';
import { announceWhenReady, ReadyWork } from './dispatch/ready-work';

export class Changes {
  readonly history: HistoryDraft[] = [];
  readonly events: OrchestratorEvent[] = [];
  /** Work this transaction made ready (or will, after a backoff): announced once it commits. */
  readonly readyWork = new ReadyWork();
  /** Run once this transaction has committed (and its events are published). */
  readonly afterCommit: (() => void)[] = [];

  record(draft: HistoryDraft): this {
    this.history.push(draft);
    return this;
  }

  emit(event: OrchestratorEvent): this {
    this.events.push(event);
    return this;
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
    const ready = changes.readyWork.toAnnounce();
    if (ready.length) changes.events.push({ topic: 'queue', capabilities: ready });
    for (const later of changes.readyWork.later) announceWhenReady(this.bus, this.log, this.now(), later);
    if (changes.events.length) {
      try {
        await this.bus.publish(changes.events);
      } catch (err) {
        // Committed is committed: a failed notification is logged, never turned into a failed write.
        this.log.error('event publish failed', { err, events: changes.events.length });
      }
    }
    for (const action of changes.afterCommit) action();
    for (const listener of this.committedListeners) listener(changes);
    return result;
  }

  /** Adds work every write transaction does last (see BeforeCommit). */
  beforeCommit(hook: BeforeCommit): void {
    this.beforeCommitHooks.push(hook);
  }

  /** Called after every committed write (the health monitor re-checks on errors and agent changes). */
  onCommitted(listener: (changes: Changes) => void): void {
    this.committedListeners.push(listener);
  }
}
