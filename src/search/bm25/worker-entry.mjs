// Worker thread entry, plain JavaScript on purpose: on Node 20 a worker started with
// `execArgv: ['--import', 'tsx']` still cannot load .ts files, so the worker registers tsx's
// loader itself (as bin/dprep.js does) and then imports the TypeScript body: the index builder's
// (workerData.role 'build') or the query runner's.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData?.role === 'build' ? './build-worker.ts' : './worker.ts');
