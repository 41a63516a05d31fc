// EventBus across instances: each transaction's events go out as one Redis pub/sub message, and
// every instance delivers what the others publish to its own subscribers. An instance delivers
// its own events locally at once (not through Redis), so Redis trouble never delays them here.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../support/logger';
import type { EventBus, Listener, OrchestratorEvent, Topic } from './event-bus';
import { MemoryBus } from './memory-bus';

const DATE_KEY = '$orchestratorDate';

/** JSON that keeps Dates as Dates across the wire. */
export function encodeEvents(origin: string, events: readonly OrchestratorEvent[]): string {
  return JSON.stringify({ origin, events }, function (this: Record<string, unknown>, key, value) {
    const raw = this[key];
    return raw instanceof Date ? { [DATE_KEY]: raw.toISOString() } : value;
  });
}

export function decodeEvents(text: string): { origin: string; events: OrchestratorEvent[] } {
  return JSON.parse(text, (_key, value) =>
    value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 1 && typeof value[DATE_KEY] === 'string'
      ? new Date(value[DATE_KEY])
      : value,
  );
}

/** Topics every instance computes for itself: forwarding them would announce everything twice. */
const LOCAL_ONLY: ReadonlySet<Topic> = new Set(['health']);

export class RedisBus implements EventBus {
  private readonly local = new MemoryBus();
  private readonly origin = randomUUID();
  private downSince: number | null = null;

  private constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly channel: string,
    private readonly log: Logger,
  ) {
    sub.on('message', (_channel: string, message: string) => {
      try {
        const { origin, events } = decodeEvents(message);
        if (origin !== this.origin) void this.local.publish(events);
      } catch (err) {
        this.log.warn('unreadable event message from Redis', { err });
      }
    });
    for (const client of [pub, sub]) {
      client.on('error', () => undefined); // reported through status() and the publish path
      client.on('ready', () => {
        if (this.downSince !== null) this.log.info('Redis is back', { downMs: Date.now() - this.downSince });
        this.downSince = null;
      });
    }
  }

  /** Connects in the background: the instance starts (and serves) even while Redis is down. */
  static connect(url: string, log: Logger, channel = 'orchestrator:events'): RedisBus {
    const pub = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
    const sub = new Redis(url, { lazyConnect: false, autoResubscribe: true });
    const bus = new RedisBus(pub, sub, channel, log);
    sub.subscribe(channel).catch((err: unknown) => log.warn('Redis subscribe failed; ioredis retries on reconnect', { err }));
    return bus;
  }

  async publish(events: readonly OrchestratorEvent[]): Promise<void> {
    await this.local.publish(events);
    const shared = events.filter((e) => !LOCAL_ONLY.has(e.topic));
    if (shared.length === 0) return;
    try {
      await this.pub.publish(this.channel, encodeEvents(this.origin, shared));
    } catch (err) {
      // The write is committed and local subscribers have it; other instances miss this event.
      if (this.downSince === null) {
        this.downSince = Date.now();
        this.log.warn('Redis unavailable: events reach only this instance until it returns', { err });
      }
    }
  }

  subscribe<T extends Topic>(topic: T, listener: Listener<T>): () => void {
    return this.local.subscribe(topic, listener);
  }

  status(): 'up' | 'down' {
    return this.pub.status === 'ready' && this.sub.status === 'ready' ? 'up' : 'down';
  }

  listenerCounts(): Record<Topic, number> {
    return this.local.listenerCounts();
  }

  async close(): Promise<void> {
    await this.local.close();
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
