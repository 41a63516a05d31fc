import { startTestServer, type TestServer } from '../helpers/server';

describe('cache', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  const set = (key: string, value: unknown, ttlSeconds?: number) =>
    s.gql(`mutation($k: String!, $v: JSON!, $t: Int) { setCache(key: $k, value: $v, ttlSeconds: $t) { key value expiresAt updatedAt } }`, {
      k: key,
      v: value,
      t: ttlSeconds,
    });
  const get = async (key: string) => (await s.data(`query($k: String!) { cacheEntry(key: $k) { key value expiresAt } }`, { k: key })).cacheEntry;

  it('stores any JSON value and reads it back', async () => {
    for (const [key, value] of [
      ['obj', { nested: { list: [1, 'two', null, true] } }],
      ['str', 'hello'],
      ['num', 42.5],
      ['arr', [1, 2, 3]],
      ['bool', false],
    ] as const) {
      const { body } = await set(key, value);
      expect(body.errors).toBeUndefined();
      expect(await get(key)).toEqual({ key, value, expiresAt: null });
    }
  });

  it('overwrites a key and moves updatedAt', async () => {
    const first = (await set('over', 1)).body.data?.setCache;
    await new Promise((r) => setTimeout(r, 5));
    const second = (await set('over', 2)).body.data?.setCache;
    expect(second.value).toBe(2);
    expect(new Date(second.updatedAt).getTime()).toBeGreaterThan(new Date(first.updatedAt).getTime());
  });

  it('never returns an expired entry', async () => {
    const { body } = await set('short', 'lived', 1);
    expect(new Date(body.data?.setCache.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(await get('short')).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1100));
    expect(await get('short')).toBeNull();
    const listed = await s.data(`{ cacheEntries(prefix: "sho") { key } }`);
    expect(listed.cacheEntries).toEqual([]);
    const deleted = await s.data(`mutation { deleteCache(key: "short") }`);
    expect(deleted.deleteCache).toBe(false);
  });

  it('lists by prefix in key order, with LIKE wildcards taken literally', async () => {
    await set('job:2', 'b');
    await set('job:1', 'a');
    await set('job%x', 'c');
    await set('jobs', 'd');
    const listed = await s.data(`{ cacheEntries(prefix: "job:") { key value } }`);
    expect(listed.cacheEntries).toEqual([
      { key: 'job:1', value: 'a' },
      { key: 'job:2', value: 'b' },
    ]);
    const literal = await s.data(`{ cacheEntries(prefix: "job%") { key } }`);
    expect(literal.cacheEntries).toEqual([{ key: 'job%x' }]);
  });

  it('deletes one key and clears a prefix, counting what was live', async () => {
    expect((await s.data(`mutation { deleteCache(key: "jobs") }`)).deleteCache).toBe(true);
    expect((await s.data(`mutation { deleteCache(key: "jobs") }`)).deleteCache).toBe(false);
    expect((await s.data(`mutation { clearCache(prefix: "job") }`)).clearCache).toBe(3);
    expect((await s.data(`{ cacheEntries(prefix: "job") { key } }`)).cacheEntries).toEqual([]);
    const history = await s.data(`{ history(filter: { types: [CACHE_CLEARED] }) { edges { node { data } } } }`);
    expect(history.history.edges.map((e: any) => e.node.data)).toEqual([
      { key: 'jobs', count: 1 },
      { prefix: 'job', count: 3 },
    ]);
    const all = await s.data(`mutation { clearCache }`);
    expect(all.clearCache).toBeGreaterThan(0);
    expect((await s.data(`{ cacheEntries { key } }`)).cacheEntries).toEqual([]);
  });

  it.each([
    ['a negative ttl', 'k', 1, -1],
    ['an empty key', '', 1, undefined],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_label, key, value, ttl) => {
    const { body } = await set(key, value, ttl);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await s.data(`{ cacheEntries { key } }`)).cacheEntries).toEqual([]);
  });

  it('refuses a null value (the contract says JSON!)', async () => {
    const { body } = await set('nothing', null);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('cache values written as GraphQL literals', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it('stores an object literal from the query text', async () => {
    const r = await s.data(`mutation { setCache(key: "lit", value: { a: [1, "b", { c: true }] }) { value } }`);
    expect(r.setCache.value).toEqual({ a: [1, 'b', { c: true }] });
  });
});
