// Depth and complexity limits, checked before execution on HTTP (an Apollo plugin) and on
// WebSocket (graphql-ws onSubscribe) alike, so hostile queries never reach a resolver.
import type { ApolloServerPlugin } from '@apollo/server';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  GraphQLList,
  type GraphQLSchema,
  getNullableType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { type ComplexityEstimator, getComplexity } from 'graphql-query-complexity';

export interface QueryLimits {
  maxDepth: number;
  maxComplexity: number;
}

/** Multiplier for a list field that has no `first` argument (e.g. Workflow.tasks, agents). */
export const UNBOUNDED_LIST_FACTOR = 10;

/**
 * A field costs 1 plus its selection; a paged field costs `first` times its selection, and any
 * other list UNBOUNDED_LIST_FACTOR times. Introspection is free (clients fetch it once).
 */
const estimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (field.name.startsWith('__')) return 0;
  if (typeof args.first === 'number') return 1 + Math.max(0, args.first) * childComplexity;
  const isList = getNullableType(field.type) instanceof GraphQLList;
  return 1 + (isList && field.name !== 'edges' ? UNBOUNDED_LIST_FACTOR : 1) * childComplexity;
};

function limitError(code: 'QUERY_TOO_DEEP' | 'QUERY_TOO_COMPLEX', message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, http: { status: 400 } } });
}

/** Depth of the deepest selection, through fragments, ignoring introspection fields. */
export function operationDepth(document: DocumentNode, operation: OperationDefinitionNode): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const depthOf = (set: SelectionSetNode, seen: ReadonlySet<string>): number => {
    let max = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        if (s.name.value.startsWith('__')) continue;
        max = Math.max(max, 1 + (s.selectionSet ? depthOf(s.selectionSet, seen) : 0));
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        max = Math.max(max, depthOf(s.selectionSet, seen));
      } else {
        const f = fragments.get(s.name.value);
        if (f && !seen.has(f.name.value)) max = Math.max(max, depthOf(f.selectionSet, new Set([...seen, f.name.value])));
      }
    }
    return max;
  };
  return depthOf(operation.selectionSet, new Set());
}

/** Returns the error that refuses the operation, or null when it is within limits. */
export function checkLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  limits: QueryLimits,
): GraphQLError | null {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return null;
  const depth = operationDepth(document, operation);
  if (depth > limits.maxDepth) {
    return limitError('QUERY_TOO_DEEP', `query depth ${depth} exceeds the limit of ${limits.maxDepth}`);
  }
  let complexity: number;
  try {
    complexity = getComplexity({
      schema,
      query: document,
      operationName: operationName ?? undefined,
      variables: variables ?? {},
      estimators: [estimator],
    });
  } catch (e) {
    // Costing needs the variables; when they do not fit the operation, that is the client's error.
    return new GraphQLError(e instanceof Error ? e.message : 'invalid variables', {
      extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
    });
  }
  if (complexity > limits.maxComplexity) {
    return limitError('QUERY_TOO_COMPLEX', `query complexity ${complexity} exceeds the limit of ${limits.maxComplexity}`);
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
