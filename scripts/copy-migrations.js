// Build step: tsc compiles TypeScript only, so the SQL migrations are copied beside the compiled store.
const { cpSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
cpSync(join(root, 'src/storage/migrations'), join(root, 'dist/src/storage/migrations'), { recursive: true });
