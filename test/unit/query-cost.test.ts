import { buildSchema, getIntrospectionQuery, Kind, type OperationDefinitionNode, parse } from 'graphql';
import { MAX_NESTING, measureOperation } from '../../src/graphql/query-cost';

const schema = buildSchema(`
  type Query { item: Item, items: [Item!]!, page(first: Int = 5): Connection! }
  type Item { id: ID!, name: String, tags: [String!]!, child: Item }
  type Connection { edges: [Edge!]!, totalCount: Int! }
  type Edge { node: Item! }
`);

function measure(query: string, variables: Record<string, unknown> = {}) {
  const document = parse(query);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (!operation) throw new Error('no operation');
  return measureOperation(schema, document, operation, variables);
}

/** n fragments, each spreading the one before twice: 2^n leaves once expanded. */
function fanOut(n: number): string {
  let fragments = 'fragment F0 on Item { id }\n';
  for (let i = 1; i <= n; i++) fragments += `fragment F${i} on Item { ...F${i - 1} ...F${i - 1} }\n`;
  return `{ item { ...F${n} } }\n${fragments}`;
}

describe('measuring an operation', () => {
  it('measures each fragment of a DAG once and adds it at every spread', () => {
    // A = 2 (depth 1); B = A + child(1 + A) = 5 (depth 2); C = B + B + A = 12 (depth 2).
    // item { ...B } = 1 + 5; items { ...C } = 1 + 10 × 12 (a list without `first`).
    const m = measure(`
      { item { ...B } items { ...C } }
      fragment A on Item { id name }
      fragment B on Item { ...A child { ...A } }
      fragment C on Item { ...B ...B ...A }
    `);
    expect(m).toEqual({ depth: 3, cost: 6 + 121, tooNested: false });
  });

  it('gives a fan-out of 40 fragments its full cost, 2^40 leaves, without expanding it', () => {
    expect(measure(fanOut(40))).toEqual({ depth: 2, cost: 1 + 2 ** 40, tooNested: false });
  });

  it('multiplies a paged field by `first` (given, from a variable, or by default) and not edges again', () => {
    const page = `page(first: $n) { edges { node { id name } } totalCount }`;
    // node = 1 + 2; edges = 1 + node; totalCount = 1: a page item costs 5.
    expect(measure(`query($n: Int) { ${page} }`, { n: 3 }).cost).toBe(1 + 3 * 5);
    expect(measure(`{ page(first: 7) { totalCount } }`).cost).toBe(1 + 7);
    expect(measure(`{ page { totalCount } }`).cost).toBe(1 + 5);
  });

  it('leaves out what @skip and @include leave out', () => {
    const query = `query($yes: Boolean!) { item { id @skip(if: true) name @include(if: $yes) tags } }`;
    // A list of scalars has no selection to multiply: tags costs 1.
    expect(measure(query, { yes: false }).cost).toBe(1 + 1);
    expect(measure(query, { yes: true }).cost).toBe(1 + 1 + 1);
  });

  it('counts a fragment cycle (which validation refuses) as nothing rather than looping', () => {
    const m = measure(`{ item { ...A } } fragment A on Item { id ...B } fragment B on Item { name ...A }`);
    expect(m.cost).toBe(3);
  });

  it('says so when fragments nest deeper than it walks', () => {
    const chain = Array.from({ length: MAX_NESTING + 5 }, (_, i) => `fragment F${i} on Item { id ...F${i + 1} }`).join('\n');
    const m = measure(`{ item { ...F0 } }\n${chain}\nfragment F${MAX_NESTING + 5} on Item { id }`);
    expect(m.tooNested).toBe(true);
    expect(measure(`{ item { child { child { id } } } }`).tooNested).toBe(false);
  });

  it('counts introspection lists by what the schema holds: its types and directives, and once within a type', () => {
    const types = Object.keys(schema.getTypeMap()).length;
    const directives = schema.getDirectives().length;
    // __schema 1 + types (1 + each type: name 1 + fields (1 + name 1)).
    expect(measure(`{ __schema { types { name fields { name } } } }`).cost).toBe(1 + 1 + types * 3);
    expect(measure(`{ __schema { directives { name args { name } } } }`).cost).toBe(1 + 1 + directives * 3);
    expect(measure(`{ __type(name: "Item") { fields { name args { name } } } }`).cost).toBe(1 + 1 + (1 + 1 + 1));
  });

  it('leaves introspection out of the depth and __typename out of the cost', () => {
    expect(measure(`{ __typename item { __typename id } __type(name: "Item") { fields { type { ofType { name } } } } }`).depth).toBe(2);
    expect(measure(`{ __typename item { __typename id } }`)).toEqual({ depth: 2, cost: 2, tooNested: false });
  });

  it('walks the standard introspection query without refusing it for nesting', () => {
    expect(measure(getIntrospectionQuery()).tooNested).toBe(false);
  });
});
