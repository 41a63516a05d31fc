// Dynamic WHERE clauses and keyset pages over `seq`, for the listings the API filters and pages.
import type { SqlParam } from '../sql';
import type { PageQuery } from '../records';

/** Collects AND-ed conditions and their parameters for a dynamic WHERE clause. */
export class Conditions {
  private readonly parts: string[] = [];
  constructor(readonly params: SqlParam[] = []) {}

  param(value: SqlParam): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  eq(column: string, value: string | null | undefined): this {
    if (value != null) this.parts.push(`${column} = ${this.param(value)}`);
    return this;
  }
  in(column: string, values: readonly string[] | null | undefined): this {
    // One value is an equality, so an index on (column, seq) serves a page in order.
    if (values?.length === 1) this.parts.push(`${column} = ${this.param(values[0] as string)}`);
    else if (values != null) this.parts.push(`${column} = ANY(${this.param([...values])}::text[])`);
    return this;
  }
  since(column: string, at: Date | null | undefined): this {
    if (at != null) this.parts.push(`${column} >= ${this.param(at.toISOString())}::timestamptz`);
    return this;
  }
  raw(condition: string): this {
    this.parts.push(condition);
    return this;
  }
  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/**
 * Appends the cursor condition and ORDER/LIMIT for a keyset page over `seq`. The column is
 * qualified: a bare `seq` in ORDER BY would mean the selected text alias and sort "10" before "9".
 */
export function paged(table: string, c: Conditions, page: PageQuery, direction: 'ASC' | 'DESC'): string {
  if (page.after != null) c.raw(`${table}.seq ${direction === 'ASC' ? '>' : '<'} ${c.param(page.after)}::bigint`);
  return `${c} ORDER BY ${table}.seq ${direction} LIMIT ${c.param(page.limit)}`;
}

/**
 * A keyset page filtered on several statuses: one page per status (each an ordered range of the
 * (status, seq) index), merged. A single `status = ANY(...)` condition would walk the seq index
 * past every row of the other statuses, which grows with the table.
 */
export function pagedByStatus<F extends { statuses?: readonly string[] | null }>(
  select: string,
  table: string,
  filter: F,
  conditions: (f: F, params: SqlParam[]) => Conditions,
  page: PageQuery,
  direction: 'ASC' | 'DESC',
): { sql: string; params: SqlParam[] } {
  const params: SqlParam[] = [];
  const statuses = filter.statuses;
  if (!statuses || statuses.length <= 1) {
    const c = conditions(filter, params);
    return { sql: `${select} ${paged(table, c, page, direction)}`, params };
  }
  const parts = [...new Set(statuses)].map((status) => `(${select} ${paged(table, conditions({ ...filter, statuses: [status] }, params), page, direction)})`);
  return { sql: `SELECT * FROM (${parts.join(' UNION ALL ')}) page ORDER BY page.seq::bigint ${direction} LIMIT $${params.push(page.limit)}`, params };
}
