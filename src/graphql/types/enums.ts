// Registers the domain's enums with GraphQL under the contract's names; no second copy of any enum.
import { registerEnumType } from 'type-graphql';
import {
  AgentKind,
  AgentStatus,
  ErrorSeverity,
  ErrorType,
  HealthStatus,
  HistoryEventType,
  TaskOutcome,
  TaskStatus,
  WorkflowStatus,
} from '../../domain/enums';

registerEnumType(TaskStatus, {
  name: 'TaskStatus',
  description: 'Lifecycle of one task. PENDING waits on dependencies; QUEUED is ready and waits for an agent.',
});
registerEnumType(TaskOutcome, {
  name: 'TaskOutcome',
  description: 'How a finished task went. Quality counts SUCCESS as 1, PARTIAL as 0.5, FAILURE as 0.',
});
registerEnumType(WorkflowStatus, {
  name: 'WorkflowStatus',
  description: 'PARTIAL: finished, but some task failed under continueOnFailure or ended PARTIAL.',
});
registerEnumType(AgentKind, {
  name: 'AgentKind',
  valuesConfig: {
    BUILTIN: { description: 'An agent that runs inside the orchestrator process.' },
    REMOTE: { description: 'An agent in another process that connects over GraphQL (HTTP or WebSocket).' },
  },
});
registerEnumType(AgentStatus, { name: 'AgentStatus' });
registerEnumType(ErrorType, { name: 'ErrorType', description: 'The fifteen kinds of error the orchestrator classifies.' });
registerEnumType(ErrorSeverity, { name: 'ErrorSeverity' });
registerEnumType(HealthStatus, {
  name: 'HealthStatus',
  description: 'HEALTHY at score >= 80, DEGRADED at >= 50, CRITICAL below (defaults; configurable).',
});
registerEnumType(HistoryEventType, { name: 'HistoryEventType' });

export { AgentKind, AgentStatus, ErrorSeverity, ErrorType, HealthStatus, HistoryEventType, TaskOutcome, TaskStatus, WorkflowStatus };
