// The pure rules a workflow lives by: its DAG, `$from` references, retries and final status.
import { findCycle, validateWorkflow, type StepDefinition } from '../../src/domain/dag';
import { WorkflowStatus } from '../../src/domain/enums';
import { DomainError } from '../../src/domain/errors';
import { findRefs, parseRef, resolveRefs } from '../../src/domain/refs';
import { finalWorkflowStatus, retryDelayMs } from '../../src/domain/workflow';

const LIMITS = { maxSteps: 100, maxEdges: 1000, maxJsonBytes: 10_000 };
const step = (key: string, extra: Partial<StepDefinition> = {}): StepDefinition => ({ key, capability: 'cap', ...extra });
const refusal = (steps: StepDefinition[]) => {
  try {
    validateWorkflow({ name: 'w', steps }, LIMITS);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return (e as DomainError).message;
  }
  throw new Error('expected a refusal');
};

describe('the DAG', () => {
  it('finds a cycle and names it in order', () => {
    expect(findCycle([{ key: 'a', dependsOn: ['c'] }, { key: 'b', dependsOn: ['a'] }, { key: 'c', dependsOn: ['b'] }])).toEqual(['a', 'c', 'b', 'a']);
    expect(findCycle([{ key: 'a', dependsOn: [] }, { key: 'b', dependsOn: ['a'] }])).toBeNull();
  });

  it('refuses duplicate keys, unknown or self dependencies, cycles, and empty workflows', () => {
    expect(refusal([step('a'), step('a')])).toBe('step key a is used twice');
    expect(refusal([step('a', { dependsOn: ['nope'] })])).toBe('step a depends on unknown step "nope"');
    expect(refusal([step('a', { dependsOn: ['a'] })])).toBe('step a depends on itself');
    expect(refusal([step('a', { dependsOn: ['b'] }), step('b', { dependsOn: ['a'] })])).toBe('steps form a cycle: a -> b -> a');
    expect(refusal([])).toMatch(/at least one step/);
  });

  it('refuses more steps or dependsOn entries than the limits allow', () => {
    expect(refusal(Array.from({ length: 101 }, (_, i) => step(`s${i}`)))).toMatch(/100/);
    const roots = Array.from({ length: 40 }, (_, i) => step(`r${i}`));
    const wide = Array.from({ length: 26 }, (_, i) => step(`w${i}`, { dependsOn: roots.map((r) => r.key) }));
    expect(refusal([...roots, ...wide])).toMatch(/1000/);
  });

  it('fills in defaults and lists what each step reads', () => {
    const { steps } = validateWorkflow(
      { name: ' w ', steps: [step('a'), step('b', { dependsOn: ['a'], input: { x: { $from: 'steps.a.output.v' } } })] },
      LIMITS,
    );
    expect(steps[0]).toMatchObject({ key: 'a', maxAttempts: 1, retryBackoffMs: expect.any(Number), priority: 0, continueOnFailure: false, hasRefs: false });
    expect(steps[1]).toMatchObject({ refersTo: ['a'], hasRefs: true });
  });
});

describe('$from references', () => {
  it('parses workflow input and step output references, and refuses anything else', () => {
    expect(parseRef('workflow.input.a.b', 's')).toEqual({ kind: 'workflow', path: ['a', 'b'] });
    expect(parseRef('steps.k.output', 's')).toEqual({ kind: 'step', key: 'k', path: [] });
    for (const bad of ['workflow.output.a', 'steps.k', 'steps..output', 'env.HOME', '']) expect(() => parseRef(bad, 's')).toThrow(DomainError);
  });

  it('finds references at any depth, and only objects whose one key is $from', () => {
    const value = { a: [{ $from: 'workflow.input.x' }], b: { $from: 'steps.k.output.y', other: 1 }, c: { d: { $from: 'steps.j.output' } } };
    expect(findRefs(value, 's').map((r) => (r.kind === 'step' ? r.key : 'workflow'))).toEqual(['workflow', 'j']);
  });

  it('resolves to the value pointed at, array indexes included, and null where the path leads nowhere', () => {
    const sources = { workflowInput: { who: 'world', list: [10, 20] }, outputs: { k: { text: 'hi', nested: { n: 1 } } } };
    expect(
      resolveRefs(
        { a: { $from: 'workflow.input.who' }, b: { $from: 'workflow.input.list.1' }, c: [{ $from: 'steps.k.output.nested' }], d: { $from: 'steps.k.output.missing' }, e: 'plain' },
        sources,
      ),
    ).toEqual({ a: 'world', b: 20, c: [{ n: 1 }], d: null, e: 'plain' });
    expect(resolveRefs({ $from: 'steps.gone.output' }, sources)).toBeNull();
    // Inherited properties are not paths: nothing leaks from Object.prototype.
    expect(resolveRefs({ $from: 'workflow.input.constructor' }, sources)).toBeNull();
  });
});

describe('retries and outcomes', () => {
  it('backs off exponentially from retryBackoffMs, capped at a day', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(1000, n))).toEqual([1000, 2000, 4000, 8000]);
    expect(retryDelayMs(0, 5)).toBe(0);
    expect(retryDelayMs(3_600_000, 30)).toBe(24 * 3_600_000);
  });

  it('ends a workflow FAILED when a required step failed, PARTIAL when any was partial, else COMPLETED', () => {
    expect(finalWorkflowStatus({ failedRequired: 1, partial: 3 })).toBe(WorkflowStatus.FAILED);
    expect(finalWorkflowStatus({ failedRequired: 0, partial: 1 })).toBe(WorkflowStatus.PARTIAL);
    expect(finalWorkflowStatus({ failedRequired: 0, partial: 0 })).toBe(WorkflowStatus.COMPLETED);
  });
});
