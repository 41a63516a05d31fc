// Depth and complexity limits, checked before execution on HTTP (an Apollo plugin) and on
// WebSocket (graphql-ws onSubscribe) alike, so hostile queries never reach a resolver.
import type { ApolloServerPlugin } from '@apollo/server';
import {
  type DocumentNode,
  getVariableValues,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type VariableNode,
  visit,
} from 'graphql';
import { MAX_NESTING, measureOperation } from './query-cost';

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
  /**
   * Most tokens a document may have, enforced by the parser on both transports. Parsing and
   * validation run before any of our checks and are linear at best; graphql-js's validation
   * recurses once per fragment spread in a chain and overflows the stack near 3,500 of them
   * (about 28,000 tokens), so this bound also keeps such a chain from reaching it.
   */
  maxTokens: number;
}

type LimitCode = 'QUERY_TOO_DEEP' | 'QUERY_TOO_COMPLEX';

function limitError(code: LimitCode, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status: 400 } } });
}

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/**
 * Verdicts already reached for a document (Apollo hands the same parsed document to every request
 * with the same query text): costing walks the whole operation with the schema, a visible share of
 * the server's time when one mutation is sent over and over. A verdict depends on the document,
 * the operation and the values of the variables the cost reads: those given to `first` arguments
 * and to the conditions of @skip and @include. They are found once per document.
 */
interface Verdicts {
  costVariables: string[];
  /** null: within limits; otherwise the refusal's code and message (each refusal is a new error). */
  byKey: Map<string, { code: LimitCode; message: string } | null>;
}
const verdicts = new WeakMap<DocumentNode, Verdicts>();
/** Distinct operations and variable values remembered per document; beyond this they start over. */
const MAX_VERDICTS = 100;

function verdictsFor(document: DocumentNode): Verdicts {
  let found = verdicts.get(document);
  if (!found) {
    const names = new Set<string>();
    const collect = { Variable: (v: VariableNode) => void names.add(v.name.value) };
    visit(document, {
      Argument(node) {
        if (node.name.value === 'first') visit(node.value, collect);
      },
      Directive(node) {
        if (node.name.value === 'skip' || node.name.value === 'include') visit(node, collect);
      },
    });
    found = { costVariables: [...names], byKey: new Map() };
    verdicts.set(document, found);
  }
  return found;
}

/** Returns the error that refuses the operation, or null when it is within limits. */
export function checkLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  limits: QueryLimits,
): GraphQLError | null {
  const known = verdictsFor(document);
  // A variable left out (its default applies) is told from one given as null: [] vs [null].
  const read = known.costVariables.map((v) => (variables && Object.hasOwn(variables, v) ? [variables[v]] : []));
  // The cost reads Int and Boolean variables: any other value is refused by coercion in judge, and
  // is never made a key (JSON.stringify of a deeply nested one would overflow the stack).
  if (read.some(([v]) => typeof v === 'object' && v !== null)) return judge(schema, document, operationName, variables, limits);
  const key = JSON.stringify([operationName ?? null, limits.maxDepth, limits.maxComplexity, ...read]);
  const cached = known.byKey.get(key);
  if (cached !== undefined) return cached && limitError(cached.code, cached.message);
  const verdict = judge(schema, document, operationName, variables, limits);
  const code = verdict?.extensions.code;
  // Variables that do not fit the operation are refused, but not remembered: the key holds only
  // the variables the cost reads, and the next request may bring others.
  if (code !== 'BAD_USER_INPUT') {
    if (known.byKey.size >= MAX_VERDICTS) known.byKey.clear();
    known.byKey.set(key, verdict && { code: code as LimitCode, message: verdict.message });
  }
  return verdict;
}

function judge(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  limits: QueryLimits,
): GraphQLError | null {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return null;
  // Costing needs the variables; when they do not fit the operation, that is the client's error.
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {}, { maxErrors: 1 });
  if (coerced.errors) return badInput(coerced.errors[0]?.message ?? 'invalid variables');
  let measure;
  try {
    measure = measureOperation(schema, document, operation, coerced.coerced);
  } catch (e) {
    return badInput(e instanceof Error ? e.message : 'invalid arguments');
  }
  if (measure.tooNested) {
    return limitError('QUERY_TOO_DEEP', `query nests selections or fragments more than ${MAX_NESTING} deep`);
  }
  if (measure.depth > limits.maxDepth) {
    return limitError('QUERY_TOO_DEEP', `query depth ${measure.depth} exceeds the limit of ${limits.maxDepth}`);
  }
  if (measure.cost > limits.maxComplexity) {
    return limitError('QUERY_TOO_COMPLEX', `query complexity ${measure.cost} exceeds the limit of ${limits.maxComplexity}`);
  }
  return null;
}

export function limitsPlugin(schema: GraphQLSchema, limits: QueryLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          const error = checkLimits(schema, document, request.operationName, request.variables, limits);
          if (error) throw error;
        },
      };
    },
  };
}
