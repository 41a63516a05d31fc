// Wake-ups, the waiting side: an agent (a long-poll, a push subscriber, a built-in agent) waits
// for the events that can give it work instead of polling storage: work queued for one of its
// capabilities (ready-work.ts announces it), one of its own tasks finishing (a free slot), or a
// change to the agent itself.
import { AgentStatus, TaskStatus } from '../../domain/enums';
import type { EngineContext } from '../context';

/** What wakeFor returns: events that can give an agent work, remembered from when it was made. */
export interface Wake {
  /** Resolves once something happened (at once if it already has), after `ms`, or on abort. */
  wait(ms: number, signal?: AbortSignal): Promise<void>;
  /** Something happened: waiting ends, now and for every later wait. */
  fire(): void;
  /** Whether something happened since the wake was made. */
  readonly fired: boolean;
  /** Ends the current wait, if any, without counting as something that happened. */
  release(): void;
  /** Stops listening (and ends the current wait). */
  cancel(): void;
}

/**
 * Subscribes to the events that can give this agent work: tasks queued for a capability, or one
 * of its own tasks finishing (a free slot; not with `slots: false`). Subscribe before claiming so
 * no wake-up is missed.
 */
export function wakeFor(
  ctx: Pick<EngineContext, 'store' | 'bus'>,
  agentId: string,
  knownCapabilities?: readonly string[],
  options: { slots?: boolean } = {},
): Wake {
  let fire: (() => void) | null = null;
  let fired = false;
  const trigger = () => {
    fired = true;
    fire?.();
  };
  let capabilities: Set<string> | null = knownCapabilities ? new Set(knownCapabilities) : null;
  // Until the capabilities are known every queue event wakes the waiter (a spare claim, no harm).
  if (!capabilities) {
    ctx.store.getAgents([agentId]).then(
      ([a]) => {
        capabilities = new Set(a?.capabilities ?? []);
      },
      () => undefined,
    );
  }
  const offQueue = ctx.bus.subscribe('queue', (e) => {
    if (!capabilities || e.capabilities.some((c) => capabilities?.has(c))) trigger();
  });
  const offTask =
    options.slots === false
      ? () => undefined
      : ctx.bus.subscribe('task', (e) => {
          if (e.task.agentId === agentId && e.previousStatus === TaskStatus.RUNNING) trigger();
        });
  const offAgent = ctx.bus.subscribe('agent', (e) => {
    if (e.agent.id === agentId) {
      capabilities = new Set(e.agent.capabilities);
      // An agent that has just become full has nothing to claim.
      const full = e.agent.runningTasks >= e.agent.concurrency && [AgentStatus.ONLINE, AgentStatus.BUSY].includes(e.agent.status);
      if (!full) trigger();
    }
  });
  const cancel = () => {
    offQueue();
    offTask();
    offAgent();
    fire?.();
  };
  return {
    cancel,
    fire: trigger,
    get fired() {
      return fired;
    },
    release: () => fire?.(),
    wait: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (fired || signal?.aborted) return resolve();
        const timer = setTimeout(done, ms);
        const onAbort = () => done();
        signal?.addEventListener('abort', onAbort, { once: true });
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          fire = null;
          resolve();
        }
        fire = done;
      }),
  };
}
