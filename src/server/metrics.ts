// GET /metrics: Prometheus text exposition of what an operator graphs and alerts on.
import type { Orchestrator } from '../engine/orchestrator';
import { liveSubscriptions } from '../events/iterate';
import type { ResponseCache } from '../graphql/response-cache';
import type { MaintenanceStats } from '../storage/sql';

export async function renderMetrics(o: Orchestrator, cache?: ResponseCache, storage?: MaintenanceStats | null): Promise<string> {
  const lines: string[] = [];
  const metric = (name: string, help: string, type: 'gauge' | 'counter', samples: [Record<string, string>, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
      lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
    }
  };
  const report = await o.health.report();
  metric('orchestrator_uptime_seconds', 'Seconds since this instance started.', 'gauge', [[{}, process.uptime()]]);
  metric('orchestrator_health_score', 'Health score 0-100.', 'gauge', [[{}, report.score]]);
  metric(
    'orchestrator_health_component_score',
    'Health score of each component, 0-100.',
    'gauge',
    report.components.map((c) => [{ component: c.name }, c.score]),
  );
  metric('orchestrator_quality_score', 'Overall quality score 0-1.', 'gauge', [[{}, report.quality.score]]);
  metric(
    'orchestrator_agents',
    'Registered agents by status.',
    'gauge',
    (['online', 'busy', 'draining', 'offline'] as const).map((s) => [{ status: s }, report.agents[s]]),
  );
  metric('orchestrator_tasks', 'Tasks waiting or running.', 'gauge', [
    [{ status: 'queued' }, report.queue.queued],
    [{ status: 'running' }, report.queue.running],
  ]);
  metric(
    'orchestrator_recent_errors',
    'Errors recorded inside the health window, by severity.',
    'gauge',
    report.errors.bySeverity.map((s) => [{ severity: s.severity }, s.count]),
  );
  const subscriptions = liveSubscriptions(o.bus);
  metric(
    'orchestrator_subscriptions',
    'Live GraphQL subscriptions on this instance, by event topic.',
    'gauge',
    (['agent', 'error', 'health', 'task', 'workflow'] as const).map((topic) => [{ topic }, subscriptions.get(topic) ?? 0]),
  );
  metric(
    'orchestrator_event_listeners',
    'Listeners on the event bus of this instance (subscriptions and the engine own), by topic.',
    'gauge',
    Object.entries(o.bus.listenerCounts()).map(([topic, n]) => [{ topic }, n]),
  );
  if (cache) {
    const c = cache.stats();
    metric('orchestrator_query_cache_hits_total', 'Cacheable queries answered from memory.', 'counter', [[{}, c.hits]]);
    metric('orchestrator_query_cache_misses_total', 'Cacheable queries executed (nothing kept, or data changed since).', 'counter', [[{}, c.misses]]);
    metric('orchestrator_query_cache_bytes', 'Estimated memory held by cached answers.', 'gauge', [[{}, c.bytes]]);
  }
  if (storage) {
    const byTable = (pick: (t: MaintenanceStats['tables'][number]) => number) => storage.tables.map((t): [Record<string, string>, number] => [{ table: t.table }, pick(t)]);
    metric('orchestrator_storage_vacuums_total', 'VACUUMs this instance ran on the embedded store, by table.', 'counter', byTable((t) => t.vacuums));
    metric('orchestrator_storage_vacuum_last_seconds', 'How long the last VACUUM of each table held the store.', 'gauge', byTable((t) => t.lastVacuumSeconds));
    metric('orchestrator_storage_dead_rows', 'Dead row versions of each table, as last read by the maintenance job.', 'gauge', byTable((t) => t.deadRows));
    metric('orchestrator_storage_checkpoints_total', 'CHECKPOINTs this instance ran on the embedded store.', 'counter', [[{}, storage.checkpoints]]);
    metric('orchestrator_storage_checkpoint_last_seconds', 'How long the last CHECKPOINT held the store.', 'gauge', [[{}, storage.lastCheckpointSeconds]]);
  }
  return `${lines.join('\n')}\n`;
}
