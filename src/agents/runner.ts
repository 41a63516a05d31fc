// Runs the built-in agents inside the server through the same protocol remote agents use:
// claim under a lease, heartbeat, complete or fail. One loop per agent, up to its concurrency.
import { AgentKind, ErrorType } from '../domain/enums';
import { DomainError } from '../domain/errors';
import type { TaskLease } from '../domain/workflow';
import type { Logger } from '../support/logger';
import type { Orchestrator } from '../engine/orchestrator';
import type { BuiltinAgent } from './builtin-agent';
import { TaskError } from './builtin-agent';
import { echoAgent } from './echo';
import { failAgent } from './fail';
import { sleepAgent } from './sleep';

export const BUILTIN_AGENTS: readonly BuiltinAgent[] = [echoAgent, sleepAgent, failAgent];

interface Running {
  abort: AbortController;
  done: Promise<void>;
}

export class BuiltinRunner {
  private readonly stopping = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly running = new Map<string, Running>();
  /**
   * Results waiting to be recorded: every result finished in one turn of the event loop goes in
   * one transaction per agent, which also claims that agent's next tasks.
   */
  private pending: { agentId: string; leaseId: string; output: unknown; done: (error?: unknown) => void }[] = [];
  /** Agents whose results (and next claim) are being written: their loop waits for it to end. */
  private readonly flushing = new Map<string, Promise<void>>();
  private readonly byId = new Map<string, BuiltinAgent>();

  constructor(
    private readonly o: Orchestrator,
    private readonly log: Logger,
    private readonly agents: readonly BuiltinAgent[] = BUILTIN_AGENTS,
  ) {}

  async start(): Promise<void> {
    for (const agent of this.agents) {
      const { agent: registered } = await this.o.agents.register(
        {
          name: agent.capability,
          capabilities: [agent.capability],
          concurrency: this.o.options.builtinConcurrency,
          metadata: { description: agent.description },
        },
        AgentKind.BUILTIN,
      );
      this.byId.set(registered.id, agent);
      this.loops.push(this.loop(registered.id, agent));
    }
  }

  /** Per agent: one promise that resolves when one of its running tasks ends some other way than a recorded result. */
  private readonly freed = new Map<string, { promise: Promise<void>; resolve: () => void }>();

  private slotFreed(agentId: string): Promise<void> {
    let signal = this.freed.get(agentId);
    if (!signal) {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      this.freed.set(agentId, (signal = { promise, resolve }));
    }
    return signal.promise;
  }

  private signalFreed(agentId: string): void {
    const signal = this.freed.get(agentId);
    this.freed.delete(agentId);
    signal?.resolve();
  }

  private inflight(agentId: string): number {
    let n = 0;
    for (const key of this.running.keys()) if (key.startsWith(`${agentId}/`)) n++;
    return n;
  }

