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
});
