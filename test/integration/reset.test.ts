// `reset` while work runs: what it keeps stays consistent, quality counters included.
import { claim, complete, fail, registerAgent, startWorkflow } from '../helpers/engine';
import { startTestServer, type TestServer } from '../helpers/server';

const QUALITY = `score total succeeded partial failed`;

describe('reset while workflows run', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it('keeps the quality of running workflows, drops that of deleted ones, and counts later results on top', async () => {
    const agent = await registerAgent(s, 'resetter', ['cap.reset'], 50);
    const steps = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `s${i}`, capability: 'cap.reset' }));

    // A finished workflow (deleted by reset) with two successes and one failure.
    const old = await startWorkflow(s, { name: 'old', steps: steps(3) });
    const oldLeases = await claim(s, agent, 3);
    await complete(s, oldLeases[0]!.id, {});
    await complete(s, oldLeases[1]!.id, {});
    await fail(s, oldLeases[2]!.id, { type: 'AGENT_FAILURE' });

    // A running one: 6 of 10 results in before the reset (one partial), 4 after.
    const running = await startWorkflow(s, { name: 'running', steps: steps(10) });
    const leases = await claim(s, agent, 10);
    expect(leases).toHaveLength(10);
    for (const [i, l] of leases.slice(0, 6).entries()) await complete(s, l.id, {}, i === 0 ? 'PARTIAL' : undefined);

    await s.data(`mutation { reset { instanceId } }`);
    const q = `query($w: ID!, $a: ID!) {
      overall: quality { ${QUALITY} } workflow: quality(workflowId: $w) { ${QUALITY} } agent: quality(agentId: $a) { ${QUALITY} }
      old: workflow(id: "${old.id}") { id } }`;
    const afterReset = await s.data(q, { w: running.id, a: agent });
    const six = { total: 6, succeeded: 5, partial: 1, failed: 0, score: 5.5 / 6 };
    expect(afterReset).toEqual({ overall: six, workflow: six, agent: six, old: null });

    for (const l of leases.slice(6)) await complete(s, l.id, {});
    const done = await s.data(q, { w: running.id, a: agent });
    const ten = { total: 10, succeeded: 9, partial: 1, failed: 0, score: 9.5 / 10 };
    expect(done).toEqual({ overall: ten, workflow: ten, agent: ten, old: null });
    const w = await s.data(`query($id: ID!) { workflow(id: $id) { status quality { total } } }`, { id: running.id });
    expect(w.workflow).toEqual({ status: 'PARTIAL', quality: { total: 10 } });
  });
});
