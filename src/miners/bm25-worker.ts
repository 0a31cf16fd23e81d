/** Worker thread entry of BM25 mining pools (mineTask in bm25-task.ts). */
import { serveBm25Task } from '../search/bm25/worker.ts';
import { runMine } from './bm25-task.ts';

serveBm25Task(runMine);
