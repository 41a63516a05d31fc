import { ErrorSeverity, HealthStatus } from '../../src/domain/enums';
import {
  COMPONENT_WEIGHTS,
  type HealthInputs,
  healthScore,
  healthStatus,
  isHealthChangeWorthAnnouncing,
} from '../../src/domain/health';
import { qualitySummary } from '../../src/domain/quality';

const calm: HealthInputs = {
  quality: qualitySummary({ succeeded: 0, partial: 0, failed: 0 }),
  recentErrors: { LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 },
  recentWindowMs: 300_000,
  queuedCapabilities: [],
  servedCapabilities: [],
  onlineAgents: 0,
  oldestQueuedAgeMs: null,
  queueAgeLimitMs: 300_000,
  storageReachable: true,
};

const component = (inputs: HealthInputs, name: string) => healthScore(inputs).components.find((c) => c.name === name);

describe('health score', () => {
  it('is 100 and HEALTHY when nothing is wrong', () => {
    const h = healthScore(calm);
    expect(h.score).toBe(100);
    expect(h.status).toBe(HealthStatus.HEALTHY);
    expect(h.components.map((c) => c.name)).toEqual(['quality', 'errors', 'agents', 'queue', 'storage']);
  });

  it('weights add up to 1', () => {
    expect(Object.values(COMPONENT_WEIGHTS).reduce((a, b) => a + b, 0)).toBeCloseTo(1);
  });

  it('takes quality into account', () => {
    const h = healthScore({ ...calm, quality: qualitySummary({ succeeded: 1, partial: 0, failed: 1 }) });
    expect(component({ ...calm, quality: qualitySummary({ succeeded: 1, partial: 0, failed: 1 }) }, 'quality')?.score).toBe(50);
    expect(h.score).toBe(Math.round(100 - 50 * COMPONENT_WEIGHTS.quality));
  });

  it('penalises recent errors more the more severe they are', () => {
    const low = component({ ...calm, recentErrors: { ...calm.recentErrors, LOW: 3 } }, 'errors')?.score ?? 0;
    const critical = component({ ...calm, recentErrors: { ...calm.recentErrors, CRITICAL: 3 } }, 'errors')?.score ?? 0;
    expect(low).toBeGreaterThan(critical);
    expect(component({ ...calm, recentErrors: { ...calm.recentErrors, CRITICAL: 10 } }, 'errors')?.score).toBe(0);
  });

  it('scores agent availability against the capabilities that have queued work', () => {
    const inputs = { ...calm, queuedCapabilities: ['a', 'b'], servedCapabilities: ['a'], onlineAgents: 1 };
    const agents = component(inputs, 'agents');
    expect(agents?.score).toBe(50);
    expect(agents?.detail).toContain('b');
  });

  it('drives the queue component down as the oldest task waits longer', () => {
    expect(component({ ...calm, oldestQueuedAgeMs: 150_000 }, 'queue')?.score).toBe(50);
    expect(component({ ...calm, oldestQueuedAgeMs: 900_000 }, 'queue')?.score).toBe(0);
  });

  it('is never better than CRITICAL when storage is unreachable', () => {
    const h = healthScore({ ...calm, storageReachable: false });
    expect(h.status).toBe(HealthStatus.CRITICAL);
    expect(component({ ...calm, storageReachable: false }, 'storage')?.score).toBe(0);
  });

  it('maps scores to statuses with configurable thresholds', () => {
    expect(healthStatus(80)).toBe(HealthStatus.HEALTHY);
    expect(healthStatus(79)).toBe(HealthStatus.DEGRADED);
    expect(healthStatus(50)).toBe(HealthStatus.DEGRADED);
    expect(healthStatus(49)).toBe(HealthStatus.CRITICAL);
    expect(healthStatus(85, { healthy: 90, degraded: 60 })).toBe(HealthStatus.DEGRADED);
    expect(healthScore({ ...calm, recentErrors: { ...calm.recentErrors, [ErrorSeverity.CRITICAL]: 2 } }, { healthy: 99, degraded: 10 }).status).toBe(
      HealthStatus.DEGRADED,
    );
  });

  it('announces a change of status, or a move of at least the step', () => {
    const last = { score: 90, status: HealthStatus.HEALTHY };
    expect(isHealthChangeWorthAnnouncing(null, last, 10)).toBe(false);
    expect(isHealthChangeWorthAnnouncing(last, { score: 85, status: HealthStatus.HEALTHY }, 10)).toBe(false);
    expect(isHealthChangeWorthAnnouncing(last, { score: 80, status: HealthStatus.HEALTHY }, 10)).toBe(true);
    expect(isHealthChangeWorthAnnouncing({ score: 81, status: HealthStatus.HEALTHY }, { score: 79, status: HealthStatus.DEGRADED }, 10)).toBe(true);
  });
});
