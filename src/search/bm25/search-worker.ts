/** Worker thread entry of BM25 search pools (startBm25Runner). */
import { SEARCH_TASK } from './pool.ts';
import { serveBm25Task } from './worker.ts';

serveBm25Task(SEARCH_TASK.run);
