// builtin.echo: returns its input as its output.
import type { BuiltinAgent } from './builtin-agent';

export const echoAgent: BuiltinAgent = {
  capability: 'builtin.echo',
  description: 'output = input',
  // Said in full, so that an input shaped like { output, outcome } is echoed, not read as a PARTIAL result.
  handler: async (input: unknown) => ({ output: input ?? null, outcome: 'SUCCESS' }),
};
