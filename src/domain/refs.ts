// `$from` references inside step inputs: {"$from": "workflow.input.a.b"} or
// {"$from": "steps.KEY.output.a.b"}, replaced by that value when the step becomes ready.
import { invalid } from './errors';

export type Ref = { kind: 'workflow'; path: string[] } | { kind: 'step'; key: string; path: string[] };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object whose only key is "$from" with a string value. */
function refText(v: unknown): string | null {
  if (!isPlainObject(v)) return null;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === '$from' && typeof v.$from === 'string' ? v.$from : null;
}

/** Parses a reference; throws VALIDATION naming the step and the text when it is malformed. */
export function parseRef(text: string, stepKey: string): Ref {
  const parts = text.split('.');
  if (parts.some((p) => p === '')) throw invalid(`step ${stepKey}: malformed $from ${JSON.stringify(text)}`, { step: stepKey });
  if (parts[0] === 'workflow' && parts[1] === 'input') return { kind: 'workflow', path: parts.slice(2) };
  if (parts[0] === 'steps' && parts.length >= 3 && parts[2] === 'output') {
    return { kind: 'step', key: parts[1] as string, path: parts.slice(3) };
  }
  throw invalid(
    `step ${stepKey}: $from ${JSON.stringify(text)} must start with "workflow.input" or "steps.<key>.output"`,
    { step: stepKey },
  );
}

/** Every reference inside a value, parsed. */
export function findRefs(value: unknown, stepKey: string): Ref[] {
  const out: Ref[] = [];
  const walk = (v: unknown) => {
    const text = refText(v);
    if (text !== null) out.push(parseRef(text, stepKey));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

function pick(value: unknown, path: string[]): unknown {
  let v = value;
  for (const p of path) {
    if (Array.isArray(v) && /^\d+$/.test(p)) v = v[Number(p)];
    else if (isPlainObject(v) && Object.hasOwn(v, p)) v = v[p];
    else return null;
  }
  return v === undefined ? null : v;
}

export interface RefSources {
  workflowInput: unknown;
  /** Outputs of upstream steps, by step key. */
  outputs: Record<string, unknown>;
}

/** Replaces every reference with the value it points at; a path that leads nowhere gives null. */
export function resolveRefs(value: unknown, sources: RefSources, stepKey = ''): unknown {
  const text = refText(value);
  if (text !== null) {
    const ref = parseRef(text, stepKey);
    return ref.kind === 'workflow' ? pick(sources.workflowInput, ref.path) : pick(sources.outputs[ref.key] ?? null, ref.path);
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, sources, stepKey));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, sources, stepKey)]));
  }
  return value;
}
