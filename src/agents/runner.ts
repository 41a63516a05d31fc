// Runs the built-in agents inside the server on the agent runtime the SDK's remote agents use
// (src/sdk/runtime.ts), through the engine's own lease methods: claim under a lease, heartbeat,
// complete or fail, and hand back on stop. One registered agent and one runtime per built-in.
import { AgentKind } from '../domain/enums';
import type { Orchestrator } from '../engine/orchestrator';
import { AgentRuntime } from '../sdk/runtime';
import type { Logger } from '../support/logger';
import type { BuiltinAgent } from './builtin-agent';
import { echoAgent } from './echo';
import { failAgent } from './fail';
import { InProcessTransport } from './in-process-transport';
import { sleepAgent } from './sleep';

export const BUILTIN_AGENTS: readonly BuiltinAgent[] = [echoAgent, sleepAgent, failAgent];

export class BuiltinRunner {
  private readonly runtimes: AgentRuntime[] = [];

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
      const log = this.log.child({ agentId: registered.id, agent: agent.capability });
      const runtime = new AgentRuntime(new InProcessTransport(this.o, registered.id, agent.capability), {
        concurrency: this.o.options.builtinConcurrency,
        handlers: { [agent.capability]: agent.handler },
        log: (level, message, fields) => log[level](message, fields),
      });
      runtime.start();
      this.runtimes.push(runtime);
    }
  }

  /** Stops claiming, lets running tasks finish for up to drainMs, then hands the rest back, attempt unspent. */
  async stop(drainMs: number): Promise<void> {
    await Promise.all(this.runtimes.map((r) => r.stop(drainMs)));
  }
}
