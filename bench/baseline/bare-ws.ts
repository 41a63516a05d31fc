// The fan-out baseline: a bare graphql-ws server with an in-memory pub/sub and a schema of the
// same shape as taskUpdated. POST /publish?count=N&gapMs=G publishes N events, G ms apart.
import { createServer } from 'node:http';
import { buildSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { serveHeap } from './heap';
import { subscribeTo } from './in-memory-pubsub';

type Event = { taskUpdated: { task: { id: string; status: string }; at: string } };
const listeners = new Set<(e: Event) => void>();

const subscribe = () => subscribeTo(listeners);

const schema = buildSchema(`
  type Query { ok: Boolean }
  type Task { id: ID! status: String! }
  type TaskEvent { task: Task! at: String! }
  type Subscription { taskUpdated(workflowId: ID): TaskEvent! }`);

const http = createServer(async (req, res) => {
  const u = new URL(req.url ?? '/', 'http://x');
  if (u.pathname === '/publish') {
    const count = Number(u.searchParams.get('count'));
    const gap = Number(u.searchParams.get('gapMs'));
    for (let i = 0; i < count; i++) {
      const e: Event = { taskUpdated: { task: { id: `t${i}`, status: 'RUNNING' }, at: new Date().toISOString() } };
      for (const l of listeners) l(e);
      await new Promise((r) => setTimeout(r, gap));
    }
    res.end('ok');
  } else if (u.pathname === '/subscribers') {
    res.end(String(listeners.size));
  } else {
    res.statusCode = 404;
    res.end();
  }
});
const wss = new WebSocketServer({ server: http, path: '/graphql' });
useServer({ schema, roots: { subscription: { taskUpdated: subscribe } } }, wss);
serveHeap(Number(process.env.HEAP_PORT));
http.listen(Number(process.env.PORT), '127.0.0.1');
