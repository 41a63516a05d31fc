// GraphQL over WebSocket (graphql-ws): the same checks as HTTP before anything runs (parse with a
// token cap, validation, depth and cost), a cap on operations per socket, errors formatted in the
// one place, and a fresh context for every operation and for every event a subscription sends.
import { ApolloServerErrorCode } from '@apollo/server/errors';
import {
  createSourceEventStream,
  execute,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  parse,
  specifiedRules,
  validate,
  type ValidationRule,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocketServer } from 'ws';
import type { GraphQLContext } from '../graphql/context';
import { checkLimits, type QueryLimits } from '../graphql/limits';
import type { ConnectionGuard } from './guards';

export interface GraphQLWsOptions {
  schema: GraphQLSchema;
  limits: QueryLimits;
  validationRules: readonly ValidationRule[];
  initTimeoutMs: number;
  guard: ConnectionGuard;
  /** A new operation context (its own batch loaders). */
  context(): GraphQLContext;
  format(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
}

export function graphqlOverWebSocket(wsServer: WebSocketServer, opts: GraphQLWsOptions): { dispose(): void | Promise<void> } {
  const { schema, limits, guard, format } = opts;
  return useServer(
    {
      schema,
      connectionInitWaitTimeout: opts.initTimeoutMs,
      onSubscribe: (ctx, _id, payload) => {
        // graphql-ws has already entered this one in ctx.subscriptions.
        const tooMany = guard.operationRefusal(Object.keys(ctx.subscriptions).length);
        if (tooMany) return [tooMany];
        let document;
        try {
          document = parse(payload.query, { maxTokens: limits.maxTokens });
        } catch (e) {
          // The code Apollo gives a syntax error over HTTP, so a client sees one code on both transports.
          const code = ApolloServerErrorCode.GRAPHQL_PARSE_FAILED;
          return [
            e instanceof GraphQLError
              ? new GraphQLError(e.message, { source: e.source, positions: e.positions, extensions: { ...e.extensions, code } })
              : new GraphQLError('could not parse the query', { extensions: { code } }),
          ];
        }
        const errors = validate(schema, document, [...specifiedRules, ...opts.validationRules]);
        if (errors.length) return errors;
        const limitError = checkLimits(schema, document, payload.operationName, payload.variables, limits);
        if (limitError) return [limitError];
        // Each operation its own context: batch loaders cache what they read, and a socket lives
        // for hours — one context per socket answered later queries from what earlier ones read.
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue: opts.context() };
      },
      subscribe: (args) => subscribeFresh(args, opts.context),
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => format(e.toJSON(), e)),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => format(e.toJSON(), e)) as GraphQLFormattedError[] } : undefined,
    },
    wsServer,
  );
}

/**
 * graphql-js's subscribe executes every event with the context the subscription started with, so
 * its batch loaders answered each event's computed fields (progress, quality, tasks) from what the
 * first event read. Here each event is executed with a context of its own; the stream itself keeps
 * the subscription's. Ending the iterator ends the stream at once, even while it waits for an event.
 */
async function subscribeFresh(
  args: ExecutionArgs,
  fresh: () => GraphQLContext,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const stream = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in stream)) return stream;
  const events = stream as AsyncIterableIterator<unknown>;
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const event = await events.next();
      if (event.done) return { done: true, value: undefined };
      return { done: false, value: (await execute({ ...args, rootValue: event.value, contextValue: fresh() })) as ExecutionResult };
    },
    async return() {
      await events.return?.();
      return { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      await events.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
