// Test worker for WorkerPool: answers { n } with { n, thread }, throws on n < 0, exits on n === 999.
import { threadId, workerData } from 'node:worker_threads';
import { serveRequests } from '../../src/util/workers.ts';

const { tag } = workerData as { tag: string };
serveRequests((body: { n: number }) => {
  if (body.n === 999) process.exit(3);
  if (body.n < 0) throw new Error(`negative ${body.n}`);
  return { n: body.n * 2, tag, thread: threadId };
});
