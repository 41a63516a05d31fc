import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { severityRank } from '../../domain/enums';
import { type ErrorRecord as ErrorRecordModel, summarizeError } from '../../domain/error-record';
import type { GraphQLContext } from '../context';
import { ErrorSeverity } from '../types/enums';
import { ErrorFilter, ErrorRecordInput } from '../types/error-record.input';
import { ErrorRecord, ErrorRecordConnection, ErrorSummary } from '../types/error-record.type';
import { DateTimeScalar } from '../types/scalars';

@Resolver(() => ErrorRecord)
export class ErrorRecordResolver {
  @Query(() => ErrorRecordConnection, { description: 'Newest first.' })
  errorRecords(
    @Arg('filter', () => ErrorFilter, { nullable: true }) filter: ErrorFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.errors.list(filter ?? {}, first, after);
  }

  @Query(() => ErrorSummary)
  errorSummary(@Arg('since', () => DateTimeScalar, { nullable: true }) since: Date | null, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.errors.summary(since ?? null);
  }

  @Mutation(() => ErrorRecord)
  recordError(@Arg('input', () => ErrorRecordInput) input: ErrorRecordInput, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.errors.record(input);
  }

  @FieldResolver(() => String)
  summary(@Root() error: ErrorRecordModel) {
    return summarizeError(error);
  }

  @Subscription(() => ErrorRecord, {
    subscribe: ({ args, context }) => {
      const min = args.minSeverity == null ? 0 : severityRank(args.minSeverity as ErrorSeverity);
      return (context as GraphQLContext).orchestrator.watch('error', (e) =>
        severityRank(e.error.severity) >= min ? e.error : undefined,
      );
    },
  })
  errorRecorded(
    @Root() error: ErrorRecordModel,
    @Arg('minSeverity', () => ErrorSeverity, { nullable: true }) _minSeverity?: ErrorSeverity,
  ) {
    return error;
  }
}
