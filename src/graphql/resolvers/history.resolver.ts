import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { HistoryFilter } from '../types/history.input';
import { HistoryEventConnection } from '../types/history.type';
import { DateTimeScalar } from '../types/scalars';

@Resolver()
export class HistoryResolver {
  @Query(() => HistoryEventConnection, { description: 'Oldest first; page on with `after: pageInfo.endCursor`.' })
  history(
    @Arg('filter', () => HistoryFilter, { nullable: true }) filter: HistoryFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 100 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.history.list(filter ?? {}, first, after);
  }

  @Mutation(() => Int, { description: 'Deletes history events older than `before` (all when omitted); returns how many.' })
  clearHistory(@Arg('before', () => DateTimeScalar, { nullable: true }) before: Date | null, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.history.clear(before);
  }
}
