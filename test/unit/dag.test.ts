import { type StepDefinition, validateWorkflow } from '../../src/domain/dag';
import { DomainError } from '../../src/domain/errors';

const LIMITS = { maxSteps: 100_000, maxEdges: 1_000_000, maxJsonBytes: 1 << 20 };
const validate = (steps: StepDefinition[]) => validateWorkflow({ name: 'w', steps }, LIMITS);
const from = (key: string) => ({ $from: `steps.${key}.output` });

function refusal(steps: StepDefinition[]): string {
  try {
    validate(steps);
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('$from and the dependency graph', () => {
  it('lets a step read any step upstream of it, however far, and nothing else', () => {
    // a -> b -> c, a -> d; e alone.
    const steps: StepDefinition[] = [
      { key: 'a', capability: 'x' },
      { key: 'b', capability: 'x', dependsOn: ['a'], input: from('a') },
      { key: 'c', capability: 'x', dependsOn: ['b'], input: [from('a'), from('b')] },
      { key: 'd', capability: 'x', dependsOn: ['a'] },
      { key: 'e', capability: 'x' },
    ];
    expect(validate(steps).steps.map((s) => s.refersTo)).toEqual([[], ['a'], ['a', 'b'], [], []]);
    const reading = (key: string, target: string) => steps.map((s) => (s.key === key ? { ...s, input: from(target) } : s));
    expect(refusal(reading('c', 'd'))).toBe('step c: $from refers to d, which is not upstream of it (add it to dependsOn)');
    expect(refusal(reading('d', 'b'))).toMatch(/^step d: \$from refers to b, which is not upstream/);
    expect(refusal(reading('a', 'a'))).toMatch(/^step a: \$from refers to a, which is not upstream/);
    expect(refusal(reading('e', 'c'))).toMatch(/^step e: \$from refers to c, which is not upstream/);
    expect(refusal(reading('b', 'zz'))).toBe('step b: $from refers to unknown step "zz"');
  });

  it('checks more distinct targets than fit in one machine word', () => {
    // 100 roots; step i reads roots 0..99 but depends on all except root (i % 100) for i = 150.
    const roots: StepDefinition[] = Array.from({ length: 100 }, (_, i) => ({ key: `r${i}`, capability: 'x' }));
    const reader = (skip: number | null): StepDefinition => ({
      key: 'reader',
      capability: 'x',
      dependsOn: roots.filter((_, i) => i !== skip).map((r) => r.key),
      input: roots.map((r) => from(r.key)),
    });
    expect(validate([...roots, reader(null)]).steps[100]?.refersTo).toHaveLength(100);
    for (const skip of [0, 31, 32, 63, 64, 99]) {
      expect(refusal([...roots, reader(skip)])).toMatch(new RegExp(`refers to r${skip}, which is not upstream`));
    }
  });

  it('checks references far upstream of a long chain', () => {
    // Each of 10,000 chained steps reads the first (walking up from every reference took 15 s;
    // the single pass takes a fraction of a second: speed is not asserted here).
    const steps = Array.from({ length: 10_000 }, (_, i) => ({
      key: `s${i}`,
      capability: 'x',
      dependsOn: i ? [`s${i - 1}`] : [],
      input: i ? from('s0') : null,
    }));
    expect(validate(steps).steps).toHaveLength(10_000);
  });
});
