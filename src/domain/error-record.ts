// ErrorRecord: one classified failure. Every piece of code that records an error builds it with
// ErrorRecordBuilder, so type, severity, retryability and the one-line summary stay consistent.
import { ErrorSeverity, ErrorType, SEVERITY_ORDER } from './enums';
import { invalid } from './errors';

export interface ErrorRecord {
  id: string;
  type: ErrorType;
  severity: ErrorSeverity;
  message: string;
  context: unknown;
  retryable: boolean;
  workflowId: string | null;
  taskId: string | null;
  agentId: string | null;
  occurredAt: Date;
}

/** What a type usually means when the reporter does not say: severity and whether a retry may help. */
export const ERROR_TYPE_DEFAULTS: Readonly<Record<ErrorType, { severity: ErrorSeverity; retryable: boolean }>> = {
  [ErrorType.VALIDATION]: { severity: ErrorSeverity.MEDIUM, retryable: false },
  [ErrorType.TIMEOUT]: { severity: ErrorSeverity.HIGH, retryable: true },
  [ErrorType.AGENT_UNAVAILABLE]: { severity: ErrorSeverity.HIGH, retryable: true },
  [ErrorType.AGENT_FAILURE]: { severity: ErrorSeverity.HIGH, retryable: true },
  [ErrorType.AGENT_LOST]: { severity: ErrorSeverity.HIGH, retryable: true },
  [ErrorType.DEPENDENCY_FAILED]: { severity: ErrorSeverity.MEDIUM, retryable: false },
  [ErrorType.INVALID_OUTPUT]: { severity: ErrorSeverity.MEDIUM, retryable: false },
  [ErrorType.RATE_LIMITED]: { severity: ErrorSeverity.LOW, retryable: true },
  [ErrorType.RESOURCE_EXHAUSTED]: { severity: ErrorSeverity.HIGH, retryable: true },
  [ErrorType.NETWORK]: { severity: ErrorSeverity.MEDIUM, retryable: true },
  [ErrorType.AUTHENTICATION]: { severity: ErrorSeverity.HIGH, retryable: false },
  [ErrorType.AUTHORIZATION]: { severity: ErrorSeverity.HIGH, retryable: false },
  [ErrorType.NOT_FOUND]: { severity: ErrorSeverity.LOW, retryable: false },
  [ErrorType.CONFLICT]: { severity: ErrorSeverity.LOW, retryable: false },
  [ErrorType.INTERNAL]: { severity: ErrorSeverity.CRITICAL, retryable: false },
};

export const ERROR_MESSAGE_MAX = 4000;

/** One line: severity, type, message and where it happened. */
export function summarizeError(
  e: Pick<ErrorRecord, 'severity' | 'type' | 'message' | 'workflowId' | 'taskId' | 'agentId'>,
): string {
  const where = [
    e.workflowId && `workflow ${e.workflowId}`,
    e.taskId && `task ${e.taskId}`,
    e.agentId && `agent ${e.agentId}`,
  ].filter(Boolean);
  const firstLine = e.message.split(/\r?\n/, 1)[0] ?? '';
  const text = firstLine.length > 200 ? `${firstLine.slice(0, 199)}…` : firstLine;
  return `[${e.severity}] ${e.type}: ${text}${where.length ? ` (${where.join(', ')})` : ''}`;
}

/**
 * Fluent builder: `ErrorRecordBuilder.of(ErrorType.TIMEOUT, 'took too long').task(id).build(newId(), now)`.
 * Severity and retryable default from the type; the message is required and trimmed.
 */
export class ErrorRecordBuilder {
  private severityValue: ErrorSeverity;
  private retryableValue: boolean;
  private contextValue: unknown = null;
  private workflowIdValue: string | null = null;
  private taskIdValue: string | null = null;
  private agentIdValue: string | null = null;

  private constructor(
    private readonly type: ErrorType,
    private readonly message: string,
  ) {
    const defaults = ERROR_TYPE_DEFAULTS[type];
    if (!defaults) throw invalid(`unknown error type ${JSON.stringify(type)}`);
    this.severityValue = defaults.severity;
    this.retryableValue = defaults.retryable;
  }

  static of(type: ErrorType, message: string): ErrorRecordBuilder {
    return new ErrorRecordBuilder(type, message);
  }

  /**
   * An error someone reported (recordError, failTask): their severity and context, and not
   * retryable unless they say so (the API's default), whatever the type would suggest.
   */
  static reported(r: {
    type: ErrorType;
    message: string;
    severity?: ErrorSeverity | null;
    retryable?: boolean | null;
    context?: unknown;
  }): ErrorRecordBuilder {
    return new ErrorRecordBuilder(r.type, r.message).severity(r.severity).retryable(r.retryable ?? false).context(r.context);
  }

  severity(severity: ErrorSeverity | null | undefined): this {
    if (severity != null) {
      if (!SEVERITY_ORDER.includes(severity)) throw invalid(`unknown severity ${JSON.stringify(severity)}`);
      this.severityValue = severity;
    }
    return this;
  }

  retryable(retryable: boolean | null | undefined): this {
    if (retryable != null) this.retryableValue = retryable;
    return this;
  }

  context(context: unknown): this {
    this.contextValue = context ?? null;
    return this;
  }

  workflow(id: string | null | undefined): this {
    this.workflowIdValue = id ?? null;
    return this;
  }

  task(id: string | null | undefined): this {
    this.taskIdValue = id ?? null;
    return this;
  }

  agent(id: string | null | undefined): this {
    this.agentIdValue = id ?? null;
    return this;
  }

  /** The record, under an id and at a time the caller gives (the domain makes neither). */
  build(id: string, occurredAt: Date): ErrorRecord {
    const message = this.message.trim();
    if (!message) throw invalid('error message must not be empty', { field: 'message' });
    if (message.length > ERROR_MESSAGE_MAX) {
      throw invalid(`error message is longer than ${ERROR_MESSAGE_MAX} characters`, { field: 'message' });
    }
    return {
      id,
      type: this.type,
      severity: this.severityValue,
      message,
      context: this.contextValue,
      retryable: this.retryableValue,
      workflowId: this.workflowIdValue,
      taskId: this.taskIdValue,
      agentId: this.agentIdValue,
      occurredAt,
    };
  }
}

export interface ErrorSummary {
  total: number;
  bySeverity: { severity: ErrorSeverity; count: number }[];
  byType: { type: ErrorType; count: number }[];
  since: Date | null;
}

/**
 * Completes grouped counts into a summary that lists every severity (most severe first) and the
 * types that occurred (most frequent first), so clients need not guess at missing keys.
 */
export function buildErrorSummary(
  counts: { type: ErrorType; severity: ErrorSeverity; count: number }[],
  since: Date | null,
): ErrorSummary {
  const bySeverity = new Map<ErrorSeverity, number>(SEVERITY_ORDER.map((s) => [s, 0]));
  const byType = new Map<ErrorType, number>();
  let total = 0;
  for (const c of counts) {
    total += c.count;
    bySeverity.set(c.severity, (bySeverity.get(c.severity) ?? 0) + c.count);
    byType.set(c.type, (byType.get(c.type) ?? 0) + c.count);
  }
  return {
    total,
    bySeverity: [...SEVERITY_ORDER].reverse().map((severity) => ({ severity, count: bySeverity.get(severity) ?? 0 })),
    byType: [...byType.entries()]
      .map(([type, count]) => ({ type, count }))
      .sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
    since,
  };
}
