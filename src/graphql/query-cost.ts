// Measures an operation before it runs (its depth and its estimated cost) in one walk that is
// linear in the document: each fragment is measured once and every spread of it reuses that
// measure. Walking spread by spread, as graphql-query-complexity and the former depth check did,
// is exponential in the number of nested fragments: a document of about a kilobyte could hold
// the event loop for minutes.
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  GraphQLIncludeDirective,
  GraphQLList,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  GraphQLSkipDirective,
  isObjectType,
  isInterfaceType,
  isIntrospectionType,
  Kind,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
} from 'graphql';

/** Multiplier for a list field that has no `first` argument (e.g. Workflow.tasks, agents). */
export const UNBOUNDED_LIST_FACTOR = 10;

/**
 * Selections and fragment spreads nested deeper than this are refused outright: the standard
 * introspection query nests 17 deep, and a walk much deeper only serves to exhaust the stack.
 */
export const MAX_NESTING = 256;

export interface OperationMeasure {
  /** Deepest selection, through fragments, not counting introspection (validation bounds its nesting). */
  depth: number;
  /**
   * A field costs 1 plus its selection; a paged field costs `first` times its selection, any
   * other list UNBOUNDED_LIST_FACTOR times, and `edges` is not multiplied again. `__typename` is
   * free: it needs no resolver, and clients add it to every selection. Selections on an abstract
   * type are summed whatever their type condition: an upper bound (the schema has no unions or
   * interfaces today).
   *
   * Introspection counts too (free, 1,900 aliases of `__schema` made an 11 MB answer), with list
   * lengths taken from the schema it describes rather than guessed: `__Schema.types` and
   * `__Schema.directives` count as many times as the schema has types and directives, and the
   * lists within one type or field (fields, arguments, enum values, …) count once, as they are
   * short (3.5 fields a type, 0.3 arguments a field here). With the guess of data lists, 10, the
   * standard introspection query would cost 49,000; this way it costs about 175 a type (11,825
   * with 68 types), and `__schema { types { fields { name } } }` costs 138.
   */
  cost: number;
  /** True when selections or fragments nest deeper than MAX_NESTING; depth and cost are then partial. */
  tooNested: boolean;
}

/**
 * Measures `operation` of `document` with the given (already coerced) variable values, which
 * decide `first` arguments and @skip/@include. The document must have passed validation.
 * Throws a GraphQLError when an argument cannot be read with these variables.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): OperationMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  // A fragment's measure depends only on its own selection (on its type condition), so one entry
  // per name serves every spread. `null` marks a fragment being measured: a cycle, which
  // validation refuses, would count as nothing rather than loop.
  const measured = new Map<string, Measure | null>();
  let tooNested = false;

  const selectionSet = (set: SelectionSetNode, type: GraphQLNamedType | undefined, nesting: number): Measure => {
    const total: Measure = { depth: 0, cost: 0 };
    if (nesting > MAX_NESTING) {
      tooNested = true;
      return total;
    }
    for (const s of set.selections) {
      if (skipped(s, variables)) continue;
      const m = selection(s, type, nesting);
      total.cost += m.cost;
      total.depth = Math.max(total.depth, m.depth);
    }
    return total;
  };

  const selection = (s: SelectionNode, type: GraphQLNamedType | undefined, nesting: number): Measure => {
    if (s.kind === Kind.FIELD) return field(s, type, nesting);
    if (s.kind === Kind.INLINE_FRAGMENT) {
      const on = s.typeCondition ? schema.getType(s.typeCondition.name.value) : type;
      return selectionSet(s.selectionSet, on, nesting + 1);
    }
    const name = s.name.value;
    const known = measured.get(name);
    if (known !== undefined) return known ?? { depth: 0, cost: 0 };
    const fragment = fragments.get(name);
    if (!fragment) return { depth: 0, cost: 0 };
    measured.set(name, null);
    const m = selectionSet(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value), nesting + 1);
    measured.set(name, m);
    return m;
  };

  const field = (node: FieldNode, parent: GraphQLNamedType | undefined, nesting: number): Measure => {
    const name = node.name.value;
    if (name === '__typename') return { depth: 0, cost: 0 };
    const def = fieldDefinition(schema, parent, name);
    const child = node.selectionSet
      ? selectionSet(node.selectionSet, def && getNamedType(def.type), nesting + 1)
      : { depth: 0, cost: 0 };
    const introspection = name === '__schema' || name === '__type' || (parent !== undefined && isIntrospectionType(parent));
    return {
      depth: introspection ? 0 : 1 + child.depth,
      cost: 1 + multiplier(schema, parent, def, node, variables, introspection) * child.cost,
    };
  };

  const whole = selectionSet(operation.selectionSet, rootType(schema, operation), 0);
  return { ...whole, tooNested };
}

interface Measure {
  depth: number;
  cost: number;
}

function multiplier(
  schema: GraphQLSchema,
  parent: GraphQLNamedType | undefined,
  def: GraphQLField<unknown, unknown> | undefined,
  node: FieldNode,
  variables: Record<string, unknown>,
  introspection: boolean,
): number {
  if (!def) return 1;
  if (def.args.some((a) => a.name === 'first')) {
    const { first } = getArgumentValues(def, node, variables);
    if (typeof first === 'number') return Math.max(0, first);
  }
  if (def.name === 'edges' || !(getNullableType(def.type) instanceof GraphQLList)) return 1;
  if (!introspection) return UNBOUNDED_LIST_FACTOR;
  if (parent?.name === '__Schema' && def.name === 'types') return Object.keys(schema.getTypeMap()).length;
  if (parent?.name === '__Schema' && def.name === 'directives') return schema.getDirectives().length;
  return 1;
}

function skipped(s: SelectionNode, variables: Record<string, unknown>): boolean {
  if (!s.directives?.length) return false;
  return (
    getDirectiveValues(GraphQLSkipDirective, s, variables)?.if === true ||
    getDirectiveValues(GraphQLIncludeDirective, s, variables)?.if === false
  );
}

function fieldDefinition(
  schema: GraphQLSchema,
  parent: GraphQLNamedType | undefined,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  if (parent && parent === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
}

function rootType(schema: GraphQLSchema, operation: OperationDefinitionNode): GraphQLNamedType | undefined {
  return schema.getRootType(operation.operation) ?? undefined;
}
