// Errors an agent's handler throws to say how a task failed. The SDK turns them into failTask
// with the matching ErrorRecord; any other thrown error is AGENT_FAILURE and retryable.
import type { ErrorSeverity, ErrorType } from './generated/graphql';

export interface TaskErrorOptions {
  severity?: ErrorSeverity;
  /** Whether another attempt may succeed (the task is retried while attempts remain). */
  retryable?: boolean;
  /** Any JSON that helps whoever reads the error. */
  context?: unknown;
}

export class TaskError extends Error {
  readonly severity: ErrorSeverity | undefined;
  readonly retryable: boolean;
  readonly context: unknown;

  constructor(
    readonly type: ErrorType,
    message: string,
    options: TaskErrorOptions = {},
  ) {
    super(message);
    this.name = 'TaskError';
    this.severity = options.severity;
    this.retryable = options.retryable ?? false;
    this.context = options.context;
  }
}

/** A failure worth trying again (a flaky dependency, a timeout): NETWORK unless told otherwise. */
export class RetryableError extends TaskError {
  constructor(message: string, options: Omit<TaskErrorOptions, 'retryable'> & { type?: ErrorType } = {}) {
    super(options.type ?? 'NETWORK', message, { ...options, retryable: true });
    this.name = 'RetryableError';
  }
}

/** A failure another attempt cannot fix (bad input, refused output): VALIDATION unless told otherwise. */
export class FatalError extends TaskError {
  constructor(message: string, options: Omit<TaskErrorOptions, 'retryable'> & { type?: ErrorType } = {}) {
    super(options.type ?? 'VALIDATION', message, { ...options, retryable: false });
    this.name = 'FatalError';
  }
}

/** An error the server answered with, carrying its `extensions.code` (BAD_USER_INPUT, NOT_FOUND, CONFLICT …). */
export class GraphQLRequestError extends Error {
  constructor(
    message: string,
    readonly errors: { message: string; extensions?: { code?: string } & Record<string, unknown> }[],
    readonly status: number,
  ) {
    super(message);
    this.name = 'GraphQLRequestError';
  }

  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

/** True for failures of the transport (server down, connection reset), not answers from the server. */
export function isTransportError(e: unknown): boolean {
  return !(e instanceof GraphQLRequestError) || e.status >= 500 || e.status === 0;
}
