import { browserOrigin, fitToFileLimit } from '../../src/server/guards';

describe('connection guards', () => {
  const limits = { maxConnections: 12000, maxWsConnections: 10000, maxSubscriptionsPerConnection: 100 };

  it('keeps the caps when the open-file limit has room for them, or is unknown', () => {
    expect(fitToFileLimit(limits, 20000)).toBe(limits);
    expect(fitToFileLimit(limits, null)).toBe(limits);
  });

  it('lowers both caps in proportion to fit the open-file limit, leaving files for storage and its pool', () => {
    const fitted = fitToFileLimit(limits, 4096, 10);
    expect(fitted.maxConnections).toBe(4096 - 256 - 10);
    expect(fitted.maxWsConnections).toBe(Math.floor((10000 * fitted.maxConnections) / 12000));
    expect(fitted.maxSubscriptionsPerConnection).toBe(100);
    const tiny = fitToFileLimit(limits, 100);
    expect(tiny.maxWsConnections).toBeLessThan(tiny.maxConnections);
    expect(tiny.maxWsConnections).toBeGreaterThanOrEqual(1);
  });

  it('reads an origin as a browser sends it, and nothing looser', () => {
    expect(browserOrigin('https://App.Example.com:443/')).toBe('https://app.example.com');
    expect(browserOrigin('http://[::1]:5173')).toBe('http://[::1]:5173');
    for (const bad of ['*', 'null', 'app.example.com', 'https://app.example.com/x', 'https://app.example.com?q', 'file:///x', 'https://u@app.example.com']) {
      expect(browserOrigin(bad)).toBeNull();
    }
  });
});
