/** @type {import('jest').Config} */
const swc = {
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  setupFiles: ['reflect-metadata'],
  // DATABASE_URL / REDIS_URL set but unreachable fails the run here, instead of tests skipping.
  globalSetup: '<rootDir>/test/helpers/backends-reachable.ts',
  testTimeout: 60000,
  // Integration tests start servers with their own PGlite; two at a time suits a 2-core machine.
  maxWorkers: 2,
};
