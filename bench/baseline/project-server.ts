// The real server (exactly what `npm start` runs) plus the benchmark's heap probe.
import { exitWith, failedToStart, runServer } from '../../src/server/main';
import { serveHeap } from './heap';

serveHeap(Number(process.env.HEAP_PORT));
runServer(process.env).then(exitWith, failedToStart);
