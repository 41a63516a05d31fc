// Answers a repeated read of stored data from memory while no data has changed since it was
// answered: a dashboard polling a workflow costs one execution per change, not one per poll.
import { type ApolloServerPlugin, type GraphQLRequestListener, HeaderMap } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { nestsDeeperThan } from './input-guard';

/**
 * Root fields whose answers are a function of stored data alone: workflows, tasks, agents (their
 * status is stored; BUSY follows from stored rows), error records, history and quality counters.
 * Fields that read the clock or this process (health, status, errorSummary's window, cache
 * entries with their expiry) are never cached, nor is an operation that selects any of them.
 */
export const CACHEABLE_ROOT_FIELDS: ReadonlySet<string> = new Set([
  'workflow',
  'workflows',
  'task',
  'tasks',
  'agent',
  'agentByName',
  'agents',
  'errorRecords',
  'history',
  'quality',
]);

/**
 * The variables of a cacheable query are ids, names and filters, a few levels deep. Deeper ones
 * (even ones the operation does not declare) are not keyed: JSON.stringify would recurse through
 * them before execution refuses or ignores them.
 */
const KEY_MAX_DEPTH = 16;

/** Response header saying whether a cacheable query was answered from memory. */
export const CACHE_HEADER = 'x-query-cache';

interface Entry {
  changeCount: number;
  data: Record<string, unknown>;
  bytes: number;
}

export interface ResponseCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

function cacheable(operation: OperationDefinitionNode | undefined): boolean {
  return (
    operation?.operation === 'query' &&
    operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && CACHEABLE_ROOT_FIELDS.has(s.name.value))
  );
}

export class ResponseCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;

  /**
   * `changeCount` is the storage's count of data changes (SqlDriver.changeCount): an answer is
   * kept under the count read before it was executed and served only while the count is still
   * that. Null means changes cannot be counted (several instances share PostgreSQL): no caching.
   */
  constructor(
    private readonly changeCount: () => number | null,
    private readonly maxBytes: number,
  ) {}

  stats(): ResponseCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size, bytes: this.bytes };
  }

  plugin<C extends object>(): ApolloServerPlugin<C> {
    return { requestDidStart: async () => this.listener<C>() };
  }

  private listener<C extends object>(): GraphQLRequestListener<C> {
    let key: string | null = null;
    let countBefore = 0;
    let hit = false;
    return {
      responseForOperation: async (rc) => {
        const count = this.changeCount();
        if (this.maxBytes <= 0 || count === null || !cacheable(rc.operation)) return null;
        if (nestsDeeperThan(rc.request.variables ?? {}, KEY_MAX_DEPTH)) return null;
        key = `${rc.queryHash}\u0000${rc.operationName ?? ''}\u0000${JSON.stringify(rc.request.variables ?? {})}`;
        countBefore = count;
        const entry = this.entries.get(key);
        if (!entry || entry.changeCount !== count) {
          this.misses++;
          return null;
        }
        hit = true;
        this.hits++;
        // Most recently used last: the first entries are the ones to drop.
        this.entries.delete(key);
        this.entries.set(key, entry);
        return { http: { status: undefined, headers: new HeaderMap([[CACHE_HEADER, 'HIT']]) }, body: { kind: 'single' as const, singleResult: { data: entry.data } } };
      },
      willSendResponse: async (rc) => {
        if (key === null || hit) return;
        rc.response.http.headers.set(CACHE_HEADER, 'MISS');
        const body = rc.response.body;
        // Only a complete answer, and only if nothing changed while it was read (it may mix both).
        if (body?.kind !== 'single' || body.singleResult.errors?.length || !body.singleResult.data) return;
        if (this.changeCount() !== countBefore) return;
        this.store(key, { changeCount: countBefore, data: body.singleResult.data, bytes: 0 });
      },
    };
  }

  private store(key: string, entry: Entry): void {
    // Counts only grow, so entries of an older count can never be served again: the map holds
    // answers of one count at a time.
    const [first] = this.entries.values();
    if (first && first.changeCount !== entry.changeCount) {
      this.entries.clear();
      this.bytes = 0;
    }
    // Four bytes per character of its JSON: a 100-task workflow's answer (many small objects) was
    // measured at 2x its UTF-16 size on the heap; string-heavy answers hold less.
    entry.bytes = (JSON.stringify(entry.data).length + key.length) * 4;
    if (entry.bytes > this.maxBytes / 4) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    for (const [k, e] of this.entries) {
      if (this.bytes + entry.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
    this.entries.set(key, entry);
    this.bytes += entry.bytes;
  }
}
