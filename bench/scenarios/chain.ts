// chain-latency: a linear chain of no-op built-in steps; the cost of one hop against one HTTP round trip.
import { benchServer, gql, median, type Measurement, type Scenario, waitForWorkflow } from '../lib';

export const chainLatencyScenario: Scenario = {
  name: 'chain-latency',
  higherIsBetter: false,
  async round(ctx): Promise<Measurement> {
    const n = ctx.quick ? 50 : 200;
    const server = await benchServer();
    try {
      const roundTrips: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t = performance.now();
        await gql(server.url, '{ __typename }');
        roundTrips.push(performance.now() - t);
      }
      const steps = Array.from({ length: n }, (_, i) => ({ key: `c${i}`, capability: 'builtin.echo', dependsOn: i ? [`c${i - 1}`] : [] }));
      const started = performance.now();
      const { startWorkflow } = await gql(server.url, `mutation($i: StartWorkflowInput!) { startWorkflow(input: $i) { id } }`, {
        i: { name: 'chain', steps },
      });
      const status = await waitForWorkflow(server.url, startWorkflow.id);
      if (status !== 'COMPLETED') throw new Error(`chain ended ${status}`);
      const perHop = (performance.now() - started) / n;
      return { value: perHop, unit: 'ms/hop', baseline: median(roundTrips), baselineName: '{ __typename } HTTP round trip (ms)' };
    } finally {
      await server.stop();
    }
  },
};
