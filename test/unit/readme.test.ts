import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_VARS } from '../../src/server/config';

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it('documents every environment variable the server reads, with its default', () => {
    for (const [name, [fallback]] of Object.entries(ENV_VARS)) {
      expect(readme).toContain(fallback ? `| \`${name}\` | \`${fallback}\` |` : `| \`${name}\` | (unset) |`);
    }
  });

  it('names the two commands a newcomer runs', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });
});
