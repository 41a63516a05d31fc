// What a built-in agent is: a capability and a handler that runs inside the server, on the same
// agent runtime (and with the same TaskContext and TaskError) as an SDK agent's handlers.
import type { Handler } from '../sdk/runtime';

export interface BuiltinAgent {
  /** The capability it serves; also its agent name. */
  capability: string;
  description: string;
  handler: Handler;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
