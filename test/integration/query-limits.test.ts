// Documents built to make the checks before execution expensive, or the answer huge for a small
// request: fragments that fan out exponentially, long fragment chains, documents of many tokens,
// introspection repeated under aliases. Each is refused with a code on HTTP and on WebSocket, and
// the server keeps answering.
import { getIntrospectionQuery } from 'graphql';
import { startTestServer, subscribe, type TestServer, wsClient } from '../helpers/server';

/** n fragments, each spreading the one before twice: 1.2 KB at n = 22, 2^n fields once expanded. */
function fanOut(n: number): string {
  let fragments = 'fragment F0 on OrchestratorStatus { uptimeSeconds }\n';
  for (let i = 1; i <= n; i++) fragments += `fragment F${i} on OrchestratorStatus { ...F${i - 1} ...F${i - 1} }\n`;
  return `{ status { ...F${n} } }\n${fragments}`;
}

/** n aliases of a small introspection query: 5.8 KB of answer each, 11 MB for 1,900 (a 67 KB request). */
function schemaAliases(n: number): string {
  return `{ ${Array.from({ length: n }, (_, i) => `a${i}: __schema { types { fields { name } } }`).join(' ')} }`;
}

/** n fragments, each spreading the next: graphql-js validates such a chain by recursion. */
function chain(n: number): string {
  const links = Array.from({ length: n - 1 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} }`);
  return `{ ...F0 }\n${links.join('\n')}\nfragment F${n - 1} on Query { __typename }`;
}

type Errors = { message: string; extensions?: Record<string, unknown> }[] | undefined;

async function errorsOverHttp(server: TestServer, query: string, variables?: Record<string, unknown>): Promise<Errors> {
  return (await server.gql(query, variables)).body.errors;
}

async function errorsOverWs(server: TestServer, query: string, variables?: Record<string, unknown>): Promise<Errors> {
  const client = wsClient(server.wsUrl);
  try {
    return (await subscribe(client, query, variables).next()).errors as Errors;
  } finally {
    await client.dispose();
  }
}

let s: TestServer;
/** The same server with INTROSPECTION=false. */
let closed: TestServer;
beforeAll(async () => {
  [s, closed] = await Promise.all([startTestServer(), startTestServer({ INTROSPECTION: 'false' })]);
});
afterAll(() => Promise.all([s.stop(), closed.stop()]));

describe('query limits against hostile documents', () => {
  const overHttp = async (query: string, server = s) => (await errorsOverHttp(server, query))?.[0]?.extensions?.code;
  const overWs = async (query: string, server = s) => (await errorsOverWs(server, query))?.[0]?.extensions?.code;
  const stillServing = async () => expect(await s.data(`{ __typename }`)).toEqual({ __typename: 'Query' });

  it('refuses fragments that fan out to 2^40 fields, over HTTP and WebSocket, and keeps serving', async () => {
    expect(await overHttp(fanOut(40))).toBe('QUERY_TOO_COMPLEX');
    await stillServing();
    expect(await overWs(fanOut(40))).toBe('QUERY_TOO_COMPLEX');
    await stillServing();
  });

  it('refuses a document over MAX_QUERY_TOKENS as a parse error, on both transports', async () => {
    const many = `{ ${'__typename '.repeat(15_001)} }`;
    expect(await overHttp(many)).toBe('GRAPHQL_PARSE_FAILED');
    expect(await overWs(many)).toBe('GRAPHQL_PARSE_FAILED');
    await stillServing();
  });

  it('refuses a chain of 4,000 fragments cleanly instead of overflowing the stack in validation', async () => {
    expect(await overHttp(chain(4000))).toBe('GRAPHQL_PARSE_FAILED');
    expect(await overWs(chain(4000))).toBe('GRAPHQL_PARSE_FAILED');
    await stillServing();
  });

  it('refuses fragments nested deeper than it walks, whatever their depth in fields', async () => {
    expect(await overHttp(chain(300))).toBe('QUERY_TOO_DEEP');
    expect(await overWs(chain(300))).toBe('QUERY_TOO_DEEP');
    await stillServing();
  });

  it('answers the standard introspection query within the default limits, over HTTP and WebSocket', async () => {
    const http = await s.gql(getIntrospectionQuery());
    expect(http.body.errors).toBeUndefined();
    expect(http.body.data?.__schema.queryType.name).toBe('Query');
    const client = wsClient(s.wsUrl);
    const ws = await subscribe<{ __schema: { queryType: { name: string } } }>(client, getIntrospectionQuery()).next();
    await client.dispose();
    expect(ws.errors).toBeUndefined();
    expect(ws.data?.__schema.queryType.name).toBe('Query');
  });

  it('counts introspection in the cost: many aliases of __schema are refused, on both transports', async () => {
    // 1,200 aliases fit in MAX_QUERY_TOKENS; each costs 1 + 1 + (types in the schema) × 2.
    expect(await overHttp(schemaAliases(1200))).toBe('QUERY_TOO_COMPLEX');
    expect(await overWs(schemaAliases(1200))).toBe('QUERY_TOO_COMPLEX');
    // The 1,900 of the report do not fit; with room for them, their cost refuses them.
    expect(await overHttp(schemaAliases(1900))).toBe('GRAPHQL_PARSE_FAILED');
    const roomy = await startTestServer({ MAX_QUERY_TOKENS: '30000' });
    try {
      expect(await overHttp(schemaAliases(1900), roomy)).toBe('QUERY_TOO_COMPLEX');
      expect(await overWs(schemaAliases(1900), roomy)).toBe('QUERY_TOO_COMPLEX');
    } finally {
      await roomy.stop();
    }
    await stillServing();
  });
});

describe('introspection as a setting', () => {
  const introspect = `{ __schema { types { name } } }`;
  const typo = `{ statuss { status } }`;
  const badEnum = `query($t: [ErrorType!]) { errorRecords(filter: { types: $t }) { totalCount } }`;

  it('is on by default: introspection answers and errors suggest names', async () => {
    expect((await s.data(introspect)).__schema.types.length).toBeGreaterThan(10);
    expect((await errorsOverHttp(s, typo))?.[0]?.message).toContain('Did you mean "status"?');
    expect((await errorsOverWs(s, typo))?.[0]?.message).toContain('Did you mean "status"?');
  });

  it('when off, refuses __schema and __type on HTTP and WebSocket alike', async () => {
    for (const query of [introspect, `{ __type(name: "Query") { name } }`]) {
      const http = await errorsOverHttp(closed, query);
      const ws = await errorsOverWs(closed, query);
      expect(http?.map((e) => [e.extensions?.code, e.message])).toEqual(ws?.map((e) => [e.extensions?.code, e.message]));
      expect(http?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(http?.[0]?.message).toMatch(/introspection has been disabled/);
    }
    expect(await closed.data(`{ __typename status { status } }`)).toMatchObject({ __typename: 'Query' });
  });

  it('when off, leaves suggestions out of every error, on both transports', async () => {
    const messages: string[] = [];
    for (const errorsOver of [errorsOverHttp, errorsOverWs]) {
      const unknownField = await errorsOver(closed, typo);
      expect(unknownField?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(unknownField?.[0]?.message).toBe('Cannot query field "statuss" on type "Query".');
      // A bad enum value in a variable is refused by the limits check before execution; once a
      // good one has let the verdict on the document be remembered (HTTP), by execution itself.
      const refused = [await errorsOver(closed, badEnum, { t: ['NETWOR'] })];
      expect(await errorsOver(closed, badEnum, { t: ['NETWORK'] })).toBeUndefined();
      refused.push(await errorsOver(closed, badEnum, { t: ['NETWOR'] }));
      for (const e of refused) {
        expect(e?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        messages.push(e?.[0]?.message ?? '');
      }
    }
    expect(messages.filter((m) => /did you mean|NETWORK/i.test(m))).toEqual([]);
    expect(messages).toHaveLength(4);
  });
});
