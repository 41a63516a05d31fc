// Drives workflows and the agent protocol through the public API, as a remote agent would.
import type { TestServer } from './server';

export const LEASE = `id agentId attempt expiresAt task { id key capability status attempt input workflowId }`;

export interface Lease {
  id: string;
  agentId: string;
  attempt: number;
  expiresAt: string;
  task: { id: string; key: string; capability: string; status: string; attempt: number; input: any; workflowId: string };
}

export async function registerAgent(s: TestServer, name: string, capabilities: string[], concurrency = 1): Promise<string> {
  const r = await s.data(
    `mutation($i: RegisterAgentInput!) { registerAgent(input: $i) { agent { id } } }`,
    { i: { name, capabilities, concurrency } },
  );
  return r.registerAgent.agent.id;
}

export async function startWorkflow(s: TestServer, input: Record<string, unknown>): Promise<any> {
  const r = await s.gql(`mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id name status idempotencyKey } }`, { i: input });
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data?.startWorkflow;
}

export async function claim(s: TestServer, agentId: string, max = 1, waitMs = 0): Promise<Lease[]> {
  const r = await s.data(`mutation($a: ID!, $m: Int, $w: Int) { claimTasks(agentId: $a, max: $m, waitMs: $w) { ${LEASE} } }`, {
    a: agentId,
    m: max,
    w: waitMs,
  });
  return r.claimTasks;
}

export function complete(s: TestServer, leaseId: string, output?: unknown, outcome?: string) {
  return s.gql(`mutation($l: ID!, $o: JSON, $x: TaskOutcome) { completeTask(leaseId: $l, output: $o, outcome: $x) { id key status outcome output } }`, {
    l: leaseId,
    o: output,
    x: outcome,
  });
}

export function fail(s: TestServer, leaseId: string, error: Record<string, unknown>) {
  return s.gql(`mutation($l: ID!, $e: ErrorRecordInput!) { failTask(leaseId: $l, error: $e) { id key status attempt } }`, {
    l: leaseId,
    e: { severity: 'MEDIUM', message: 'agent says no', ...error },
  });
}

export const WORKFLOW = `id name status input output idempotencyKey startedAt finishedAt
  progress { total pending queued running completed failed cancelled skipped fraction }
  quality { score total succeeded partial failed }
  errors { type taskId }
  tasks { id key status outcome attempt input output dependsOn agent { name } errors { type } }`;

export async function getWorkflow(s: TestServer, id: string): Promise<any> {
  return (await s.data(`query($id: ID!) { workflow(id: $id) { ${WORKFLOW} } }`, { id })).workflow;
}

const FINISHED = ['COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'];

/** Polls until the workflow has finished (bounded, so a broken engine fails the test instead of hanging). */
export async function waitForWorkflow(s: TestServer, id: string, maxWaitMs = 20_000): Promise<any> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const w = await getWorkflow(s, id);
    if (FINISHED.includes(w.status)) return w;
    if (Date.now() > deadline) throw new Error(`workflow ${id} still ${w.status}: ${JSON.stringify(w.progress)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const byKey = (w: any) => Object.fromEntries(w.tasks.map((t: any) => [t.key, t]));
