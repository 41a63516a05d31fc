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

describe('query limits against hostile documents', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  const overHttp = async (query: string, server = s) => (await server.gql(query)).body.errors?.[0]?.extensions?.code;
  const overWs = async (query: string, server = s) => {
    const client = wsClient(server.wsUrl);
    try {
      return (await subscribe(client, query).next()).errors?.[0]?.extensions?.code;
    } finally {
      await client.dispose();
    }
  };
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
