// builtin.echo: returns its input as its output.
import type { BuiltinAgent } from './builtin-agent';

export const echoAgent: BuiltinAgent = {
  capability: 'builtin.echo',
  description: 'output = input',
  run: async (input) => input ?? null,
};
