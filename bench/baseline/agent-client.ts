// The commit → agent client, run as its own process (as a remote agent and the programs starting
// work are): subscribes to taskAssigned as the given agent, sends single-step startWorkflow
// mutations at a set rate over a pool of keep-alive connections, and writes one JSON line with the
// latencies from each task's createdAt to its taskAssigned receipt. Kept apart from the server so
// that neither the sender nor the agent takes the measured server's CPU (in one process, Node's
// HTTP client alone cost about a third of the main thread at 700 starts/s).
//
// argv: url wsUrl agentId capability ratePerS count warmUpCount
import { Agent, request } from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { percentile, sleep } from '../stats';

/** Connections the sender may open, as many as the throughput was measured with. */
const CONNECTIONS = 50;
/** How long a send may take to be received before the run gives up on the rest. */
const RECEIVE_TIMEOUT_MS = 30_000;

const [url, wsUrl, agentId, capability, rateArg, countArg, warmArg] = process.argv.slice(2) as string[];
const rate = Number(rateArg);
const count = Number(countArg);
const warmUp = Number(warmArg ?? 0);

/**
 * Sends GraphQL requests the way a client with a connection pool does: over at most CONNECTIONS
 * keep-alive connections. (`fetch` opens a connection for every request in flight: bursts of
 * hundreds overflowed the server's listen queue, and the retried SYNs, a second later, spread a
 * one-second schedule over six.)
 */
function sender(target: URL) {
  const pool = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  return {
    send(body: string): Promise<void> {
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            agent: pool,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
              const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { errors?: unknown[] };
              if (answer.errors) reject(new Error(JSON.stringify(answer.errors).slice(0, 500)));
              else resolve();
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => pool.destroy(),
  };
}

async function main(): Promise<void> {
  const client = createClient({ url: wsUrl as string, webSocketImpl: WebSocket });
  let latencies: number[] = [];
  let received = 0;
  let expected = 0;
  let reached: () => void = () => undefined;
  const dispose = client.subscribe<{ taskAssigned: { task: { createdAt: string } } }>(
    { query: `subscription($a: ID!) { taskAssigned(agentId: $a) { id task { createdAt } } }`, variables: { a: agentId } },
    {
      next: ({ data }) => {
        if (!data) return;
        latencies.push(Date.now() - new Date(data.taskAssigned.task.createdAt).getTime());
        if (++received >= expected) reached();
      },
      error: (e) => {
        process.stderr.write(`subscription failed: ${JSON.stringify(e)}\n`);
        reached();
      },
      complete: () => undefined,
    },
  );
  // graphql-ws does not acknowledge a subscribe: give it time to reach the server.
  await sleep(300);
  const http = sender(new URL(url as string));
  const body = JSON.stringify({ query: `mutation { startWorkflow(input: { name: "l", steps: [{ key: "x", capability: "${capability}" }] }) { id } }` });
  /** Sends n starts on schedule; resolves with the rate they were answered at, once every one has reached the agent (or time is up). */
  const send = async (n: number): Promise<number> => {
    expected += n;
    const all = new Promise<void>((r) => (reached = r));
    const gap = 1000 / Math.max(1, rate);
    const start = performance.now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const wait = start + i * gap - performance.now();
      if (wait > 0) await sleep(wait);
      sends.push(http.send(body));
    }
    await Promise.all(sends);
    // The rate the server kept up with: starts answered per second over the whole send.
    const answered = n / ((performance.now() - start) / 1000);
    if (received < expected) await Promise.race([all, sleep(RECEIVE_TIMEOUT_MS)]);
    return answered;
  };
  // Measured warm, as the loads are: the same traffic first, not counted.
  if (warmUp > 0) await send(warmUp);
  latencies = [];
  const answered = await send(count);
  http.close();
  dispose();
  await client.dispose();
  process.stdout.write(`${JSON.stringify({ p50: percentile(latencies, 50), p99: percentile(latencies, 99), answered, received: latencies.length })}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
