// Heap probe for the fan-out benchmark: GET /heap on HEAP_PORT answers the heap used after a full
// GC (the process runs with --expose-gc). Imported by both servers the benchmark compares.
import { createServer } from 'node:http';

export function serveHeap(port: number): void {
  createServer((_req, res) => {
    (globalThis as { gc?: () => void }).gc?.();
    res.end(String(process.memoryUsage().heapUsed));
  })
    .listen(port, '127.0.0.1')
    .unref();
}