  private async loop(agentId: string, agent: BuiltinAgent): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      // Slots freed by results are refilled by the transaction that records them (flush), so
      // this loop only wakes for new work, or for a slot freed some other way (failure, abort).
      const wake = this.o.leases.wakeFor(agentId, [agent.capability], { slots: false });
      // Listen for freed slots before claiming, so a task that ends during the claim still wakes us.
      const freed = this.slotFreed(agentId);
      try {
        await this.flushing.get(agentId);
        const free = this.o.options.builtinConcurrency - this.inflight(agentId);
        const leases = free > 0 ? await this.o.leases.claim(agentId, free) : [];
        for (const lease of leases) this.run(agentId, agent, lease);
        // Whether it got none, some or all it could take, the next chance is a wake-up: work queued
        // for this capability, or a slot of its own freed by a task that ended without a result.
        await Promise.race([wake.wait(this.o.options.leaseTimeoutMs, signal), freed]);
      } catch (err) {
        if (signal.aborted) break;
        this.log.warn('built-in agent could not claim work', { agent: agent.capability, err });
        await wake.wait(1000, signal);
      } finally {
        wake.cancel();
      }
    }
  }

  private run(agentId: string, agent: BuiltinAgent, lease: TaskLease): void {
    const abort = new AbortController();
    const key = `${agentId}/${lease.id}`;
    const lost = (err: unknown) => {
      if (err instanceof DomainError && (err.type === ErrorType.CONFLICT || err.type === ErrorType.NOT_FOUND)) abort.abort();
    };
    const beat = setInterval(
      () => void this.o.leases.heartbeat(lease.id, null, null).catch(lost),
      Math.max(50, Math.floor(this.o.options.leaseTimeoutMs / 3)),
    );
    beat.unref();
    let recorded = false;
    const done = (async () => {
      try {
        const output = await agent.run(lease.task.input, {
          task: { id: lease.taskId, key: lease.task.key, attempt: lease.attempt, workflowId: lease.task.workflowId },
          signal: abort.signal,
          progress: async (fraction, message) => {
            await this.o.leases.heartbeat(lease.id, Math.max(0, Math.min(1, fraction)), message ?? null).catch(lost);
          },
        });
        if (!abort.signal.aborted) {
          await this.report(agentId, lease.id, output);
          recorded = true;
        }
      } catch (err) {
        if (abort.signal.aborted && this.stopping.signal.aborted) return; // handed back on stop
        const e = err instanceof TaskError ? err : null;
        await this.o.leases
          .fail(lease.id, {
            type: e?.type ?? ErrorType.AGENT_FAILURE,
            severity: e?.options.severity ?? null,
            message: err instanceof Error ? err.message : String(err),
            retryable: e ? (e.options.retryable ?? false) : true,
            context: e?.options.context ?? { agent: agent.capability },
          })
          .catch(lost);
      }
    })()
      .catch((err) => {
        if (!(err instanceof DomainError)) this.log.error('built-in agent failed to report', { agent: agent.capability, taskId: lease.taskId, err });
      })
      .finally(() => {
        clearInterval(beat);
        this.running.delete(key);
        if (!recorded) this.signalFreed(agentId);
      });
    this.running.set(key, { abort, done });
  }

  private report(agentId: string, leaseId: string, output: unknown): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.pending.push({ agentId, leaseId, output, done: (e) => (e ? reject(e) : resolve()) }) === 1) {
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const byAgent = new Map<string, typeof this.pending>();
    for (const p of this.pending.splice(0)) {
      const batch = byAgent.get(p.agentId);
      if (batch) batch.push(p);
      else byAgent.set(p.agentId, [p]);
    }
    await Promise.all(
      [...byAgent].map(async ([agentId, batch]) => {
        const agent = this.byId.get(agentId) as BuiltinAgent;
        const flushed = (async () => {
          // The slots these results free, less any the agent is still busy with.
          const max = this.stopping.signal.aborted ? 0 : this.o.options.builtinConcurrency - this.inflight(agentId) + batch.length;
          try {
            const { results, leases } = await this.o.leases.completeAndClaim(
              batch.map((b) => ({ leaseId: b.leaseId, output: b.output })),
              { agentId, max },
            );
            batch.forEach((b, i) => b.done(results[i] instanceof Error ? results[i] : undefined));
            for (const lease of leases) this.run(agentId, agent, lease);
          } catch (err) {
            for (const b of batch) b.done(err);
          }
        })();
        this.flushing.set(agentId, flushed);
        await flushed;
        if (this.flushing.get(agentId) === flushed) this.flushing.delete(agentId);
      }),
    );
  }

  /** Stops claiming, lets running tasks finish for up to drainMs, then hands the rest back. */
  async stop(drainMs: number): Promise<void> {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    await Promise.all(this.loops);
    const all = Promise.all([...this.running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
    if (this.running.size) {
      this.log.info('handing unfinished built-in tasks back', { count: this.running.size });
      for (const r of this.running.values()) r.abort.abort();
      await this.o.leases.handBack().catch((err) => this.log.warn('could not hand built-in tasks back; the next start hands them back', { err }));
      await all;
    }
  }
}
