import { ErrorSeverity, ErrorType } from '../../src/domain/enums';
import { DomainError } from '../../src/domain/errors';
import { buildErrorSummary, ERROR_TYPE_DEFAULTS, ErrorRecordBuilder, summarizeError } from '../../src/domain/error-record';

describe('ErrorRecordBuilder', () => {
  it('defaults severity and retryability from the type', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    const e = ErrorRecordBuilder.of(ErrorType.TIMEOUT, 'took too long').build('e-id', at);
    expect(e.severity).toBe(ErrorSeverity.HIGH);
    expect(e.retryable).toBe(true);
    // The id and the time are the caller's: the domain makes neither.
    expect(e.id).toBe('e-id');
    expect(e.occurredAt).toBe(at);
  });

  it('has defaults for all fifteen types', () => {
    expect(Object.keys(ERROR_TYPE_DEFAULTS).sort()).toEqual(Object.values(ErrorType).sort());
    expect(Object.values(ErrorType)).toHaveLength(15);
  });

  it('takes explicit severity, retryability, context and references', () => {
    const at = new Date('2026-01-02T03:04:05Z');
    const e = ErrorRecordBuilder.of(ErrorType.NETWORK, '  connection reset  ')
      .severity(ErrorSeverity.CRITICAL)
      .retryable(false)
      .context({ host: 'db' })
      .workflow('w1')
      .task('t1')
      .agent('a1')
      .build('e-id', at);
    expect(e).toMatchObject({
      type: ErrorType.NETWORK,
      severity: ErrorSeverity.CRITICAL,
      retryable: false,
      message: 'connection reset',
      context: { host: 'db' },
      workflowId: 'w1',
      taskId: 't1',
      agentId: 'a1',
      occurredAt: at,
    });
  });

  it('refuses an empty message with a VALIDATION error', () => {
    expect(() => ErrorRecordBuilder.of(ErrorType.INTERNAL, '   ').build('e-id', new Date())).toThrow(DomainError);
    try {
      ErrorRecordBuilder.of(ErrorType.INTERNAL, '').build('e-id', new Date());
    } catch (e) {
      expect((e as DomainError).type).toBe(ErrorType.VALIDATION);
    }
  });
});

describe('summarizeError', () => {
  it('says severity, type, message and where in one line', () => {
    const e = ErrorRecordBuilder.of(ErrorType.AGENT_LOST, 'no heartbeat\nfor 30 s').task('t1').agent('a1').build('e-id', new Date());
    expect(summarizeError(e)).toBe('[HIGH] AGENT_LOST: no heartbeat (task t1, agent a1)');
  });

  it('shortens very long messages', () => {
    const e = ErrorRecordBuilder.of(ErrorType.INTERNAL, 'x'.repeat(500)).build('e-id', new Date());
    expect(summarizeError(e).length).toBeLessThan(230);
  });
});

describe('buildErrorSummary', () => {
  it('totals by severity (every severity, most severe first) and by type (most frequent first)', () => {
    const since = new Date();
    const s = buildErrorSummary(
      [
        { type: ErrorType.TIMEOUT, severity: ErrorSeverity.HIGH, count: 2 },
        { type: ErrorType.TIMEOUT, severity: ErrorSeverity.LOW, count: 1 },
        { type: ErrorType.NETWORK, severity: ErrorSeverity.LOW, count: 4 },
      ],
      since,
    );
    expect(s.total).toBe(7);
    expect(s.since).toBe(since);
    expect(s.bySeverity).toEqual([
      { severity: 'CRITICAL', count: 0 },
      { severity: 'HIGH', count: 2 },
      { severity: 'MEDIUM', count: 0 },
      { severity: 'LOW', count: 5 },
    ]);
    expect(s.byType).toEqual([
      { type: 'NETWORK', count: 4 },
      { type: 'TIMEOUT', count: 3 },
    ]);
  });
});
