// Agent: who does the work. Registration rules and the status an agent shows.
import { AgentKind, AgentStatus } from './enums';
import { invalid } from './errors';

export interface Agent {
  id: string;
  name: string;
  kind: AgentKind;
  capabilities: string[];
  /** The status the agent asked for: ONLINE, DRAINING or OFFLINE (BUSY is derived). */
  status: AgentStatus;
  concurrency: number;
  runningTasks: number;
  metadata: unknown;
  registeredAt: Date;
  lastSeenAt: Date | null;
}

export interface AgentRegistrationInput {
  name: string;
  capabilities: string[];
  concurrency?: number | null;
  metadata?: unknown;
}

export const AGENT_LIMITS = {
  nameMax: 200,
  capabilitiesMax: 100,
  capabilityMax: 200,
  concurrencyMax: 10_000,
} as const;

export interface AgentRegistration {
  name: string;
  capabilities: string[];
  concurrency: number;
  metadata: unknown;
}

/** Trims, de-duplicates and checks a registration; throws VALIDATION naming the field. */
export function normalizeRegistration(input: AgentRegistrationInput): AgentRegistration {
  const name = input.name.trim();
  if (!name) throw invalid('agent name must not be empty', { field: 'name' });
  if (name.length > AGENT_LIMITS.nameMax) {
    throw invalid(`agent name is longer than ${AGENT_LIMITS.nameMax} characters`, { field: 'name' });
  }
  const capabilities = [...new Set(input.capabilities.map((c) => c.trim()))];
  if (capabilities.length === 0) throw invalid('an agent needs at least one capability', { field: 'capabilities' });
  if (capabilities.some((c) => !c)) throw invalid('capabilities must not be empty strings', { field: 'capabilities' });
  if (capabilities.length > AGENT_LIMITS.capabilitiesMax) {
    throw invalid(`an agent may have at most ${AGENT_LIMITS.capabilitiesMax} capabilities`, { field: 'capabilities' });
  }
  if (capabilities.some((c) => c.length > AGENT_LIMITS.capabilityMax)) {
    throw invalid(`a capability is longer than ${AGENT_LIMITS.capabilityMax} characters`, { field: 'capabilities' });
  }
  const concurrency = input.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > AGENT_LIMITS.concurrencyMax) {
    throw invalid(`concurrency must be an integer from 1 to ${AGENT_LIMITS.concurrencyMax}`, { field: 'concurrency' });
  }
  return { name, capabilities, concurrency, metadata: input.metadata ?? null };
}

/** What clients see: an ONLINE agent with every slot taken is BUSY. */
export function effectiveAgentStatus(a: Pick<Agent, 'status' | 'runningTasks' | 'concurrency'>): AgentStatus {
  if (a.status === AgentStatus.ONLINE && a.runningTasks >= a.concurrency) return AgentStatus.BUSY;
  return a.status;
}
