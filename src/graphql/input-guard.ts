// Refuses argument values that storage cannot hold or that would overflow the stack further on,
// before any resolver sees them: text with a NUL (U+0000) or a lone surrogate (PostgreSQL refuses
// the first in text and both in jsonb, and turns a lone surrogate in text into U+FFFD), and JSON
// nested deeper than MAX_JSON_DEPTH (type-graphql's argument conversion, JSON.stringify and `$from`
// resolution all recurse). It wraps every field that takes arguments, so one check covers every
// argument on both transports, from variables and literals alike, and new fields get it for free.
import {
  defaultFieldResolver,
  type GraphQLArgument,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLSchema,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { invalid } from '../domain/errors';
import type { GraphQLContext } from './context';

/** A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function unstorable(char: string): string {
  return char === '\u0000'
    ? 'contains a NUL character (U+0000), which cannot be stored'
    : `contains a lone surrogate (U+${char.charCodeAt(0).toString(16).toUpperCase()}), which is not valid Unicode text`;
}

interface Frame {
  value: unknown;
  /** The argument's GraphQL type down to here; null inside a free-form (JSON) value. */
  type: GraphQLInputType | null;
  /** Levels of objects and arrays inside the JSON value this frame belongs to (0: not inside one). */
  depth: number;
  parent: Frame | null;
  key: string | number;
}

const PLAIN_KEY = /^[A-Za-z_$][\w$]*$/;
/** Path segments shown inside a JSON value before the middle is elided (depth bounds it anyway). */
const SHOWN_SEGMENTS = 8;

function pathOf(frame: Frame): string {
  const segments: string[] = [];
  for (let f: Frame | null = frame; f; f = f.parent) {
    const k = f.key;
    if (typeof k === 'number') segments.push(`[${k}]`);
    else if (PLAIN_KEY.test(k)) segments.push(f.parent ? `.${k}` : k);
    else segments.push(`[${JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}…` : k)}]`);
  }
  segments.reverse();
  if (segments.length > SHOWN_SEGMENTS * 2) segments.splice(SHOWN_SEGMENTS, segments.length - SHOWN_SEGMENTS * 2 + 1, '…');
  return segments.join('');
}

/** The frame holding the top of the JSON value `frame` is inside. */
function jsonRoot(frame: Frame): Frame {
  let f = frame;
  while (f.depth > 0 && f.parent) f = f.parent;
  return f;
}

export interface InputProblem {
  /** Where, from the argument's name: `input.steps[2].input.a`. */
  path: string;
  message: string;
}

/**
 * The first unstorable text or too-deep JSON value in a field's arguments, or null. Walks with an
 * explicit stack, so a value of any depth costs time linear in its size and no call stack.
 */
export function findInputProblem(
  args: Readonly<Record<string, unknown>>,
  defs: readonly GraphQLArgument[],
  maxDepth: number,
): InputProblem | null {
  const stack: Frame[] = [];
  for (let i = defs.length - 1; i >= 0; i--) {
    const def = defs[i] as GraphQLArgument;
    stack.push({ value: args[def.name], type: def.type, depth: 0, parent: null, key: def.name });
  }
  const problem = (frame: Frame, message: string): InputProblem => {
    const path = pathOf(frame);
    return { path, message: `${path} ${message}` };
  };
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    const { value } = frame;
    if (typeof value === 'string') {
      const bad = UNSTORABLE.exec(value);
      if (bad) return problem(frame, unstorable(bad[0]));
      continue;
    }
    if (value === null || typeof value !== 'object' || value instanceof Date) continue;
    const type = frame.type && isNonNullType(frame.type) ? frame.type.ofType : frame.type;
    if (type && isListType(type) && Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], type: type.ofType, depth: 0, parent: frame, key: i });
      continue;
    }
    if (type && isInputObjectType(type)) {
      const fields = type.getFields();
      for (const key of Object.keys(value).reverse()) {
        stack.push({ value: (value as Record<string, unknown>)[key], type: fields[key]?.type ?? null, depth: 0, parent: frame, key });
      }
      continue;
    }
    // An object or array under a scalar type (JSON), or inside one: free-form, so its depth counts.
    const depth = frame.depth + 1;
    if (depth > maxDepth) return problem(jsonRoot(frame), `nests deeper than ${maxDepth} levels of objects and arrays (MAX_JSON_DEPTH)`);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], type: null, depth, parent: frame, key: i });
      continue;
    }
    for (const key of Object.keys(value).reverse()) {
      const child: Frame = { value: (value as Record<string, unknown>)[key], type: null, depth, parent: frame, key };
      const bad = UNSTORABLE.exec(key);
      if (bad) return problem(child, `has a key that ${unstorable(bad[0])}`);
      stack.push(child);
    }
  }
  return null;
}

/** True when `value` has more than `max` levels of objects and arrays; stops looking once it has. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Makes every field that takes arguments check them first (a subscription when it subscribes),
 * refusing with BAD_USER_INPUT (a VALIDATION DomainError) that names the argument's path.
 */
export function guardArguments(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      const guard = (args: Record<string, unknown>, context: unknown) => {
        const found = findInputProblem(args, field.args, (context as GraphQLContext).orchestrator.options.maxJsonDepth);
        if (found) throw invalid(`${field.name}: ${found.message}`, { field: found.path });
      };
      const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
      const subscribe = field.subscribe;
      if (subscribe) {
        field.subscribe = (source, args, context, info) => {
          guard(args, context);
          return subscribe(source, args, context, info);
        };
      } else {
        field.resolve = (source, args, context, info) => {
          guard(args, context);
          return resolve(source, args, context, info);
        };
      }
    }
  }
  return schema;
}
