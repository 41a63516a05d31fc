import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type DefinitionNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  Kind,
  type NamedTypeNode,
  type TypeNode,
  parse,
  print,
} from 'graphql';
import { contractBreaks, fieldCount } from '../helpers/contract';

const root = join(__dirname, '..', '..');
// The repository's copy of the contract: nothing outside the repository is needed to run this.
const contract = readFileSync(join(root, 'schema', 'contract.graphql'), 'utf8');
const emitted = readFileSync(join(root, 'schema', 'schema.graphql'), 'utf8');

describe('schema/schema.graphql against the API contract (schema/contract.graphql)', () => {
  it('keeps every promise of the contract', () => {
    expect(contractBreaks(contract, emitted)).toEqual([]);
  });

  it('compares against a whole contract, not an empty or truncated copy', () => {
    expect(fieldCount(contract)).toBeGreaterThan(200);
    for (const type of ['Query', 'Mutation', 'Subscription', 'Workflow', 'Task', 'TaskLease', 'StartWorkflowInput']) {
      expect(contract).toMatch(new RegExp(`^(type|input) ${type} \\{`, 'm'));
    }
  });
});

// The check above is only worth something if it fails when a promise is broken: each case breaks
// one promise in an in-memory copy of the emitted schema and expects the comparison to name it.
describe('the contract comparison', () => {
  const cases: [string, string, string][] = [
    ['a contract field removed', field('Workflow', 'status', () => null), 'Workflow.status was removed'],
    ['a contract type removed', withoutType('Subscription'), 'Subscription was removed'],
    ['an enum value removed', enumValues('TaskStatus', (v) => v !== 'SKIPPED'), 'SKIPPED was removed from enum type TaskStatus'],
    ['an input field removed', inputField('StartWorkflowInput', 'idempotencyKey', () => null), 'StartWorkflowInput.idempotencyKey was removed'],
    ['an argument removed', arg('Mutation', 'cancelWorkflow', 'reason', () => null), 'reason was removed'],
    ['an output made nullable', field('Workflow', 'status', (f) => ({ ...f, type: nullable(f.type) })), 'Workflow.status changed type from WorkflowStatus! to WorkflowStatus'],
    ['an output list item made nullable', field('Workflow', 'tasks', () => fieldFrom('tasks: [Task]!')), 'Workflow.tasks changed type from [Task!]! to [Task]!'],
    ['an optional input field made required', inputField('StepInput', 'priority', (f) => ({ ...f, type: required(f.type), defaultValue: undefined })), 'StepInput.priority changed type from Int to Int!'],
    ['an optional argument made required', arg('Query', 'workflows', 'first', (a) => ({ ...a, type: required(a.type), defaultValue: undefined })), 'first has changed type from Int to Int!'],
    ['a required argument added', field('Query', 'health', () => fieldFrom('health(since: DateTime!): HealthReport!')), 'A required arg since on Query.health was added'],
    ['an argument of another type', arg('Mutation', 'claimTasks', 'max', (a) => ({ ...a, type: namedType('String'), defaultValue: undefined })), 'max has changed type from Int to String'],
    ['a field of another type', field('Task', 'attempt', () => fieldFrom('attempt: String!')), 'Task.attempt changed type from Int! to String!'],
    ['an argument default changed', field('Mutation', 'claimTasks', () => fieldFrom('claimTasks(agentId: ID!, max: Int = 5, waitMs: Int = 0): [TaskLease!]!')), 'max has changed defaultValue from 1 to 5'],
  ];

  it.each(cases)('reports %s', (_what, broken, expected) => {
    expect(broken).not.toBe(print(parse(emitted)));
    const breaks = contractBreaks(contract, broken);
    expect(breaks.some((b) => b.includes(expected))).toBe(true);
  });

  it('accepts what the contract welcomes: new types, fields, optional arguments and enum values', () => {
    const extended = `${emitted}
      extend type Workflow { labels: [String!]! }
      extend type Query { workflowCount(status: WorkflowStatus): Int! }
      extend enum TaskStatus { PAUSED }
      type Label { name: String! }`;
    const added = field('Query', 'workflow', () => fieldFrom('workflow(id: ID!, includeArchived: Boolean = false): Workflow'), extended);
    expect(contractBreaks(contract, added)).toEqual([]);
  });
});

// Edits of the emitted SDL, through graphql-js's AST so that each breaks exactly one thing.

function mapDefinitions(f: (d: DefinitionNode) => DefinitionNode | null, sdl = emitted): string {
  const doc = parse(sdl);
  const definitions = doc.definitions.flatMap((d) => f(d) ?? []);
  if (definitions.length === doc.definitions.length && definitions.every((d, i) => d === doc.definitions[i])) {
    throw new Error('the edit changed nothing: is the type still in schema/schema.graphql?');
  }
  return print({ ...doc, definitions });
}

function isNamed(d: DefinitionNode, name: string): boolean {
  return 'name' in d && d.name?.value === name;
}

function withoutType(name: string): string {
  return mapDefinitions((d) => (isNamed(d, name) ? null : d));
}

function field(type: string, name: string, change: (f: FieldDefinitionNode) => FieldDefinitionNode | null, sdl = emitted): string {
  return mapDefinitions((d) => {
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION || d.name.value !== type) return d;
    const fields = (d.fields ?? []).flatMap((f) => (f.name.value === name ? (change(f) ?? []) : f));
    return { ...d, fields };
  }, sdl);
}

function inputField(type: string, name: string, change: (f: InputValueDefinitionNode) => InputValueDefinitionNode | null): string {
  return mapDefinitions((d) => {
    if (d.kind !== Kind.INPUT_OBJECT_TYPE_DEFINITION || d.name.value !== type) return d;
    const fields = (d.fields ?? []).flatMap((f) => (f.name.value === name ? (change(f) ?? []) : f));
    return { ...d, fields };
  });
}

function arg(type: string, fieldName: string, name: string, change: (a: InputValueDefinitionNode) => InputValueDefinitionNode | null): string {
  return field(type, fieldName, (f) => ({
    ...f,
    arguments: (f.arguments ?? []).flatMap((a) => (a.name.value === name ? (change(a) ?? []) : a)),
  }));
}

function enumValues(type: string, keep: (value: string) => boolean): string {
  return mapDefinitions((d) => {
    if (d.kind !== Kind.ENUM_TYPE_DEFINITION || d.name.value !== type) return d;
    return { ...d, values: (d.values ?? []).filter((v) => keep(v.name.value)) };
  });
}

/** A field definition written as SDL, e.g. `tasks: [Task]!`. */
function fieldFrom(sdl: string): FieldDefinitionNode {
  const def = parse(`type T { ${sdl} }`).definitions[0];
  const f = def?.kind === Kind.OBJECT_TYPE_DEFINITION ? def.fields?.[0] : undefined;
  if (!f) throw new Error(`not a field: ${sdl}`);
  return f;
}

function nullable(t: TypeNode): TypeNode {
  return t.kind === Kind.NON_NULL_TYPE ? t.type : t;
}

function required(t: TypeNode): TypeNode {
  return t.kind === Kind.NON_NULL_TYPE ? t : { kind: Kind.NON_NULL_TYPE, type: t };
}

function namedType(name: string): NamedTypeNode {
  return { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: name } };
}
