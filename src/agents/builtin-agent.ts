// What a built-in agent is: a capability and an async handler that runs inside the server.
import type { ErrorSeverity } from '../domain/enums';
import { ErrorType } from '../domain/enums';

export interface BuiltinTaskContext {
  task: { id: string; key: string; attempt: number; workflowId: string | null };
  /** Reports progress (0..1) with an optional message; also extends the lease. */
  progress(fraction: number, message?: string): Promise<void>;
  /** Fires when the lease is lost (task cancelled or expired) or the server stops. */
  signal: AbortSignal;
}

export interface BuiltinAgent {
  /** The capability it serves; also its agent name. */
  capability: string;
  description: string;
  run(input: unknown, ctx: BuiltinTaskContext): Promise<unknown>;
}

/** A classified failure: becomes failTask with this ErrorRecord. Any other thrown error is AGENT_FAILURE. */
export class TaskError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
    readonly options: { retryable?: boolean; severity?: ErrorSeverity; context?: unknown } = {},
  ) {
    super(message);
    this.name = 'TaskError';
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function abortError(): TaskError {
  return new TaskError(ErrorType.AGENT_LOST, 'the task was cancelled or its lease was lost', { retryable: true });
}
