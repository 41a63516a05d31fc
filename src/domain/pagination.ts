// Relay-style paging: `first` within bounds and opaque cursors that encode a position, not an offset.
import { invalid } from './errors';

export const PAGE_MAX = 500;

export function checkFirst(first: number | null | undefined, fallback: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > PAGE_MAX) {
    throw invalid(`first must be an integer from 1 to ${PAGE_MAX}`, { field: 'first' });
  }
  return n;
}

const PREFIX = 'c1:';

/** Encodes a row's sequence number; clients must treat the result as opaque. */
export function encodeCursor(seq: string): string {
  return Buffer.from(PREFIX + seq, 'utf8').toString('base64url');
}

/** Decodes a cursor made by encodeCursor; anything else is BAD_USER_INPUT. */
export function decodeCursor(cursor: string | null | undefined): string | null {
  if (cursor == null) return null;
  const text = /^[A-Za-z0-9_-]{1,64}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const seq = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  if (!/^\d{1,18}$/.test(seq)) throw invalid('malformed cursor', { field: 'after' });
  return seq;
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** A page whose totalCount is counted only when a client reads it (a getter the resolver calls). */
export function withTotalCount<T>(page: Page<T>, count: () => Promise<number>): Page<T> & { readonly totalCount: Promise<number> } {
  return Object.defineProperty(page, 'totalCount', { get: count, enumerable: true }) as Page<T> & {
    readonly totalCount: Promise<number>;
  };
}

/** Builds a page from up to first+1 rows fetched in order (the extra row tells there is a next page). */
export function toPage<T extends { seq: string }>(rows: T[], first: number): Page<T> {
  const nodes = rows.slice(0, first);
  const edges = nodes.map((node) => ({ cursor: encodeCursor(node.seq), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null } };
}
