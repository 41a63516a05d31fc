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
});
