import { ConfigError, loadConfig } from '../../src/server/config';

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.host).toBe('127.0.0.1');
    expect(c.maxBodyBytes).toBe(1024 * 1024);
    expect(c.engine.leaseTimeoutMs).toBe(30000);
    expect(c.engine.health).toMatchObject({ healthy: 80, degraded: 50 });
    expect(c.dataDir).toMatch(/data$/);
  });

  it('reads every documented variable', () => {
    const c = loadConfig({ PORT: '0', HOST: '0.0.0.0', LOG_LEVEL: 'warn', HEALTH_HEALTHY_MIN: '90', HEALTH_DEGRADED_MIN: '60', DATA_DIR: 'memory://' });
    expect(c).toMatchObject({ port: 0, host: '0.0.0.0', logLevel: 'warn', dataDir: 'memory://' });
    expect(c.engine.health).toMatchObject({ healthy: 90, degraded: 60 });
  });

  it('bounds JSON depth: 64 by default, 1 to 1000 when set', () => {
    expect(loadConfig({}).engine.maxJsonDepth).toBe(64);
    expect(loadConfig({ MAX_JSON_DEPTH: '1000' }).engine.maxJsonDepth).toBe(1000);
    for (const bad of ['0', '1001', 'deep']) expect(() => loadConfig({ MAX_JSON_DEPTH: bad })).toThrow(/MAX_JSON_DEPTH must be an integer from 1 to 1000/);
  });

  it('caps dependsOn entries per workflow: 50,000 by default, 0 allowing none', () => {
    expect(loadConfig({}).engine.maxWorkflowEdges).toBe(50_000);
    expect(loadConfig({ MAX_WORKFLOW_EDGES: '0' }).engine.maxWorkflowEdges).toBe(0);
    expect(() => loadConfig({ MAX_WORKFLOW_EDGES: '-1' })).toThrow(/MAX_WORKFLOW_EDGES must be an integer from 0 to 10000000/);
  });

  it('caps registered remote agents: 10,000 by default, at least 1', () => {
    expect(loadConfig({}).engine.maxAgents).toBe(10_000);
    expect(loadConfig({ MAX_AGENTS: '1' }).engine.maxAgents).toBe(1);
    expect(() => loadConfig({ MAX_AGENTS: '0' })).toThrow(/MAX_AGENTS must be an integer from 1 to 10000000/);
  });

  it('names every invalid variable at once', () => {
    try {
      loadConfig({ PORT: 'abc', LOG_LEVEL: 'loud', HEALTH_DEGRADED_MIN: '95' });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const text = (e as ConfigError).message;
      expect(text).toContain('PORT');
      expect(text).toContain('LOG_LEVEL');
      expect(text).toContain('HEALTH_DEGRADED_MIN');
    }
  });

  it('knows the embedded store is one process, and refuses an instance timeout shorter than two sweeps', () => {
    expect(loadConfig({}).engine).toMatchObject({ soleInstance: true, instanceTimeoutMs: 5000, maxTaskHandbacks: 3 });
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x' }).engine.soleInstance).toBe(false);
    expect(() => loadConfig({ SWEEP_INTERVAL_MS: '1000', INSTANCE_TIMEOUT_MS: '1500' })).toThrow(/INSTANCE_TIMEOUT_MS must be at least twice SWEEP_INTERVAL_MS/);
  });

  it('allows introspection unless NODE_ENV is production, and INTROSPECTION says otherwise either way', () => {
    expect(loadConfig({}).introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production' }).introspection).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', INTROSPECTION: 'true' }).introspection).toBe(true);
    expect(loadConfig({ INTROSPECTION: 'false' }).introspection).toBe(false);
    expect(() => loadConfig({ INTROSPECTION: 'yes' })).toThrow(/INTROSPECTION must be true or false/);
  });

  it('reads CORS_ORIGINS as the origins a browser sends, and refuses what is not one', () => {
    expect(loadConfig({}).corsOrigins).toEqual([]);
    expect(loadConfig({ CORS_ORIGINS: ' https://App.Example.com/ , http://localhost:5173,https://x.example:443 ' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
      'https://x.example',
    ]);
    for (const bad of ['*', 'app.example.com', 'https://app.example.com/path', 'ftp://app.example.com', 'https://u:p@app.example.com', 'null']) {
      expect(() => loadConfig({ CORS_ORIGINS: `https://ok.example,${bad}` })).toThrow(/CORS_ORIGINS/);
    }
  });

  it('caps connections and subscriptions per WebSocket, leaving HTTP room next to the WebSockets', () => {
    expect(loadConfig({}).connections).toEqual({ maxConnections: 12000, maxWsConnections: 10000, maxSubscriptionsPerConnection: 100 });
    expect(loadConfig({ MAX_CONNECTIONS: '50', MAX_WS_CONNECTIONS: '20', MAX_SUBSCRIPTIONS_PER_CONNECTION: '5' }).connections).toEqual({
      maxConnections: 50,
      maxWsConnections: 20,
      maxSubscriptionsPerConnection: 5,
    });
    expect(() => loadConfig({ MAX_CONNECTIONS: '100', MAX_WS_CONNECTIONS: '100' })).toThrow(/MAX_WS_CONNECTIONS must be below MAX_CONNECTIONS/);
    expect(() => loadConfig({ MAX_SUBSCRIPTIONS_PER_CONNECTION: '0' })).toThrow(/MAX_SUBSCRIPTIONS_PER_CONNECTION/);
    expect(() => loadConfig({ MAX_WS_CONNECTIONS: 'lots' })).toThrow(/MAX_WS_CONNECTIONS/);
  });

  it('reads the timeouts for idle and slow connections, the head no longer than the whole request', () => {
    expect(loadConfig({}).timeouts).toEqual({ httpHeadersMs: 10000, httpRequestMs: 60000, httpKeepAliveMs: 5000, wsInitMs: 3000 });
    expect(
      loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '300', WS_INIT_TIMEOUT_MS: '200' }).timeouts,
    ).toEqual({ httpHeadersMs: 500, httpRequestMs: 1000, httpKeepAliveMs: 300, wsInitMs: 200 });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '2000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS must not be above/);
    expect(() => loadConfig({ WS_INIT_TIMEOUT_MS: '0' })).toThrow(/WS_INIT_TIMEOUT_MS/);
  });
});
