// The in-memory pub/sub of the bare graphql-ws baselines (fan-out, and commit → agent's floor):
// each subscription is an async iterator fed by a listener in `listeners` until it is returned.

export function subscribeTo<T>(listeners: Set<(event: T) => void>): AsyncIterableIterator<T> {
  const queue: T[] = [];
  let wake: ((r: IteratorResult<T>) => void) | null = null;
  const listener = (e: T) => (wake ? (wake({ value: e, done: false }), (wake = null)) : queue.push(e));
  listeners.add(listener);
  const it: AsyncIterableIterator<T> = {
    next: () => (queue.length ? Promise.resolve({ value: queue.shift() as T, done: false }) : new Promise((r) => (wake = r))),
    return: async () => {
      listeners.delete(listener);
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]: () => it,
  };
  return it;
}
