// The one Store implementation: each role's SQL (one class per concern under sql/) run on one
// Queryable, the driver or one transaction on it, so that PGlite and PostgreSQL run the same SQL and
// a transaction is one handle for every role.
import type { Queryable, SqlDriver } from './sql';
import { SqlAgents } from './sql/agents';
import { SqlCache } from './sql/cache';
import { SqlDependencies } from './sql/dependencies';
import { SqlErrors } from './sql/errors';
import { SqlHistory } from './sql/history';
import { SqlInstances } from './sql/instances';
import { SqlQuality } from './sql/quality';
import { SqlReadModel } from './sql/read-model';
import { SqlRole } from './sql/sql-role';
import { SqlStarts } from './sql/starts';
import { SqlTasks } from './sql/tasks';
import { SqlWorkflows } from './sql/workflows';
import type { Store } from './store';

/** The roles, in no particular order: no two define a method of the same name (see compose). */
const ROLES = [SqlAgents, SqlStarts, SqlWorkflows, SqlTasks, SqlDependencies, SqlReadModel, SqlErrors, SqlHistory, SqlCache, SqlQuality, SqlInstances];

// The methods of every role, as compose puts them on SqlStore.
export interface SqlStore
  extends SqlAgents, SqlStarts, SqlWorkflows, SqlTasks, SqlDependencies, SqlReadModel, SqlErrors, SqlHistory, SqlCache, SqlQuality, SqlInstances {}

export class SqlStore extends SqlRole implements Store {
  constructor(
    db: Queryable,
    private readonly driver: SqlDriver,
  ) {
    super(db);
  }

  static over(driver: SqlDriver): SqlStore {
    return new SqlStore(driver, driver);
  }

  get oneConnection(): boolean {
    return this.driver.kind === 'pglite';
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.db !== this.driver) return fn(this); // already inside one
    return this.driver.transaction((tx) => fn(new SqlStore(tx, this.driver)));
  }

  async ping(): Promise<boolean> {
    try {
      await this.db.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

/**
 * Puts every role's methods on SqlStore's prototype, as if written in the one class: a transaction
 * is one SqlStore object (no role object is made per transaction or per call), and `this.db` in
 * any role's method is that transaction.
 */
function compose(target: typeof SqlStore, roles: readonly (typeof SqlRole)[]): void {
  for (const role of roles) {
    for (const name of Object.getOwnPropertyNames(role.prototype)) {
      if (name === 'constructor') continue;
      if (Object.prototype.hasOwnProperty.call(target.prototype, name)) throw new Error(`SqlStore: two roles define ${name}`);
      Object.defineProperty(target.prototype, name, Object.getOwnPropertyDescriptor(role.prototype, name) as PropertyDescriptor);
    }
  }
}

compose(SqlStore, ROLES);
