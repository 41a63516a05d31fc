// A remote agent in a few lines. With the server running (`npm start`), run: node examples/agent.mjs
// then: npx orchestrator run examples/text.workflow.json --watch
import { createAgent, FatalError } from 'orchestrator/sdk';

const agent = createAgent({
  url: process.env.ORCHESTRATOR_URL ?? 'http://127.0.0.1:4000/graphql',
  name: `text-agent-${process.pid}`,
  concurrency: 4,
  handlers: {
    'text.upper': async ({ text }) => ({ text: String(text).toUpperCase() }),
    'text.words': async ({ text }, ctx) => {
      if (typeof text !== 'string') throw new FatalError('input.text must be a string');
      const words = text.split(/\s+/).filter(Boolean);
      await ctx.progress(0.5, `${words.length} words`);
      return { words: words.length };
    },
  },
});

await agent.start();
console.log(`agent ${agent.id} ready`);
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => agent.stop().then(() => process.exit(0)));
