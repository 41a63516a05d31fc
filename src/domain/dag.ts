// Workflow definitions: every rule a workflow must satisfy before anything is written.
import { invalid } from './errors';
import { findRefs } from './refs';

export interface StepDefinition {
  key: string;
  capability: string;
  name?: string | null;
  input?: unknown;
  dependsOn?: string[] | null;
  maxAttempts?: number | null;
  retryBackoffMs?: number | null;
  timeoutMs?: number | null;
  priority?: number | null;
  continueOnFailure?: boolean | null;
}

export interface WorkflowDefinition {
  name: string;
  input?: unknown;
  steps: StepDefinition[];
  idempotencyKey?: string | null;
}

export interface Step {
  key: string;
  capability: string;
  name: string;
  input: unknown;
  dependsOn: string[];
  maxAttempts: number;
  retryBackoffMs: number;
  timeoutMs: number | null;
  priority: number;
  continueOnFailure: boolean;
  /** Keys of the steps whose output this step's input refers to. */
  refersTo: string[];
  hasRefs: boolean;
}

export interface WorkflowLimits {
  maxSteps: number;
  /** Most dependsOn entries over all steps, as given (the edges written, and what validation walks). */
  maxEdges: number;
  maxJsonBytes: number;
}

export const STEP_KEY = /^[A-Za-z0-9_-]{1,100}$/;
export const NAME_MAX = 200;
export const MAX_ATTEMPTS_LIMIT = 100;
export const PRIORITY_LIMIT = 1_000_000;
const INT32_MAX = 2_147_483_647;

const jsonBytes = (v: unknown) => (v == null ? 0 : Buffer.byteLength(JSON.stringify(v) ?? '', 'utf8'));

function intIn(value: number | null | undefined, fallback: number, min: number, max: number, what: string, step: string): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw invalid(`step ${step}: ${what} must be an integer from ${min} to ${max}`, { step, field: what });
  }
  return n;
}

