// A workflow followed live by `run --watch` and `watch`: progress bars on a terminal, otherwise one
// line per change, in order (each task's RUNNING before how it ended), then a summary.
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { OrchestratorClient } from '../sdk/client';
import type { WorkflowStatus } from '../sdk/generated/graphql';
import { bold, dim, duration, statusColor, table, tty } from './format';

const FINISHED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'SKIPPED']);

/** Exit codes of `run --watch` and `watch`. */
export const EXIT = {
  COMPLETED: 0,
  FAILED: 1,
  PARTIAL: 2,
  /** The workflow waits for a capability no available agent offers (left as it is, not cancelled). */
  NO_AGENT: 3,
} as const;

export const exitFor = (status: WorkflowStatus): number =>
  status === 'COMPLETED' ? EXIT.COMPLETED : status === 'PARTIAL' ? EXIT.PARTIAL : EXIT.FAILED;

export const print = (json: boolean, value: unknown, human: () => string) =>
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : human()}\n`);

/**
 * The capabilities the workflow's waiting tasks need that no available agent offers; [] when all
 * are offered. With `wait`, says which on stderr and returns [] (the caller watches on).
 */
export async function missingAgents(api: OrchestratorClient, id: string, json: boolean, wait: boolean): Promise<string[]> {
  const w = await api.getWorkflow(id);
  if (!w) throw new Error(`workflow ${id} not found`);
  const waiting = w.tasks.filter((t) => t.status === 'PENDING' || t.status === 'QUEUED').map((t) => t.capability);
  const missing = waiting.length ? await api.unavailableCapabilities(waiting) : [];
  if (!missing.length) return [];
  const list = missing.join(', ');
  if (wait) {
    process.stderr.write(`orchestrator: waiting for an agent that offers ${list}\n`);
    return [];
  }
  if (json) print(true, { id, status: w.status, unavailableCapabilities: missing }, () => '');
  process.stderr.write(
    `orchestrator: no available (ONLINE or BUSY) agent offers ${list}; workflow ${id} is left ${w.status}, waiting for one.\n` +
      `  Start an agent that offers it, then \`orchestrator watch ${id}\`; or \`orchestrator cancel ${id}\`.\n` +
      '  (--wait-for-agents waits for one instead.)\n',
  );
  return missing;
}

export async function watch(api: OrchestratorClient, id: string, json: boolean): Promise<void> {
  const bars = tty && !json ? new MultiBar({ clearOnComplete: true, hideCursor: true, format: ' {label} {bar} {percentage}% {detail}' }, Presets.shades_classic) : null;
  const overall: SingleBar | undefined = bars?.create(1, 0, { label: bold('workflow'.padEnd(20)), detail: '' });
  const perTask = new Map<string, SingleBar>();
  /** The last status shown of each task: lines follow what was shown, not what an event says came before. */
  const shown = new Map<string, string>();
  const line = (s: string) => (bars ? bars.log(`${s}\n`) : json ? undefined : process.stdout.write(`${s}\n`));
  try {
    for await (const e of api.watchWorkflow(id)) {
      if (e.kind === 'workflow') {
        const w = e.event.workflow;
        overall?.setTotal(Math.max(1, w.progress.total));
        overall?.update(w.progress.fraction * w.progress.total, { detail: `${statusColor(w.status)}` });
        if (!bars && !json) line(`workflow ${w.name} ${w.status} (${w.progress.completed + w.progress.failed + w.progress.cancelled + w.progress.skipped}/${w.progress.total})`);
        continue;
      }
      const t = e.event.task;
      const last = shown.get(t.id);
      shown.set(t.id, t.status);
      const running = `  ${t.key} RUNNING${t.agent ? ` on ${t.agent.name}` : ''}`;
      if (t.status === 'RUNNING') {
        let bar = perTask.get(t.id);
        if (!bar && bars) perTask.set(t.id, (bar = bars.create(100, 0, { label: t.key.slice(0, 20).padEnd(20), detail: '' })));
        bar?.update(Math.round((t.progress ?? 0) * 100), { detail: dim(t.progressMessage ?? t.capability) });
        if (!bars && last !== 'RUNNING') line(running);
        continue;
      }
      const bar = perTask.get(t.id);
      if (bar) {
        bars?.remove(bar);
        perTask.delete(t.id);
      }
      if (FINISHED.has(t.status)) {
        // First seen finished (it ran before the watch began, or between two events heard): it ran all the same.
        if (!bars && t.startedAt && last !== 'RUNNING') line(running);
        line(`  ${t.key} ${statusColor(t.status)}${t.outcome && t.outcome !== 'SUCCESS' ? ` (${t.outcome})` : ''}`);
        overall?.increment(1);
      } else if (last === 'RUNNING') {
        line(`  ${t.key} ${statusColor(t.status)}`); // back in the queue for another attempt
      }
    }
  } finally {
    bars?.stop();
    await api.close();
  }
}

export async function summary(api: OrchestratorClient, id: string, json: boolean): Promise<WorkflowStatus> {
  const w = await api.getWorkflow(id);
  if (!w) throw new Error(`workflow ${id} not found`);
  print(json, w, () =>
    [
      table(
        ['step', 'status', 'outcome', 'attempts', 'duration', 'agent'],
        w.tasks.map((t) => [t.key, statusColor(t.status), t.outcome, `${t.attempt}/${t.maxAttempts}`, duration(t.startedAt, t.finishedAt), t.agent?.name]),
      ),
      `${bold(w.name)} ${statusColor(w.status)}  quality ${w.quality.score.toFixed(2)} (${w.quality.total} tasks)  ` +
        `duration ${duration(w.startedAt ?? w.createdAt, w.finishedAt)}  errors ${w.errors.length}`,
      ...w.errors.map((e) => `  ${e.summary}`),
      dim(`workflow ${w.id}`),
    ].join('\n'),
  );
  return w.status;
}
