#!/usr/bin/env node
// `orchestrator`: the command line. `serve` runs the server; every other command talks to a
// running server through the public API only (the SDK client).
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { ENV_VARS } from '../server/config';
import { packageVersion } from '../server/version';
import { OrchestratorClient } from '../sdk/client';
import { GraphQLRequestError } from '../sdk/errors';
import type { StartWorkflowInput, WorkflowStatus } from '../sdk/generated/graphql';
import { bold, dim, duration, statusColor, table } from './format';
import { EXIT, exitFor, missingAgents, print, summary, watch } from './watch';

const kebab = (name: string) => name.toLowerCase().replace(/_/g, '-');
const camel = (name: string) => name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

interface Globals {
  url: string;
  json?: boolean;
}

function client(cmd: Command): { api: OrchestratorClient; json: boolean } {
  const g = cmd.optsWithGlobals<Globals>();
  return { api: new OrchestratorClient({ url: g.url }), json: Boolean(g.json) };
}

/** Reads a workflow definition from a JSON or YAML file. */
function readWorkflow(file: string, inputJson?: string, name?: string): StartWorkflowInput {
  const text = readFileSync(file, 'utf8');
  let def: unknown;
  try {
    def = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
  }
  if (typeof def !== 'object' || def === null || !Array.isArray((def as { steps?: unknown }).steps)) {
    throw new Error(`${file} must describe a workflow: { name, input?, steps: [{ key, capability, … }] }`);
  }
  const workflow = { ...(def as StartWorkflowInput) };
  if (inputJson !== undefined) {
    try {
      workflow.input = JSON.parse(inputJson);
    } catch (e) {
      throw new Error(`--input is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (name) workflow.name = name;
  return workflow;
}

/**
 * Watches a workflow to its end and sets the exit code. A capability that no available agent
 * offers would make it wait for ever: unless told to wait, that is said at once and the command
 * exits 3, the workflow left queued (not cancelled: an agent may yet come, and the id printed
 * lets the user watch or cancel it).
 */
async function follow(api: OrchestratorClient, id: string, json: boolean, waitForAgents: boolean): Promise<void> {
  if ((await missingAgents(api, id, json, waitForAgents)).length) {
    process.exitCode = EXIT.NO_AGENT;
    return;
  }
  await watch(api, id, json);
  process.exitCode = exitFor(await summary(api, id, json));
}

export function cli(): Command {
  const program = new Command('orchestrator')
    .description('Runs workflows of tasks on agents, and watches them live.')
    .version(packageVersion())
    .addOption(new Option('--url <url>', 'GraphQL endpoint of the server').env('ORCHESTRATOR_URL').default('http://127.0.0.1:4000/graphql'))
    .option('--json', 'print JSON instead of tables (for scripts)')
    .showHelpAfterError();

  const serve = program.command('serve').description('run the server (what `npm start` runs); flags mirror the environment variables');
  for (const [name, [fallback, meaning]] of Object.entries(ENV_VARS)) {
    serve.addOption(new Option(`--${kebab(name)} <value>`, `${meaning} (env ${name}, default ${fallback})`));
  }
  serve.action((opts: Record<string, string | undefined>) => {
    const env = { ...process.env };
    for (const name of Object.keys(ENV_VARS)) {
      const v = opts[camel(name)];
      if (v !== undefined) env[name] = v;
    }
    // The server (schema, storage, WebSocket) loads only here: the other commands are clients and
    // start in a fraction of the time.
    // (require, not import(): this is CommonJS, and import() would resolve as ESM, without extensions.)
    const { exitWith, failedToStart, runServer } = require('../server/main') as typeof import('../server/main');
    runServer(env).then(exitWith, failedToStart);
  });

  const waitForAgents = 'wait even when no available agent offers a capability the workflow needs (default: exit 3 at once, leaving it queued)';
  program
    .command('run <file>')
    .description(
      'start a workflow from a JSON or YAML file; with --watch, follow it live and exit 0 COMPLETED, 2 PARTIAL, 1 FAILED/CANCELLED, ' +
        '3 when no available agent offers a capability it needs',
    )
    .option('--input <json>', 'workflow input, as JSON (replaces the file\'s input)')
    .option('--name <name>', 'workflow name (replaces the file\'s name)')
    .option('--watch', 'show live progress, then a summary')
    .option('--wait-for-agents', `with --watch: ${waitForAgents}`)
    .action(async (file: string, opts: { input?: string; name?: string; watch?: boolean; waitForAgents?: boolean }, cmd: Command) => {
      const { api, json } = client(cmd);
      const started = await api.startWorkflow(readWorkflow(file, opts.input, opts.name));
      if (!opts.watch) {
        print(json, started, () => `${started.id} ${statusColor(started.status)}`);
        return;
      }
      if (!json) process.stdout.write(`${dim(`workflow ${started.id}`)}\n`);
      await follow(api, started.id, json, Boolean(opts.waitForAgents));
    });

  program
    .command('watch <id>')
    .description('follow a workflow started earlier, live, then print its summary; exit codes as `run --watch`')
    .option('--wait-for-agents', waitForAgents)
    .action(async (id: string, opts: { waitForAgents?: boolean }, cmd: Command) => {
      const { api, json } = client(cmd);
      await follow(api, id, json, Boolean(opts.waitForAgents));
    });

  program
    .command('status')
    .description('this instance: health, agents and work in flight')
    .action(async (_opts: unknown, cmd: Command) => {
      const { api, json } = client(cmd);
      const s = await api.status();
      print(json, s, () =>
        table(
          ['instance', 'version', 'health', 'score', 'uptime', 'agents', 'running workflows', 'queued', 'running'],
          [[s.instanceId, s.version, statusColor(s.status), s.healthScore, `${Math.round(s.uptimeSeconds)} s`, s.agents, s.runningWorkflows, s.queuedTasks, s.runningTasks]],
        ),
      );
    });

  program
    .command('health')
    .description('the health report and its components')
    .action(async (_opts: unknown, cmd: Command) => {
      const { api, json } = client(cmd);
      const h = await api.health();
      print(json, h, () =>
        [
          `${bold('health')} ${statusColor(h.status)} ${h.score}/100  quality ${h.quality.score.toFixed(2)}  ` +
            `agents ${h.agents.online} online, ${h.agents.busy} busy, ${h.agents.draining} draining, ${h.agents.offline} offline  ` +
            `queue ${h.queue.queued} queued, ${h.queue.running} running`,
          table(['component', 'score', 'status', 'detail'], h.components.map((c) => [c.name, c.score, statusColor(c.status), c.detail])),
        ].join('\n'),
      );
    });

  program
    .command('workflows')
    .description('recent workflows, newest first')
    .option('--status <status...>', 'only these statuses (PENDING RUNNING COMPLETED PARTIAL FAILED CANCELLED)')
    .option('--first <n>', 'how many', '20')
    .action(async (opts: { status?: string[]; first: string }, cmd: Command) => {
      const { api, json } = client(cmd);
      const statuses = opts.status?.map((s) => s.toUpperCase()) as WorkflowStatus[] | undefined;
      const page = await api.listWorkflows({ filter: statuses ? { statuses } : null, first: Number(opts.first) });
      const rows = page.edges.map((e) => e.node);
      print(json, rows, () =>
        `${table(
          ['id', 'name', 'status', 'progress', 'quality', 'created', 'duration'],
          rows.map((w) => [w.id, w.name, statusColor(w.status), `${Math.round(w.progress.fraction * 100)}%`, w.quality.score.toFixed(2), w.createdAt, duration(w.startedAt, w.finishedAt)]),
        )}\n${dim(`${rows.length} of ${page.totalCount}`)}`,
      );
    });

  program
    .command('cancel <id>')
    .description('cancel a workflow and its unfinished tasks')
    .option('--reason <text>', 'why, for the history')
    .action(async (id: string, opts: { reason?: string }, cmd: Command) => {
      const { api, json } = client(cmd);
      const w = await api.cancelWorkflow(id, opts.reason);
      print(json, w, () => `${w.id} ${statusColor(w.status)}`);
    });

  return program;
}

if (require.main === module) {
  cli()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      const code = e instanceof GraphQLRequestError && e.code ? ` (${e.code})` : '';
      process.stderr.write(`orchestrator: ${e instanceof Error ? e.message : String(e)}${code}\n`);
      process.exitCode = 1;
    });
}
