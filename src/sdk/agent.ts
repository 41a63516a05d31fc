// createAgent: a remote agent in a few lines. It registers (or re-attaches by name with its
// token), then runs its handlers on the agent runtime (runtime.ts) over the GraphQL transport
// (graphql-transport.ts): leases by push or long-poll, up to `concurrency` handlers at once, each
// lease heartbeated and finished with a result or a failure, and a drain on stop.
import { OrchestratorClient } from './client';
import { GraphQLRequestError } from './errors';
import { RegisterAgentDocument, SetAgentDrainingDocument } from './generated/graphql';
import { GraphQLTransport, persist } from './graphql-transport';
import { AgentRuntime, type Handler, type RuntimeLog } from './runtime';

export type { Handler, HandlerResult, TaskContext } from './runtime';

export interface AgentOptions {
  /** http(s)://host:port/graphql */
  url: string;
  name: string;
  /** Defaults to the keys of `handlers`. */
  capabilities?: string[];
  concurrency?: number;
  /** The token a previous registration of this name returned: re-attaches to that agent. */
  token?: string;
  handlers: Record<string, Handler>;
  /** 'push' (taskAssigned over WebSocket, the default) or 'poll' (claimTasks long-poll over HTTP). */
  transport?: 'push' | 'poll';
  metadata?: unknown;
  /** Heartbeat when this fraction of the lease has passed (default 1/3). */
  heartbeatFraction?: number;
  /** How long stop() waits for running handlers before aborting them and handing their tasks back (default 30 s). */
  stopTimeoutMs?: number;
  /** Where the agent reports trouble it handles itself (default: one JSON line on stderr). */
  log?: RuntimeLog;
}

export interface RemoteAgent {
  readonly id: string | null;
  /** The token to re-attach with later (shown by the server once, on first registration). */
  readonly token: string | null;
  readonly running: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const defaultLog: RuntimeLog = (level, message, fields) => {
  if (level !== 'info') process.stderr.write(`${JSON.stringify({ level, message, ...fields })}\n`);
};

export function createAgent(options: AgentOptions): RemoteAgent {
  return new Agent(options);
}

class Agent implements RemoteAgent {
  id: string | null = null;
  token: string | null;
  private readonly client: OrchestratorClient;
  private readonly log: RuntimeLog;
  private runtime: AgentRuntime | null = null;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(private readonly options: AgentOptions) {
    this.client = new OrchestratorClient({ url: options.url });
    this.token = options.token ?? null;
    this.log = options.log ?? defaultLog;
  }

  get running(): number {
    return this.runtime?.size ?? 0;
  }

  start(): Promise<void> {
    this.starting ??= this.register();
    return this.starting;
  }

  private async register(): Promise<void> {
    const concurrency = this.options.concurrency ?? 1;
    const { registerAgent } = await persist(
      'register',
      () =>
        this.client.request(RegisterAgentDocument, {
          input: {
            name: this.options.name,
            capabilities: this.options.capabilities ?? Object.keys(this.options.handlers),
            concurrency,
            metadata: this.options.metadata ?? null,
            token: this.token,
          },
        }),
      this.log,
    ).catch((e: unknown) => {
      if (e instanceof GraphQLRequestError && e.code === 'CONFLICT') {
        throw new Error(`an agent named ${this.options.name} is already registered; pass its token to re-attach, or choose another name`);
      }
      throw e;
    });
    const id = registerAgent.agent.id;
    this.id = id;
    this.token = registerAgent.token ?? this.token;
    if (registerAgent.agent.status === 'DRAINING') {
      await this.client.request(SetAgentDrainingDocument, { id, draining: false });
    }
    this.runtime = new AgentRuntime(new GraphQLTransport(this.client, id, this.options.transport ?? 'push', this.log), {
      concurrency,
      handlers: this.options.handlers,
      heartbeatFraction: this.options.heartbeatFraction,
      log: this.log,
    });
    this.runtime.start();
  }

  /** Stops taking work, lets running handlers finish (aborting them after stopTimeoutMs and handing their tasks back), and disconnects. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.starting?.catch(() => undefined);
      await (this.runtime ? this.runtime.stop(this.options.stopTimeoutMs ?? 30_000) : this.client.close());
    })();
    return this.stopping;
  }
}
