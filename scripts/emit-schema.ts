// `npm run schema`: writes schema/schema.graphql from the code (the checked-in copy is diffed by a test).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaSDL } from '../src/graphql/schema';

schemaSDL().then((sdl) => {
  const file = join(__dirname, '..', 'schema', 'schema.graphql');
  writeFileSync(file, sdl);
  process.stdout.write(`wrote ${file}\n`);
});
