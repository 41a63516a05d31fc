// Turns bus subscriptions into the async iterators GraphQL subscriptions consume.
import type { EventBus, EventOf, Topic } from './event-bus';

/** Events buffered for one slow subscriber before the oldest are dropped. */
export const SUBSCRIBER_BUFFER = 10_000;

const live = new WeakMap<EventBus, Map<Topic, number>>();

/** Client subscriptions live on this bus, by topic (the engine's own listeners are not counted). */
export function liveSubscriptions(bus: EventBus): Map<Topic, number> {
  return new Map(live.get(bus) ?? []);
}

function count(bus: EventBus, topic: Topic, delta: number): void {
  let m = live.get(bus);
  if (!m) live.set(bus, (m = new Map()));
  m.set(topic, (m.get(topic) ?? 0) + delta);
}

/**
 * Listens from the moment it is called (so nothing published after subscribing is missed),
 * keeps the events that pass `filter`, and stops listening when the consumer returns.
 */
export function iterateEvents<T extends Topic, R>(
  bus: EventBus,
  topic: T,
  map: (event: EventOf<T>) => R | undefined,
): AsyncIterableIterator<R> {
  const buffer: R[] = [];
  let wake: ((r: IteratorResult<R>) => void) | null = null;
  let done = false;

  count(bus, topic, 1);
  const unsubscribe = bus.subscribe(topic, (event) => {
    if (done) return;
    const value = map(event);
    if (value === undefined) return;
    if (wake) {
      const w = wake;
      wake = null;
      w({ value, done: false });
    } else {
      buffer.push(value);
      if (buffer.length > SUBSCRIBER_BUFFER) buffer.shift();
    }
  });

  const finish = (): IteratorResult<R> => {
    if (!done) count(bus, topic, -1);
    done = true;
    unsubscribe();
    buffer.length = 0;
    if (wake) {
      const w = wake;
      wake = null;
      w({ value: undefined, done: true });
    }
    return { value: undefined, done: true };
  };

  return {
    next(): Promise<IteratorResult<R>> {
      if (buffer.length) return Promise.resolve({ value: buffer.shift() as R, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => (wake = resolve));
    },
    return: async () => finish(),
    throw: async (error?: unknown) => {
      finish();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
