import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, findBreakingChanges } from 'graphql';
import { schemaSDL } from '../../src/graphql/schema';

const root = join(__dirname, '..', '..');

describe('schema/schema.graphql', () => {
  it('is what the code emits (run `npm run schema` after changing the API)', async () => {
    const checkedIn = readFileSync(join(root, 'schema', 'schema.graphql'), 'utf8');
    expect(await schemaSDL()).toBe(checkedIn);
  });

  it('keeps every promise of the API contract', async () => {
    let contract: string;
    try {
      contract = readFileSync(join(root, '..', 'shared', 'api', 'contract.graphql'), 'utf8');
    } catch {
      // The contract lives beside the project in the team's checkout; CI runs check-contract too.
      return;
    }
    const breaks = findBreakingChanges(buildSchema(contract), buildSchema(await schemaSDL()));
    expect(breaks).toEqual([]);
  });
});
