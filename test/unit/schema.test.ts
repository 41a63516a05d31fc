import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaSDL } from '../../src/graphql/schema';

const root = join(__dirname, '..', '..');

// Whether the emitted schema keeps the API contract is test/unit/contract.test.ts's job.
describe('schema/schema.graphql', () => {
  it('is what the code emits (run `npm run schema` after changing the API)', async () => {
    const checkedIn = readFileSync(join(root, 'schema', 'schema.graphql'), 'utf8');
    expect(await schemaSDL()).toBe(checkedIn);
  });
});
