/** Worker thread entry of positive mining pools (positivesTask in positives.ts). */
import { serveBm25Task } from '../search/bm25/worker.ts';
import { runPositives } from './positives.ts';

serveBm25Task(runPositives);
