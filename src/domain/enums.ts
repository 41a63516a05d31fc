// The vocabulary of the orchestrator: every status and kind the API speaks of, defined once.
// The GraphQL layer registers these same enums; storage keeps their string values.

export enum TaskStatus {
  PENDING = 'PENDING',
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
  SKIPPED = 'SKIPPED',
}

export enum TaskOutcome {
  SUCCESS = 'SUCCESS',
  PARTIAL = 'PARTIAL',
  FAILURE = 'FAILURE',
}

export enum WorkflowStatus {
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  PARTIAL = 'PARTIAL',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

export enum AgentKind {
  BUILTIN = 'BUILTIN',
  REMOTE = 'REMOTE',
}

export enum AgentStatus {
  ONLINE = 'ONLINE',
  BUSY = 'BUSY',
  DRAINING = 'DRAINING',
  OFFLINE = 'OFFLINE',
}

export enum ErrorType {
  VALIDATION = 'VALIDATION',
  TIMEOUT = 'TIMEOUT',
  AGENT_UNAVAILABLE = 'AGENT_UNAVAILABLE',
  AGENT_FAILURE = 'AGENT_FAILURE',
  AGENT_LOST = 'AGENT_LOST',
  DEPENDENCY_FAILED = 'DEPENDENCY_FAILED',
  INVALID_OUTPUT = 'INVALID_OUTPUT',
  RATE_LIMITED = 'RATE_LIMITED',
  RESOURCE_EXHAUSTED = 'RESOURCE_EXHAUSTED',
  NETWORK = 'NETWORK',
  AUTHENTICATION = 'AUTHENTICATION',
  AUTHORIZATION = 'AUTHORIZATION',
  NOT_FOUND = 'NOT_FOUND',
  CONFLICT = 'CONFLICT',
  INTERNAL = 'INTERNAL',
}

export enum ErrorSeverity {
  LOW = 'LOW',
  MEDIUM = 'MEDIUM',
  HIGH = 'HIGH',
  CRITICAL = 'CRITICAL',
}

export enum HealthStatus {
  HEALTHY = 'HEALTHY',
  DEGRADED = 'DEGRADED',
  CRITICAL = 'CRITICAL',
}

export enum HistoryEventType {
  AGENT_REGISTERED = 'AGENT_REGISTERED',
  AGENT_DEREGISTERED = 'AGENT_DEREGISTERED',
  AGENT_STATUS_CHANGED = 'AGENT_STATUS_CHANGED',
  WORKFLOW_STARTED = 'WORKFLOW_STARTED',
  WORKFLOW_FINISHED = 'WORKFLOW_FINISHED',
  WORKFLOW_CANCELLED = 'WORKFLOW_CANCELLED',
  TASK_QUEUED = 'TASK_QUEUED',
  TASK_STARTED = 'TASK_STARTED',
  TASK_PROGRESS = 'TASK_PROGRESS',
  TASK_RETRIED = 'TASK_RETRIED',
  TASK_FINISHED = 'TASK_FINISHED',
  ERROR_RECORDED = 'ERROR_RECORDED',
  HEALTH_CHANGED = 'HEALTH_CHANGED',
  CACHE_CLEARED = 'CACHE_CLEARED',
  ORCHESTRATOR_RESET = 'ORCHESTRATOR_RESET',
}

/** Severities from least to most severe; the index is the rank. */
export const SEVERITY_ORDER: readonly ErrorSeverity[] = [
  ErrorSeverity.LOW,
  ErrorSeverity.MEDIUM,
  ErrorSeverity.HIGH,
  ErrorSeverity.CRITICAL,
];

export function severityRank(severity: ErrorSeverity): number {
  return SEVERITY_ORDER.indexOf(severity);
}

/** The severities at or above `min`, least severe first. */
export function severitiesAtLeast(min: ErrorSeverity): ErrorSeverity[] {
  return SEVERITY_ORDER.slice(severityRank(min));
}
