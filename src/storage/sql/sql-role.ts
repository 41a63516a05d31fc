// What every role's SQL is written against: one Queryable (the driver, or one transaction on it),
// shared by all the roles SqlStore composes, so that a transaction is one handle for all of them.
import type { Queryable, SqlParam } from '../sql';
import type { Row } from './rows';

export abstract class SqlRole {
  constructor(protected readonly db: Queryable) {}

  protected async rows(sql: string, params: SqlParam[] = []): Promise<Row[]> {
    return this.db.query<Row>(sql, params);
  }

  protected async count(sql: string, params: SqlParam[] = []): Promise<number> {
    const [r] = await this.rows(sql, params);
    return Number(r?.n ?? 0);
  }
}
