// Group commit: calls that arrive while a group is being written go together in the next write,
// a turn of the event loop later (so that requests already received join it). An idle server
// writes at once; a busy one pays one transaction per group instead of one per call.
export interface GroupCommitOptions<I, R> {
  /** Writes a group in one transaction; answers each item, in order. */
  write(items: I[]): Promise<R[]>;
  /** How many of the waiting items the next group takes (it always takes at least one). */
  take(waiting: readonly I[]): number;
  /** Answers an item whose write failed on its own; by default its caller gets the error. */
  recover?(item: I, error: unknown): Promise<R>;
}

export class GroupCommit<I, R> {
  private waiting: { item: I; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private writing = false;

  constructor(private readonly options: GroupCommitOptions<I, R>) {}

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.waiting.push({ item, resolve, reject }) === 1 && !this.writing) setImmediate(() => void this.drain());
    });
  }

  private recover(item: I, error: unknown): Promise<R> {
    return this.options.recover ? this.options.recover(item, error) : Promise.reject(error);
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.waiting.length) {
        const group = this.waiting.splice(0, Math.max(1, this.options.take(this.waiting.map((w) => w.item))));
        try {
          const results = await this.options.write(group.map((g) => g.item));
          group.forEach((g, i) => g.resolve(results[i] as R));
        } catch (err) {
          // Whatever broke the group's transaction must not fail the others: each goes alone.
          for (const g of group) {
            const alone = group.length === 1 ? Promise.reject(err) : this.options.write([g.item]).then(([r]) => r as R);
            alone.catch((e: unknown) => this.recover(g.item, e)).then(g.resolve, g.reject);
          }
        }
        // Let the callers just answered, and requests waiting on the socket, add to the next group.
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.writing = false;
    }
  }
}
