// Health: a 0–100 score from weighted components, and the rule for when a change is worth announcing.
import { ErrorSeverity, HealthStatus } from './enums';
import type { ErrorSummary } from './error-record';
import type { QualitySummary } from './quality';

export interface HealthThresholds {
  /** Score at or above which the status is HEALTHY. */
  healthy: number;
  /** Score at or above which the status is DEGRADED (below: CRITICAL). */
  degraded: number;
}

export const DEFAULT_THRESHOLDS: HealthThresholds = { healthy: 80, degraded: 50 };

export interface HealthInputs {
  quality: QualitySummary;
  /** Errors recorded inside the recent window, by severity. */
  recentErrors: Record<ErrorSeverity, number>;
  recentWindowMs: number;
  /** Capabilities that have QUEUED tasks, and those of them some ONLINE or BUSY agent can run. */
  queuedCapabilities: string[];
  servedCapabilities: string[];
  onlineAgents: number;
  oldestQueuedAgeMs: number | null;
  /** Age at which a waiting task drives the queue component to 0. */
  queueAgeLimitMs: number;
  storageReachable: boolean;
}

export interface HealthComponent {
  name: string;
  score: number;
  status: HealthStatus;
  detail: string;
}

export interface HealthScore {
  score: number;
  status: HealthStatus;
  components: HealthComponent[];
}

/** How much one recent error of each severity takes off the errors component. */
export const SEVERITY_PENALTY: Readonly<Record<ErrorSeverity, number>> = {
  [ErrorSeverity.LOW]: 1,
  [ErrorSeverity.MEDIUM]: 4,
  [ErrorSeverity.HIGH]: 10,
  [ErrorSeverity.CRITICAL]: 25,
};

export const COMPONENT_WEIGHTS = { quality: 0.3, errors: 0.25, agents: 0.2, queue: 0.15, storage: 0.1 } as const;

export function healthStatus(score: number, t: HealthThresholds = DEFAULT_THRESHOLDS): HealthStatus {
  if (score >= t.healthy) return HealthStatus.HEALTHY;
  if (score >= t.degraded) return HealthStatus.DEGRADED;
  return HealthStatus.CRITICAL;
}

const clamp = (n: number) => Math.max(0, Math.min(100, Math.round(n)));

export function healthScore(i: HealthInputs, t: HealthThresholds = DEFAULT_THRESHOLDS): HealthScore {
  const component = (name: keyof typeof COMPONENT_WEIGHTS, raw: number, detail: string): HealthComponent => {
    const score = clamp(raw);
    return { name, score, status: healthStatus(score, t), detail };
  };

  const penalty = (Object.keys(SEVERITY_PENALTY) as ErrorSeverity[]).reduce(
    (sum, s) => sum + (i.recentErrors[s] ?? 0) * SEVERITY_PENALTY[s],
    0,
  );
  const recentTotal = Object.values(i.recentErrors).reduce((a, b) => a + b, 0);
  const unserved = i.queuedCapabilities.filter((c) => !i.servedCapabilities.includes(c));
  const served = i.queuedCapabilities.length - unserved.length;
  const age = i.oldestQueuedAgeMs ?? 0;

  const components = [
    component(
      'quality',
      i.quality.score * 100,
      i.quality.total === 0
        ? 'no finished tasks yet'
        : `${i.quality.total} finished tasks, score ${i.quality.score.toFixed(3)}`,
    ),
    component(
      'errors',
      100 - penalty,
      `${recentTotal} errors in the last ${Math.round(i.recentWindowMs / 1000)}s` +
        (recentTotal
          ? ` (${(Object.keys(SEVERITY_PENALTY) as ErrorSeverity[])
              .filter((s) => i.recentErrors[s])
              .map((s) => `${i.recentErrors[s]} ${s}`)
              .join(', ')})`
          : ''),
    ),
    component(
      'agents',
      i.queuedCapabilities.length === 0 ? 100 : (served / i.queuedCapabilities.length) * 100,
      i.queuedCapabilities.length === 0
        ? `${i.onlineAgents} agents available, no queued work`
        : unserved.length === 0
          ? `every queued capability has an available agent (${i.onlineAgents} available)`
          : `no available agent for: ${unserved.slice(0, 10).join(', ')}`,
    ),
    component(
      'queue',
      100 - (age / i.queueAgeLimitMs) * 100,
      i.oldestQueuedAgeMs == null ? 'nothing queued' : `oldest queued task waits ${age} ms`,
    ),
    component('storage', i.storageReachable ? 100 : 0, i.storageReachable ? 'reachable' : 'unreachable'),
  ];

  let score = clamp(components.reduce((sum, c) => sum + c.score * COMPONENT_WEIGHTS[c.name as keyof typeof COMPONENT_WEIGHTS], 0));
  // Without storage nothing can be recorded: never call that better than CRITICAL.
  if (!i.storageReachable) score = Math.min(score, t.degraded - 1);
  return { score, status: healthStatus(score, t), components };
}

/** `healthChanged` fires when the status changes or the score moved by at least `step` since the last announcement. */
export function isHealthChangeWorthAnnouncing(
  last: { score: number; status: HealthStatus } | null,
  next: { score: number; status: HealthStatus },
  step: number,
): boolean {
  if (!last) return false;
  return last.status !== next.status || Math.abs(last.score - next.score) >= step;
}

export interface AgentCounts {
  total: number;
  online: number;
  busy: number;
  draining: number;
  offline: number;
}

/** The full picture the `health` query and `healthChanged` subscription return. */
export interface HealthReport extends HealthScore {
  generatedAt: Date;
  quality: QualitySummary;
  agents: AgentCounts;
  queue: { queued: number; running: number; oldestQueuedAgeMs: number | null };
  errors: ErrorSummary;
}
