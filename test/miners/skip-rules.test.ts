// One test body over both miners (kysely's loop over DIALECTS): the same bad records must be
// skipped under the same reasons, in the same order of rules, by BM25 and by dense mining.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mineBm25 } from '../../src/miners/bm25.ts';
import { mineDense } from '../../src/miners/dense.ts';
import { NO_ANSWERS_NOTE } from '../../src/miners/filter.ts';
import type { MinerSettings } from '../../src/miners/options.ts';
import { encodeCorpus } from '../../src/search/vector/encode.ts';
import { readCorpus } from '../../src/io/corpus.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { FIXTURES } from '../_paths.ts';
import { fakeEncoder } from '../search/_fake-encoder.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-skip-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const squad = JSON.parse(readFileSync(join(FIXTURES, 'quickstart/squad-mini-train.json'), 'utf8'));
const passages: Passage[] = [];
const good: DprRecord[] = [];
for (const article of squad.data) {
  for (const para of article.paragraphs) {
    const passage = { passage_id: `p${passages.length}`, title: article.title, text: para.context };
    passages.push(passage);
    const qa = para.qas[0];
    good.push({ dataset: 'squad1', question: qa.question, answers: qa.answers.map((a: { text: string }) => a.text), positive_ctxs: [passage], negative_ctxs: [], hard_negative_ctxs: [] });
  }
}

// Records with one problem, and records with two: these are what the rules' order decides.
const bad: DprRecord[] = [
  { ...good[0], question: '  ' },
  { ...good[1], answers: ['', ' '] },
  { ...good[2], positive_ctxs: [] },
  { ...good[3], answers: [' '], positive_ctxs: [] },
  { ...good[4], question: '', positive_ctxs: [] },
  { ...good[5], question: '', answers: [''] },
];
const noAnswers: DprRecord = { ...good[6], answers: [] };
const records = [...good.slice(0, 10), ...bad, noAnswers];
const expectedSkips = {
  'empty question': 3,
  'no positive_ctxs': 1,
  'no usable answer (every answer is empty)': 2,
};

const corpus = join(dir, 'corpus.jsonl');
const examples = join(dir, 'examples.jsonl');
writeFileSync(corpus, passages.map((p) => JSON.stringify(p)).join('\n') + '\n');
writeFileSync(examples, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
const encoder = fakeEncoder(64);
await encodeCorpus(readCorpus(corpus), encoder, join(dir, 'emb'), { batchSize: 32 });

const settings: MinerSettings = { depth: 20, negatives: 3, strategy: 'top', seed: 7, match: 'string', checkTitle: false };

/** Each miner run over the same inputs, reduced to what the skip rules decide. */
const MINERS: { name: string; mine(out: string): Promise<{ read: number; converted: number; skipped: Record<string, number>; noAnswers: number }> }[] = [
  {
    name: 'bm25',
    async mine(out) {
      const r = await mineBm25({ ...settings, examples, corpus, out, threads: 1 });
      return { read: r.records.read, converted: r.records.converted, skipped: r.records.skipped, noAnswers: r.records.extra[NO_ANSWERS_NOTE] ?? 0 };
    },
  },
  {
    name: 'dense',
    async mine(out) {
      const { summary } = await mineDense({ ...settings, examples, corpus, embeddings: join(dir, 'emb'), out, queryEncoder: encoder, skipTop: 0, keepExisting: false, index: { backend: 'exact' }, log: () => {} });
      const json = summary.toJSON();
      return { read: json.read, converted: json.converted, skipped: json.skipped, noAnswers: json.extra[NO_ANSWERS_NOTE] ?? 0 };
    },
  },
];

for (const miner of MINERS) {
  test(`${miner.name} mining: bad records are skipped under the shared reasons, in the shared order`, async () => {
    const out = join(dir, `${miner.name}.out.jsonl`);
    const r = await miner.mine(out);
    assert.equal(r.read, records.length);
    assert.deepEqual(r.skipped, expectedSkips);
    assert.equal(r.converted, records.length - bad.length);
    assert.equal(r.noAnswers, 1, 'answers: [] is mined (positives excluded by id and text) and noted once');
    const written = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as DprRecord);
    assert.deepEqual(written.map((w) => w.question), [...good.slice(0, 10), noAnswers].map((g) => g.question));
  });
}
