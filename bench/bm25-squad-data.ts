/**
 * Writes SQuAD v1.1 dev as DPR records + a ~100-word passage corpus into .bench-data/ for the
 * mining benchmark (same chunking as the tests' stand-in converter).
 * Usage: node --import tsx bench/bm25-squad-data.ts
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { squadToDpr } from '../test/search/_squad.ts';
import { REPO_ROOT, SHARED_DATA } from '../test/_paths.ts';

const dir = join(REPO_ROOT, '.bench-data');
mkdirSync(dir, { recursive: true });
const { passages, records } = squadToDpr(join(SHARED_DATA, 'squad_v1.1', 'dev-v1.1.json'));
writeFileSync(join(dir, 'squad-dev.corpus.jsonl'), passages.map((p) => JSON.stringify(p)).join('\n') + '\n');
writeFileSync(join(dir, 'squad-dev.dpr.json'), JSON.stringify(records));
console.log(`${passages.length} passages, ${records.length} records → ${dir}`);
