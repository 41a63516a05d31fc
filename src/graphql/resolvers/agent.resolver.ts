import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { Agent as AgentModel } from '../../domain/agent';
import { AgentKind } from '../../domain/enums';
import type { GraphQLContext } from '../context';
import { AgentFilter, RegisterAgentInput } from '../types/agent.input';
import { Agent, AgentRegistration } from '../types/agent.type';
import { QualitySummary } from '../types/quality.type';

@Resolver(() => Agent)
export class AgentResolver {
  @Query(() => Agent, { nullable: true })
  agent(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.agent.load(id);
  }

  @Query(() => Agent, { nullable: true })
  agentByName(@Arg('name') name: string, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.agents.byName(name);
  }

  @Query(() => [Agent])
  agents(@Arg('filter', () => AgentFilter, { nullable: true }) filter: AgentFilter | null, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.agents.list(filter ?? {});
  }

  @Mutation(() => AgentRegistration, {
    description:
      'Registers a REMOTE agent. Names are unique: registering a taken name is CONFLICT unless `token` is the ' +
      "token that agent was given, which re-attaches to it and replaces its capabilities, concurrency and metadata.",
  })
  registerAgent(@Arg('input', () => RegisterAgentInput) input: RegisterAgentInput, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.agents.register(input, AgentKind.REMOTE);
  }

  @Mutation(() => Boolean)
  deregisterAgent(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.agents.deregister(id);
  }

  @Mutation(() => Agent)
  setAgentDraining(
    @Arg('id', () => ID) id: string,
    @Arg('draining') draining: boolean,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.agents.setDraining(id, draining);
  }

  @FieldResolver(() => QualitySummary)
  quality(@Root() agent: AgentModel, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.agentQuality.load(agent.id);
  }

  @Subscription(() => Agent, {
    description: 'Every registration, status change, re-attachment and deregistration (the last shows OFFLINE).',
    subscribe: ({ args, context }) =>
      (context as GraphQLContext).orchestrator.watch('agent', (e) =>
        args.agentId == null || e.agent.id === args.agentId ? e.agent : undefined,
      ),
  })
  agentUpdated(@Root() agent: AgentModel, @Arg('agentId', () => ID, { nullable: true }) _agentId?: string) {
    return agent;
  }
}
