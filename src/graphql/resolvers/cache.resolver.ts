import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { CacheEntry } from '../types/cache.type';
import { JSONScalar } from '../types/scalars';

@Resolver(() => CacheEntry)
export class CacheResolver {
  @Query(() => CacheEntry, { nullable: true, description: 'Null when the key is absent or expired.' })
  cacheEntry(@Arg('key') key: string, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.cache.get(key);
  }

  @Query(() => [CacheEntry], { description: 'Live entries whose key starts with prefix (all when omitted), by key.' })
  cacheEntries(@Arg('prefix', () => String, { nullable: true }) prefix: string | null, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.cache.list(prefix);
  }

  @Mutation(() => CacheEntry, { description: 'ttlSeconds omitted or 0: kept until deleted. Negative: BAD_USER_INPUT.' })
  setCache(
    @Arg('key') key: string,
    // Free-form JSON is not a class to validate (literal objects even lack a prototype).
    @Arg('value', () => JSONScalar, { validate: false }) value: unknown,
    @Arg('ttlSeconds', () => Int, { nullable: true }) ttlSeconds: number | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.cache.set(key, value, ttlSeconds);
  }

  @Mutation(() => Boolean, { description: 'True when a live entry was deleted.' })
  deleteCache(@Arg('key') key: string, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.cache.delete(key);
  }

  @Mutation(() => Int, { description: 'Deletes the entries under prefix (all when omitted); returns how many were live.' })
  clearCache(@Arg('prefix', () => String, { nullable: true }) prefix: string | null, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.cache.clear(prefix);
  }
}
