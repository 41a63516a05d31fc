import { effectiveAgentStatus, normalizeRegistration } from '../../src/domain/agent';
import { cacheExpiry, checkCacheKey } from '../../src/domain/cache';
import { AgentStatus, ErrorSeverity, severitiesAtLeast, TaskStatus } from '../../src/domain/enums';
import { DomainError } from '../../src/domain/errors';
import { checkFirst, decodeCursor, encodeCursor, toPage } from '../../src/domain/pagination';
import {
  FINISHED_TASK_STATUSES,
  isFinished,
  RETRIED_TASK_STATUSES,
  UNFINISHED_TASK_STATUSES,
  workflowProgress,
} from '../../src/domain/workflow';

const refused = (fn: () => unknown, field: string) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).details?.field).toBe(field);
    return;
  }
  throw new Error('expected a refusal');
};

describe('agent registration rules', () => {
  it('trims the name and de-duplicates capabilities', () => {
    expect(normalizeRegistration({ name: ' w ', capabilities: ['a', ' a', 'b'] })).toEqual({
      name: 'w',
      capabilities: ['a', 'b'],
      concurrency: 1,
      metadata: null,
    });
  });

  it('refuses empty names, empty capability lists and concurrency below 1', () => {
    refused(() => normalizeRegistration({ name: '  ', capabilities: ['a'] }), 'name');
    refused(() => normalizeRegistration({ name: 'w', capabilities: [] }), 'capabilities');
    refused(() => normalizeRegistration({ name: 'w', capabilities: [''] }), 'capabilities');
    refused(() => normalizeRegistration({ name: 'w', capabilities: ['a'], concurrency: 0 }), 'concurrency');
  });

  it('shows an ONLINE agent with every slot taken as BUSY', () => {
    expect(effectiveAgentStatus({ status: AgentStatus.ONLINE, runningTasks: 2, concurrency: 2 })).toBe(AgentStatus.BUSY);
    expect(effectiveAgentStatus({ status: AgentStatus.ONLINE, runningTasks: 1, concurrency: 2 })).toBe(AgentStatus.ONLINE);
    expect(effectiveAgentStatus({ status: AgentStatus.DRAINING, runningTasks: 2, concurrency: 2 })).toBe(AgentStatus.DRAINING);
  });
});

describe('pagination', () => {
  it('round-trips opaque cursors and refuses anything else', () => {
    const c = encodeCursor('42');
    expect(c).not.toContain('42');
    expect(decodeCursor(c)).toBe('42');
    expect(decodeCursor(null)).toBeNull();
    for (const bad of ['', 'garbage', '42', Buffer.from('c1:abc').toString('base64url'), 'x'.repeat(100)]) {
      refused(() => decodeCursor(bad), 'after');
    }
  });

  it('accepts first from 1 to 500', () => {
    expect(checkFirst(null, 50)).toBe(50);
    expect(checkFirst(500, 50)).toBe(500);
    refused(() => checkFirst(0, 50), 'first');
    refused(() => checkFirst(501, 50), 'first');
  });

  it('uses the extra row to tell there is a next page', () => {
    const rows = [{ seq: '1' }, { seq: '2' }, { seq: '3' }];
    expect(toPage(rows, 2).pageInfo).toEqual({ hasNextPage: true, endCursor: encodeCursor('2') });
    expect(toPage(rows, 3).pageInfo).toEqual({ hasNextPage: false, endCursor: encodeCursor('3') });
    expect(toPage([], 3).pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });
});

describe('cache rules', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  it('expires after ttlSeconds; none or 0 keeps the entry', () => {
    expect(cacheExpiry(60, now)?.toISOString()).toBe('2026-01-01T00:01:00.000Z');
    expect(cacheExpiry(null, now)).toBeNull();
    expect(cacheExpiry(0, now)).toBeNull();
    refused(() => cacheExpiry(-1, now), 'ttlSeconds');
  });

  it('refuses empty keys', () => {
    refused(() => checkCacheKey(''), 'key');
  });
});

describe('enums and progress', () => {
  it('lists severities at or above a minimum', () => {
    expect(severitiesAtLeast(ErrorSeverity.HIGH)).toEqual(['HIGH', 'CRITICAL']);
    expect(severitiesAtLeast(ErrorSeverity.LOW)).toHaveLength(4);
  });

  it('computes workflow progress from counts', () => {
    expect(workflowProgress({ COMPLETED: 2, RUNNING: 1, SKIPPED: 1 })).toMatchObject({ total: 4, completed: 2, fraction: 0.75 });
    expect(workflowProgress({}).fraction).toBe(0);
  });

  it('splits task statuses into unfinished and finished, and retries the finished ones that did not complete', () => {
    expect(UNFINISHED_TASK_STATUSES).toEqual(['PENDING', 'QUEUED', 'RUNNING']);
    expect([...UNFINISHED_TASK_STATUSES, ...FINISHED_TASK_STATUSES].sort()).toEqual(Object.values(TaskStatus).sort());
    expect(UNFINISHED_TASK_STATUSES.some(isFinished)).toBe(false);
    expect(RETRIED_TASK_STATUSES).toEqual(['FAILED', 'CANCELLED', 'SKIPPED']);
  });
});
