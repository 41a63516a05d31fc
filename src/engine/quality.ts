// Quality summaries read from counters that result-recording transactions keep up to date.
import { invalid, notFound } from '../domain/errors';
import { NO_RESULTS, type QualitySummary, qualitySummary } from '../domain/quality';
import type { QualityScope } from '../storage/store';
import type { EngineContext } from './context';

export const OVERALL = '';

export class QualityService {
  constructor(private readonly ctx: EngineContext) {}

  /** Quality over everything, one agent, or one workflow (not both at once). */
  async of(agentId: string | null | undefined, workflowId: string | null | undefined): Promise<QualitySummary> {
    if (agentId != null && workflowId != null) {
      throw invalid('give agentId or workflowId, not both', { field: 'agentId' });
    }
    if (agentId != null) {
      if ((await this.ctx.store.getAgents([agentId])).length === 0) throw notFound('agent', agentId);
      return (await this.many('agent', [agentId]))[0] as QualitySummary;
    }
    if (workflowId != null) {
      if ((await this.ctx.store.getWorkflows([workflowId])).length === 0) throw notFound('workflow', workflowId);
      return (await this.many('workflow', [workflowId]))[0] as QualitySummary;
    }
    return (await this.many('all', [OVERALL]))[0] as QualitySummary;
  }

  /** Summaries in the order of `ids` (for batch loading). */
  async many(scope: QualityScope, ids: readonly string[]): Promise<QualitySummary[]> {
    const counts = await this.ctx.store.getQuality(scope, ids);
    return ids.map((id) => qualitySummary(counts.get(id) ?? NO_RESULTS));
  }
}
