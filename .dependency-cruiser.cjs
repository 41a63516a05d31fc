// The layer map of docs/design.md, enforced: imports point downward only. `npm run lint` runs it,
// so an arrow that runs up or sideways fails CI.
const layer = (name) => `^src/${name}/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'domain holds plain types and pure rules: it imports nothing of ours outside domain',
      severity: 'error',
      from: { path: layer('domain') },
      to: { path: '^src/', pathNot: layer('domain') },
    },
    {
      name: 'support-stands-alone',
      comment: 'support (logger, clock, ids) is what every layer may use: it uses none of them',
      severity: 'error',
      from: { path: layer('support') },
      to: { path: '^src/', pathNot: layer('support') },
    },
    {
      name: 'storage-and-events-below-engine',
      comment: 'storage and events serve the engine through interfaces; they never reach up into it',
      severity: 'error',
      from: { path: '^src/(storage|events)/' },
      to: { path: '^src/(engine|graphql|server|cli|agents|sdk|dashboard)/' },
    },
    {
      name: 'engine-knows-no-api',
      comment: 'the engine never imports the GraphQL layer, the server, the CLI or type-graphql',
      severity: 'error',
      from: { path: layer('engine') },
      to: { path: ['^src/(graphql|server|cli|agents|sdk|dashboard)/', 'node_modules/type-graphql/'] },
    },
    {
      name: 'graphql-through-the-engine',
      comment: 'resolvers reach storage and events only through the engine, and never the server',
      severity: 'error',
      from: { path: layer('graphql') },
      to: { path: '^src/(storage|events|server|cli|agents|sdk|dashboard)/' },
    },
    {
      name: 'agents-through-the-engine',
      comment: 'built-in agents use the engine as remote agents use the API: no storage, events or GraphQL',
      severity: 'error',
      from: { path: layer('agents') },
      to: { path: '^src/(storage|events|graphql|server|cli|dashboard)/' },
    },
    {
      name: 'sdk-is-self-contained',
      comment: 'the SDK is installed by other projects: it imports nothing outside src/sdk',
      severity: 'error',
      from: { path: layer('sdk') },
      to: { path: '^src/', pathNot: layer('sdk') },
    },
    {
      name: 'cli-is-a-client',
      comment: 'the CLI talks to a server through the SDK; only `serve` loads the server (on demand)',
      severity: 'error',
      from: { path: layer('cli') },
      to: { path: '^src/(engine|storage|events|graphql|agents|domain)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^src/sdk/generated/' },
  },
};
