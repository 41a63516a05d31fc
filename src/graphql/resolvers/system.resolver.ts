import { Arg, Ctx, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { invalid } from '../../domain/errors';
import type { HealthReport as HealthReportModel } from '../../domain/health';
import type { GraphQLContext } from '../context';
import { HealthReport, OrchestratorStatus } from '../types/health.type';
import { QualitySummary } from '../types/quality.type';

export const DRAIN_TIMEOUT_MAX_MS = 600_000;

@Resolver()
export class SystemResolver {
  @Query(() => QualitySummary, { description: 'Quality over everything, one agent, or one workflow.' })
  quality(
    @Arg('agentId', () => ID, { nullable: true }) agentId: string | null,
    @Arg('workflowId', () => ID, { nullable: true }) workflowId: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.quality.of(agentId, workflowId);
  }

  @Query(() => HealthReport)
  health(@Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.health.report();
  }

  @Query(() => OrchestratorStatus)
  status(@Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.status();
  }

  @Mutation(() => OrchestratorStatus, {
    description: 'Clears cache, history, error records and finished workflows; keeps agents and running work.',
  })
  reset(@Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.reset();
  }

  @Mutation(() => Boolean, {
    description: 'Stops taking work, waits for running tasks up to drainTimeoutMs, then stops this instance.',
  })
  shutdown(
    @Arg('drainTimeoutMs', () => Int, { nullable: true, defaultValue: 30000 }) drainTimeoutMs: number | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    ctx.lifecycle.shutdown(checkDrainTimeout(drainTimeoutMs));
    return true;
  }

  @Subscription(() => HealthReport, {
    description: 'Fires when the status changes or the score moves by the configured step.',
    subscribe: ({ context }) => (context as GraphQLContext).orchestrator.watch('health', (e) => e.report),
  })
  healthChanged(@Root() report: HealthReportModel) {
    return report;
  }
}

function checkDrainTimeout(ms: number | null): number {
  const value = ms ?? 30000;
  if (!Number.isInteger(value) || value < 0 || value > DRAIN_TIMEOUT_MAX_MS) {
    throw invalid(`drainTimeoutMs must be an integer from 0 to ${DRAIN_TIMEOUT_MAX_MS}`, { field: 'drainTimeoutMs' });
  }
  return value;
}
