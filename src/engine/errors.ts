// ErrorRecords: recording classified failures, listing them, and summarising them.
import { ErrorSeverity, ErrorType, HistoryEventType, severitiesAtLeast } from '../domain/enums';
import { notFound } from '../domain/errors';
import { newId } from '../support/ids';
import { buildErrorSummary, type ErrorRecord, ErrorRecordBuilder, type ErrorSummary } from '../domain/error-record';
import { checkFirst, decodeCursor, type Page, toPage, withTotalCount } from '../domain/pagination';
import type { ErrorFilter, Store, StoredError } from '../storage/store';
import type { EngineContext } from './context';
import { checkJsonSize } from './json-limit';
import type { Changes } from './writer';

export interface ErrorRecordInput {
  type: ErrorType;
  severity: ErrorSeverity;
  message: string;
  context?: unknown;
  retryable?: boolean | null;
  workflowId?: string | null;
  taskId?: string | null;
  agentId?: string | null;
}

export interface ErrorQuery extends Omit<ErrorFilter, 'severities'> {
  minSeverity?: ErrorSeverity | null;
}

export class ErrorService {
  constructor(private readonly ctx: EngineContext) {}

  /** Records an error reported through the API; the ids it names must exist. */
  async record(input: ErrorRecordInput): Promise<ErrorRecord> {
    checkJsonSize(input.context, this.ctx.options.maxJsonBytes, 'context');
    const error = ErrorRecordBuilder.reported(input)
      .workflow(input.workflowId)
      .task(input.taskId)
      .agent(input.agentId)
      .build(newId(), this.ctx.now());
    return this.ctx.writer.write(async (tx, changes) => {
      await this.checkRefs(tx, error);
      return this.insert(tx, changes, error);
    });
  }

  /** Appends a built error inside the caller's transaction, with its history entry and event. */
  async insert(tx: Store, changes: Changes, error: ErrorRecord): Promise<StoredError> {
    const stored = await tx.insertError(error);
    changes.record({
      type: HistoryEventType.ERROR_RECORDED,
      workflowId: error.workflowId,
      taskId: error.taskId,
      agentId: error.agentId,
      data: { errorId: error.id, type: error.type, severity: error.severity },
    });
    changes.emit({ topic: 'error', error });
    return stored;
  }

  private async checkRefs(tx: Store, e: ErrorRecord): Promise<void> {
    if (e.agentId && (await tx.getAgents([e.agentId])).length === 0) throw notFound('agent', e.agentId);
    if (e.workflowId && (await tx.getWorkflows([e.workflowId])).length === 0) throw notFound('workflow', e.workflowId);
    if (e.taskId && (await tx.getTasks([e.taskId])).length === 0) throw notFound('task', e.taskId);
  }

  async list(q: ErrorQuery, first: number | null | undefined, after: string | null | undefined) {
    const limit = checkFirst(first, 50);
    const filter = this.filter(q);
    const page: Page<StoredError> = toPage(
      await this.ctx.store.listErrors(filter, { limit: limit + 1, after: decodeCursor(after) }),
      limit,
    );
    return withTotalCount(page, () => this.ctx.store.countErrors(filter));
  }

  async summary(since: Date | null): Promise<ErrorSummary> {
    return buildErrorSummary(await this.ctx.store.errorCounts(since), since);
  }

  private filter(q: ErrorQuery): ErrorFilter {
    return { ...q, severities: q.minSeverity ? severitiesAtLeast(q.minSeverity) : null };
  }
}
