// Builds the executable schema from the resolvers; the emitted SDL is checked in as schema/schema.graphql.
import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AgentResolver } from './resolvers/agent.resolver';
import { CacheResolver } from './resolvers/cache.resolver';
import { ErrorRecordResolver } from './resolvers/error-record.resolver';
import { HistoryResolver } from './resolvers/history.resolver';
import { SystemResolver } from './resolvers/system.resolver';
import { TaskResolver, WorkflowResolver } from './resolvers/workflow.resolver';
import { DateTimeScalar } from './types/scalars';

let built: Promise<GraphQLSchema> | null = null;

/** The schema is the same for every server in a process, so it is built once. */
export function createSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: [AgentResolver, ErrorRecordResolver, SystemResolver, CacheResolver, HistoryResolver, WorkflowResolver, TaskResolver],
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validate: { forbidUnknownValues: false },
    // Every subscription here subscribes through the EventBus in its context (`subscribe:`), so
    // type-graphql's topic pub/sub is never used; it insists on one being present.
    pubSub: {
      publish: () => {
        throw new Error('publish through the EventBus, not the schema pub/sub');
      },
      subscribe: () => {
        throw new Error('subscribe through the EventBus, not the schema pub/sub');
      },
    },
  }).then(directSubscriptionPayloads);
  return built;
}

/**
 * Every subscription's payload is the event its iterator yields (each resolver method returns its
 * root). type-graphql would still convert and validate the field's arguments for every event and
 * every subscriber; with thousands of subscribers that is most of the cost of a fan-out, so the
 * field resolves to the event directly. Arguments are still checked once, when subscribing.
 */
function directSubscriptionPayloads(schema: GraphQLSchema): GraphQLSchema {
  for (const field of Object.values(schema.getSubscriptionType()?.getFields() ?? {})) {
    field.resolve = (payload: unknown) => payload;
  }
  return schema;
}

export async function schemaSDL(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await createSchema()))}\n`;
}
