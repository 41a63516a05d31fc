// Agents in SQL: registration, lookups (locked for an update or a lease), liveness.
import type { AgentStatus } from '../../domain/enums';
import type { SqlParam } from '../sql';
import type { StoredAgent } from '../records';
import type { AgentStore } from '../store';
import { Conditions } from './paging';
import { AGENT_COLUMNS, AGENT_SELECT, iso, json, toAgent } from './rows';
import { SqlRole } from './sql-role';
import { READY } from './statuses';

/** Advisory lock taken by registrations of new agents (see migrate.ts and sweeper.ts for the others). */
const AGENT_REGISTRATION_LOCK = 7_310_003;

export class SqlAgents extends SqlRole implements AgentStore {
  async insertAgent(a: StoredAgent): Promise<void> {
    await this.rows(
      `INSERT INTO agents (id, name, kind, capabilities, status, concurrency, metadata, token_hash, registered_at, last_seen_at)
       VALUES ($1, $2, $3, $4::text[], $5, $6, $7::jsonb, $8, $9::timestamptz, $10::timestamptz)`,
      [a.id, a.name, a.kind, a.capabilities, a.status, a.concurrency, json(a.metadata), a.tokenHash, iso(a.registeredAt), iso(a.lastSeenAt)],
    );
  }

  async getAgentForUpdate(id: string): Promise<StoredAgent | null> {
    const [r] = await this.rows(`${AGENT_SELECT} WHERE a.id = $1 FOR UPDATE`, [id]);
    return r ? toAgent(r) : null;
  }

  async getAgentForLease(id: string, now: Date): Promise<{ agent: StoredAgent; hasReadyTasks: boolean } | null> {
    // The claim's own condition (READY), on the ready index.
    const [r] = await this.rows(
      `SELECT ${AGENT_COLUMNS},
              EXISTS (SELECT 1 FROM tasks t
                       WHERE ${READY('$2::timestamptz', 't.')} AND t.capability = ANY(a.capabilities)) AS has_ready
         FROM agents a WHERE a.id = $1 FOR UPDATE OF a`,
      [id, iso(now)],
    );
    return r ? { agent: toAgent(r), hasReadyTasks: r.has_ready === true } : null;
  }

  async getAgentByNameForUpdate(name: string): Promise<StoredAgent | null> {
    const [r] = await this.rows(`${AGENT_SELECT} WHERE a.name = $1 FOR UPDATE`, [name]);
    return r ? toAgent(r) : null;
  }

  async getAgents(ids: readonly string[]): Promise<StoredAgent[]> {
    if (ids.length === 0) return [];
    return (await this.rows(`${AGENT_SELECT} WHERE a.id = ANY($1::text[])`, [[...ids]])).map(toAgent);
  }

  async getAgentByName(name: string): Promise<StoredAgent | null> {
    const [r] = await this.rows(`${AGENT_SELECT} WHERE a.name = $1`, [name]);
    return r ? toAgent(r) : null;
  }

  async listAgents(capability: string | null): Promise<StoredAgent[]> {
    const c = new Conditions();
    if (capability != null) c.raw(`${c.param(capability)} = ANY(a.capabilities)`);
    return (await this.rows(`${AGENT_SELECT} ${c} ORDER BY a.registered_at, a.id`, c.params)).map(toAgent);
  }

  async updateAgent(
    id: string,
    patch: Partial<Pick<StoredAgent, 'capabilities' | 'concurrency' | 'metadata' | 'status' | 'lastSeenAt'>>,
  ): Promise<void> {
    const params: SqlParam[] = [id];
    const sets: string[] = [];
    const set = (column: string, value: SqlParam, cast = '') => {
      params.push(value);
      sets.push(`${column} = $${params.length}${cast}`);
    };
    if (patch.capabilities !== undefined) set('capabilities', patch.capabilities, '::text[]');
    if (patch.concurrency !== undefined) set('concurrency', patch.concurrency);
    if (patch.metadata !== undefined) set('metadata', json(patch.metadata), '::jsonb');
    if (patch.status !== undefined) set('status', patch.status);
    if (patch.lastSeenAt !== undefined) set('last_seen_at', iso(patch.lastSeenAt), '::timestamptz');
    if (sets.length === 0) return;
    await this.rows(`UPDATE agents SET ${sets.join(', ')} WHERE id = $1`, params);
  }

  async deleteAgent(id: string): Promise<boolean> {
    return (await this.rows('DELETE FROM agents WHERE id = $1 RETURNING id', [id])).length > 0;
  }

  async countRemoteAgentsForRegistration(): Promise<number> {
    // Two registrations counting side by side would both see room for one more.
    await this.rows('SELECT pg_advisory_xact_lock($1)', [AGENT_REGISTRATION_LOCK]);
    return this.count(`SELECT count(*)::int AS n FROM agents WHERE kind = 'REMOTE'`);
  }

  async markSilentAgentsOffline(cutoff: Date): Promise<StoredAgent[]> {
    // A plain UPDATE (not one inside a WITH): its command tag tells the driver when it changed nothing,
    // as it does on most sweeps.
    const rows = await this.rows(
      `UPDATE agents a SET status = 'OFFLINE'
        WHERE kind = 'REMOTE' AND status <> 'OFFLINE' AND coalesce(last_seen_at, registered_at) < $1::timestamptz
        RETURNING ${AGENT_COLUMNS}`,
      [iso(cutoff)],
    );
    return rows.map((r) => ({ ...toAgent(r), status: 'OFFLINE' as AgentStatus }));
  }

  async touchAgents(ids: string[], at: Date): Promise<void> {
    if (ids.length === 0) return;
    await this.rows(`UPDATE agents SET last_seen_at = $2::timestamptz WHERE id = ANY($1::text[])`, [[...new Set(ids)], iso(at)]);
  }
}
