// Compares an emitted schema with the API contract: what check-contract.mjs reports in CI, in a
// function a test can run on any SDL, so the check itself can be shown to catch a broken promise.
import { BreakingChangeType, DangerousChangeType, buildSchema, findBreakingChanges, findDangerousChanges } from 'graphql';

/**
 * Every promise of `contract` that `emitted` breaks, one line each; [] when it keeps them all.
 * findBreakingChanges covers removed types, fields, arguments, enum values and input fields,
 * incompatible type changes, outputs made nullable and inputs made required (what CI's
 * check-contract.mjs runs). A changed default of a contract argument is only "dangerous" to
 * graphql-js, but a client that leaves the argument out relies on it, so it counts here too.
 */
export function contractBreaks(contract: string, emitted: string): string[] {
  const before = buildSchema(contract);
  const after = buildSchema(emitted);
  const breaking = findBreakingChanges(before, after).map((c) => `${c.type as BreakingChangeType}: ${c.description}`);
  const defaults = findDangerousChanges(before, after)
    .filter((c) => c.type === DangerousChangeType.ARG_DEFAULT_VALUE_CHANGE)
    .map((c) => `${c.type}: ${c.description}`);
  return [...breaking, ...defaults];
}

/** How many fields (of object, interface and input types) a schema declares, built-ins aside. */
export function fieldCount(sdl: string): number {
  return Object.values(buildSchema(sdl).getTypeMap())
    .filter((t) => !t.name.startsWith('__') && 'getFields' in t)
    .reduce((n, t) => n + Object.keys((t as { getFields(): object }).getFields()).length, 0);
}
