// Agents: registration (with a one-time token for re-attaching), draining, deregistration.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { type Agent, type AgentRegistrationInput, effectiveAgentStatus, normalizeRegistration } from '../domain/agent';
import { AgentKind, AgentStatus, ErrorType, HistoryEventType } from '../domain/enums';
import { conflict, DomainError, invalid, notFound } from '../domain/errors';
import type { StoredAgent } from '../storage/store';
import type { EngineContext } from './context';
import { checkJsonSize } from './json-limit';
import type { Changes } from './writer';

export interface AgentQuery {
  capability?: string | null;
  statuses?: AgentStatus[] | null;
}

export interface Registration {
  agent: Agent;
  /** Shown once, on first registration; null when an existing agent re-attached. */
  token: string | null;
}

const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

function tokenMatches(token: string, hash: string | null): boolean {
  if (!hash) return false;
  const a = Buffer.from(hashToken(token), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The agent as clients see it: derived BUSY status, no token hash. */
export function publicAgent(a: StoredAgent): Agent {
  const { tokenHash: _omit, ...agent } = a;
  return { ...agent, status: effectiveAgentStatus(a) };
}

export class AgentService {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * Registers a new agent, or re-attaches an existing one of the same name when `token` is the
   * token that agent was given (its capabilities, concurrency and metadata are replaced).
   * The same name without its token is CONFLICT.
   */
  async register(input: AgentRegistrationInput & { token?: string | null }, kind: AgentKind): Promise<Registration> {
    const reg = normalizeRegistration(input);
    checkJsonSize(reg.metadata, this.ctx.options.maxJsonBytes, 'metadata');
    const now = this.ctx.now();
    return this.ctx.writer.write(async (tx, changes) => {
      const existing = await tx.getAgentByNameForUpdate(reg.name);
      if (existing) {
        const reattach = kind === AgentKind.BUILTIN ? existing.kind === AgentKind.BUILTIN : tokenMatches(input.token ?? '', existing.tokenHash);
        if (!reattach) {
          throw conflict(`an agent named ${JSON.stringify(reg.name)} is already registered`, { field: 'name' });
        }
        const status = existing.status === AgentStatus.DRAINING ? AgentStatus.DRAINING : AgentStatus.ONLINE;
        await tx.updateAgent(existing.id, { ...reg, status, lastSeenAt: now });
        const agent = publicAgent({ ...existing, ...reg, status, lastSeenAt: now });
        this.changed(changes, agent, existing.status !== status ? { from: existing.status, to: status, reattached: true } : null);
        return { agent, token: null };
      }
      // Built-in agents are the server's own, a fixed few shared by every instance: only REMOTE ones count.
      if (kind === AgentKind.REMOTE && (await tx.countRemoteAgentsForRegistration()) >= this.ctx.options.maxAgents) {
        const limit = this.ctx.options.maxAgents;
        throw invalid(`at most ${limit} remote agents may be registered (MAX_AGENTS); deregister one first`, { limit });
      }
      const token = kind === AgentKind.REMOTE ? randomBytes(32).toString('base64url') : null;
      const stored: StoredAgent = {
        id: randomUUID(),
        ...reg,
        kind,
        status: AgentStatus.ONLINE,
        runningTasks: 0,
        registeredAt: now,
        lastSeenAt: now,
        tokenHash: token ? hashToken(token) : null,
      };
      await tx.insertAgent(stored);
      const agent = publicAgent(stored);
      changes.record({
        type: HistoryEventType.AGENT_REGISTERED,
        agentId: agent.id,
        data: { name: agent.name, kind, capabilities: agent.capabilities, concurrency: agent.concurrency },
      });
      changes.emit({ topic: 'agent', agent });
      return { agent, token };
    });
  }

  async deregister(id: string): Promise<boolean> {
    return this.ctx.writer.write(async (tx, changes) => {
      const existing = await tx.getAgentForUpdate(id);
      if (!existing) throw notFound('agent', id);
      if (existing.kind === AgentKind.BUILTIN) {
        throw new DomainError(ErrorType.CONFLICT, 'built-in agents belong to the server and cannot be deregistered; drain them instead');
      }
      await tx.deleteAgent(id);
      changes.record({ type: HistoryEventType.AGENT_DEREGISTERED, agentId: id, data: { name: existing.name } });
      changes.emit({ topic: 'agent', agent: { ...publicAgent(existing), status: AgentStatus.OFFLINE } });
      return true;
    });
  }

  /** Draining agents keep their running tasks but get no new ones; undraining puts them back ONLINE. */
  async setDraining(id: string, draining: boolean): Promise<Agent> {
    return this.ctx.writer.write(async (tx, changes) => {
      const existing = await tx.getAgentForUpdate(id);
      if (!existing) throw notFound('agent', id);
      const status = draining
        ? AgentStatus.DRAINING
        : existing.status === AgentStatus.DRAINING
          ? AgentStatus.ONLINE
          : existing.status;
      if (status === existing.status) return publicAgent(existing);
      await tx.updateAgent(id, { status });
      const agent = publicAgent({ ...existing, status });
      this.changed(changes, agent, { from: existing.status, to: status });
      return agent;
    });
  }

  private changed(changes: Changes, agent: Agent, transition: Record<string, unknown> | null): void {
    if (transition) changes.record({ type: HistoryEventType.AGENT_STATUS_CHANGED, agentId: agent.id, data: transition });
    changes.emit({ topic: 'agent', agent });
  }

  async byIds(ids: readonly string[]): Promise<Agent[]> {
    return (await this.ctx.store.getAgents(ids)).map(publicAgent);
  }

  async byId(id: string): Promise<Agent | null> {
    return (await this.byIds([id]))[0] ?? null;
  }

  async byName(name: string): Promise<Agent | null> {
    const a = await this.ctx.store.getAgentByName(name);
    return a ? publicAgent(a) : null;
  }

  async list(q: AgentQuery = {}): Promise<Agent[]> {
    const agents = (await this.ctx.store.listAgents(q.capability ?? null)).map(publicAgent);
    return q.statuses ? agents.filter((a) => q.statuses?.includes(a.status)) : agents;
  }
}