/** Finds a cycle in the dependency graph and returns its keys in order (first repeated at the end). */
export function findCycle(steps: { key: string; dependsOn: string[] }[]): string[] | null {
  const deps = new Map(steps.map((s) => [s.key, s.dependsOn]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  for (const start of deps.keys()) {
    if (state.has(start)) continue;
    // Iterative DFS so that a 10,000-step chain cannot overflow the call stack.
    const frames: { key: string; next: number }[] = [{ key: start, next: 0 }];
    state.set(start, 'visiting');
    stack.push(start);
    while (frames.length) {
      const frame = frames[frames.length - 1] as { key: string; next: number };
      const list = deps.get(frame.key) ?? [];
      if (frame.next < list.length) {
        const dep = list[frame.next++] as string;
        const s = state.get(dep);
        if (s === 'visiting') return [...stack.slice(stack.indexOf(dep)), dep];
        if (!s) {
          state.set(dep, 'visiting');
          stack.push(dep);
          frames.push({ key: dep, next: 0 });
        }
      } else {
        state.set(frame.key, 'done');
        stack.pop();
        frames.pop();
      }
    }
  }
  return null;
}

/** Step indices with every step after all of its dependencies (Kahn); the graph has no cycle. */
function dependencyOrder(deps: readonly number[][]): number[] {
  const waiting = deps.map((d) => d.length);
  const dependants: number[][] = deps.map(() => []);
  deps.forEach((d, i) => d.forEach((dep) => dependants[dep]?.push(i)));
  const order = waiting.flatMap((n, i) => (n === 0 ? [i] : []));
  for (let next = 0; next < order.length; next++) {
    for (const d of dependants[order[next] as number] ?? []) if (--(waiting[d] as number) === 0) order.push(d);
  }
  return order;
}

/**
 * The first `$from` (in step order) whose target is not upstream of its step, or null. One pass
 * over the steps in dependency order carries, for 32 targets at a time as the bits of an
 * integer, which of them are upstream of each step: O((steps + edges) × targets / 32) however
 * far back the references reach (a walk up from every reference would be quadratic).
 */
function firstRefNotUpstream(steps: readonly Step[]): { step: string; target: string } | null {
  const index = new Map(steps.map((s, i) => [s.key, i]));
  const deps = steps.map((s) => s.dependsOn.map((d) => index.get(d) as number));
  const targets = [...new Set(steps.flatMap((s) => s.refersTo))].map((t) => index.get(t) as number);
  if (targets.length === 0) return null;
  const slot = new Map(targets.map((t, n) => [t, n]));
  // References grouped by the word their target's bit is in, each as [step, its nth reference, target].
  const refsByWord: [number, number, number][][] = Array.from({ length: Math.ceil(targets.length / 32) }, () => []);
  steps.forEach((s, i) =>
    s.refersTo.forEach((key, n) => {
      const target = index.get(key) as number;
      refsByWord[(slot.get(target) as number) >> 5]?.push([i, n, target]);
    }),
  );
  const order = dependencyOrder(deps);
  const own = new Int32Array(steps.length);
  const upstream = new Int32Array(steps.length);
  let first: [number, number, number] | null = null;
  for (let word = 0; word < refsByWord.length; word++) {
    const chunk = targets.slice(word * 32, word * 32 + 32);
    chunk.forEach((t, b) => (own[t] = 1 << b));
    for (const i of order) {
      let bits = 0;
      for (const d of deps[i] as number[]) bits |= (upstream[d] as number) | (own[d] as number);
      upstream[i] = bits;
    }
    for (const ref of refsByWord[word] as [number, number, number][]) {
      const [i, n, target] = ref;
      const stray = ((upstream[i] as number) & (own[target] as number)) === 0;
      if (stray && (!first || i < first[0] || (i === first[0] && n < first[1]))) first = ref;
    }
    chunk.forEach((t) => (own[t] = 0));
  }
  return first && { step: (steps[first[0]] as Step).key, target: (steps[first[2]] as Step).key };
}

/** Validates a workflow definition and fills in defaults; throws VALIDATION naming the problem. */
export function validateWorkflow(def: WorkflowDefinition, limits: WorkflowLimits): { name: string; steps: Step[] } {
  const name = def.name.trim();
  if (!name) throw invalid('workflow name must not be empty', { field: 'name' });
  if (name.length > NAME_MAX) throw invalid(`workflow name is longer than ${NAME_MAX} characters`, { field: 'name' });
  if (def.idempotencyKey != null && (def.idempotencyKey.length === 0 || def.idempotencyKey.length > 200)) {
    throw invalid('idempotencyKey must be 1 to 200 characters', { field: 'idempotencyKey' });
  }
  if (def.steps.length === 0) throw invalid('a workflow needs at least one step', { field: 'steps' });
  if (def.steps.length > limits.maxSteps) {
    throw invalid(`a workflow may have at most ${limits.maxSteps} steps (got ${def.steps.length})`, { field: 'steps' });
  }
  // Counted before anything else looks at the graph: every later check, and the write, grow with it.
  let edges = 0;
  for (const s of def.steps) edges += s.dependsOn?.length ?? 0;
  if (edges > limits.maxEdges) {
    throw invalid(`a workflow may have at most ${limits.maxEdges} dependsOn entries in all (got ${edges}; MAX_WORKFLOW_EDGES)`, {
      field: 'dependsOn',
    });
  }
  if (jsonBytes(def.input) > limits.maxJsonBytes) {
    throw invalid(`workflow input is larger than ${limits.maxJsonBytes} bytes of JSON`, { field: 'input' });
  }

  const keys = new Set<string>();
  for (const s of def.steps) {
    if (!STEP_KEY.test(s.key)) {
      throw invalid(`step key ${JSON.stringify(s.key)} must be 1-100 letters, digits, _ or -`, { step: s.key, field: 'key' });
    }
    if (keys.has(s.key)) throw invalid(`step key ${s.key} is used twice`, { step: s.key, field: 'key' });
    keys.add(s.key);
  }

  const steps: Step[] = def.steps.map((s) => {
    const capability = s.capability.trim();
    if (!capability) throw invalid(`step ${s.key}: capability must not be empty`, { step: s.key, field: 'capability' });
    const dependsOn = [...new Set(s.dependsOn ?? [])];
    for (const d of dependsOn) {
      if (d === s.key) throw invalid(`step ${s.key} depends on itself`, { step: s.key, field: 'dependsOn' });
      if (!keys.has(d)) throw invalid(`step ${s.key} depends on unknown step ${JSON.stringify(d)}`, { step: s.key, field: 'dependsOn' });
    }
    if (jsonBytes(s.input) > limits.maxJsonBytes) {
      throw invalid(`step ${s.key}: input is larger than ${limits.maxJsonBytes} bytes of JSON`, { step: s.key, field: 'input' });
    }
    const refs = findRefs(s.input, s.key);
    const stepName = (s.name ?? '').trim() || s.key;
    if (stepName.length > NAME_MAX) throw invalid(`step ${s.key}: name is longer than ${NAME_MAX} characters`, { step: s.key });
    if (s.timeoutMs != null && (!Number.isInteger(s.timeoutMs) || s.timeoutMs <= 0 || s.timeoutMs > INT32_MAX)) {
      throw invalid(`step ${s.key}: timeoutMs must be a positive integer`, { step: s.key, field: 'timeoutMs' });
    }
    return {
      key: s.key,
      capability,
      name: stepName,
      input: s.input ?? null,
      dependsOn,
      maxAttempts: intIn(s.maxAttempts, 1, 1, MAX_ATTEMPTS_LIMIT, 'maxAttempts', s.key),
      retryBackoffMs: intIn(s.retryBackoffMs, 1000, 0, 24 * 3600_000, 'retryBackoffMs', s.key),
      timeoutMs: s.timeoutMs ?? null,
      priority: intIn(s.priority, 0, -PRIORITY_LIMIT, PRIORITY_LIMIT, 'priority', s.key),
      continueOnFailure: s.continueOnFailure ?? false,
      refersTo: [...new Set(refs.flatMap((r) => (r.kind === 'step' ? [r.key] : [])))],
      hasRefs: refs.length > 0,
    };
  });

  const cycle = findCycle(steps);
  if (cycle) throw invalid(`steps form a cycle: ${cycle.join(' -> ')}`, { field: 'dependsOn', cycle });

  // A step may only read the output of a step that finishes before it starts: an ancestor.
  const keyed = new Set(steps.map((s) => s.key));
  for (const s of steps) {
    const unknown = s.refersTo.find((target) => !keyed.has(target));
    if (unknown !== undefined) {
      throw invalid(`step ${s.key}: $from refers to unknown step ${JSON.stringify(unknown)}`, { step: s.key, field: 'input' });
    }
  }
  const stray = firstRefNotUpstream(steps);
  if (stray) {
    throw invalid(`step ${stray.step}: $from refers to ${stray.target}, which is not upstream of it (add it to dependsOn)`, {
      step: stray.step,
      field: 'input',
    });
  }
  return { name, steps };
}
