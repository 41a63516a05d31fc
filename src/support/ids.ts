// Ids for the records the engine creates (workflows, tasks, agents, error records): random UUIDs,
// made here so that domain rules stay free of I/O and tests can see where ids come from.
import { randomUUID } from 'node:crypto';

export function newId(): string {
  return randomUUID();
}
