// Builds the executable schema from the resolvers; the emitted SDL is checked in as schema/schema.graphql.
import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { getMetadataStorage, type ValidationError, type ValidatorOptions, validateOrReject } from 'class-validator';
import { ArgumentValidationError, buildSchema } from 'type-graphql';
import { guardArguments } from './input-guard';
import { AgentResolver } from './resolvers/agent.resolver';
import { CacheResolver } from './resolvers/cache.resolver';
import { ErrorRecordResolver } from './resolvers/error-record.resolver';
import { HistoryResolver } from './resolvers/history.resolver';
import { SystemResolver } from './resolvers/system.resolver';
import { TaskResolver, WorkflowResolver } from './resolvers/workflow.resolver';
import { DateTimeScalar } from './types/scalars';

let built: Promise<GraphQLSchema> | null = null;

/** As type-graphql validates by default: rules of the argument's class, missing properties skipped. */
const VALIDATOR_OPTIONS: ValidatorOptions = { forbidUnknownValues: false, skipMissingProperties: true };
const hasRules = new Map<Function, boolean>();

/**
 * Validates an argument when its input class carries class-validator rules, and nothing else
 * (free-form JSON arguments, inputs without rules). type-graphql's own validation loads
 * class-validator with a require() on every argument of every operation, a visible share of the
 * server's time under a stream of small mutations. An argument's `validate: false` is not
 * consulted: the classes of those arguments have no rules.
 */
async function validateInput(value: unknown, type: unknown): Promise<void> {
  if (typeof type !== 'function') return;
  let rules = hasRules.get(type);
  if (rules === undefined) {
    rules = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false).length > 0;
    hasRules.set(type, rules);
  }
  if (!rules) return;
  const items = (Array.isArray(value) ? value : [value]).filter((v) => v !== null && typeof v === 'object');
  try {
    await Promise.all(items.map((v) => validateOrReject(v as object, VALIDATOR_OPTIONS)));
  } catch (err) {
    throw new ArgumentValidationError(err as ValidationError[]);
  }
}

/** The schema is the same for every server in a process, so it is built once. */
export function createSchema(): Promise<GraphQLSchema> {
  built ??= buildSchema({
    resolvers: [AgentResolver, ErrorRecordResolver, SystemResolver, CacheResolver, HistoryResolver, WorkflowResolver, TaskResolver],
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    validateFn: validateInput,
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
  })
    .then(directSubscriptionPayloads)
    .then(guardArguments);
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
