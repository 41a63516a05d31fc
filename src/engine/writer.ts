// The one way state changes are written: the change and its history in one transaction,
// then, only after the commit, its events on the bus.
import type { HistoryDraft } from '../domain/history';
import type { EventBus, OrchestratorEvent } from '../events/event-bus';
import type { Store } from '../storage/store';
import type { Logger } from './logger';

export class Changes {
  readonly history: HistoryDraft[] = [];
  readonly events: OrchestratorEvent[] = [];
  /** Capabilities that got ready work: announced with one queue event after the commit. */
  readonly ready = new Set<string>();
  /** Capabilities whose work becomes ready later (retry backoff), with when. */
  readonly readyLater: { capability: string; at: Date }[] = [];

  record(draft: HistoryDraft): this {
    this.history.push(draft);
    return this;
  }

  emit(event: OrchestratorEvent): this {
    this.events.push(event);
    return this;
  }

  wake(capability: string, at?: Date): this {
    if (at) this.readyLater.push({ capability, at });
    else this.ready.add(capability);
    return this;
  }
}

const MAX_TX_ATTEMPTS = 5;
const isRetryableConflict = (e: unknown) => ['40P01', '40001'].includes((e as { code?: string } | null)?.code ?? '');

export class Writer {
  private readonly committedListeners: ((changes: Changes) => void)[] = [];

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
    if (changes.ready.size) changes.events.push({ topic: 'queue', capabilities: [...changes.ready] });
    for (const later of changes.readyLater) this.wakeAt(later.capability, later.at);
    if (changes.events.length) {
      try {
        await this.bus.publish(changes.events);
      } catch (err) {
        // Committed is committed: a failed notification is logged, never turned into a failed write.
        this.log.error('event publish failed', { err, events: changes.events.length });
      }
    }
    for (const listener of this.committedListeners) listener(changes);
    return result;
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
