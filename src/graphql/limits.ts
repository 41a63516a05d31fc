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
  visit,
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

type LimitCode = 'QUERY_TOO_DEEP' | 'QUERY_TOO_COMPLEX';

function limitError(code: LimitCode, message: string): GraphQLError {
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

/**
 * Verdicts already reached for a document (Apollo hands the same parsed document to every request
 * with the same query text): costing walks the whole operation with the schema, which took 7 % of
 * the server's time when one mutation was sent over and over. A verdict depends on the document,
 * the operation and the values of the variables given to `first` arguments (the only arguments
 * the estimator reads); those variables are found once per document.
 */
interface Verdicts {
  pagingVariables: string[];
  /** null: within limits; otherwise the refusal's code and message (each refusal is a new error). */
  byKey: Map<string, { code: LimitCode; message: string } | null>;
}
const verdicts = new WeakMap<DocumentNode, Verdicts>();
/** Distinct operation and paging values remembered per document; beyond this they start over. */
const MAX_VERDICTS = 100;

function verdictsFor(document: DocumentNode): Verdicts {
  let found = verdicts.get(document);
  if (!found) {
    const names = new Set<string>();
    visit(document, {
      Argument(node) {
        if (node.name.value !== 'first') return;
        visit(node.value, { Variable: (v) => void names.add(v.name.value) });
      },
    });
    found = { pagingVariables: [...names], byKey: new Map() };
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
  // A paging variable left out (its default applies) is told from one given as null: [] vs [null].
  const paging = known.pagingVariables.map((v) => (variables && Object.hasOwn(variables, v) ? [variables[v]] : []));
  const key = JSON.stringify([operationName ?? null, limits.maxDepth, limits.maxComplexity, ...paging]);
  const cached = known.byKey.get(key);
  if (cached !== undefined) return cached && limitError(cached.code, cached.message);
  const verdict = judge(schema, document, operationName, variables, limits);
  const code = verdict?.extensions.code;
  // Variables that do not fit the operation are refused, but not remembered: the key holds only
  // the paging variables, and the next request may bring others.
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
