// History: reading the record of state changes in order, and trimming it.
import { checkFirst, decodeCursor, toPage } from '../domain/pagination';
import type { HistoryFilter } from '../storage/store';
import type { EngineContext } from './context';

export class HistoryService {
  constructor(private readonly ctx: EngineContext) {}

  /** Oldest first; `after` continues from a previous page's endCursor. */
  async list(filter: HistoryFilter, first: number | null | undefined, after: string | null | undefined) {
    const limit = checkFirst(first, 100);
    return toPage(await this.ctx.store.listHistory(filter, { limit: limit + 1, after: decodeCursor(after) }), limit);
  }

  /** Deletes events older than `before` (all when null); returns how many. */
  clear(before: Date | null | undefined): Promise<number> {
    return this.ctx.store.clearHistory(before ?? null);
  }
}
