// Conversions of the real SQuAD / PIAF files in ../shared/data, checked for counts and invariants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { convertSquad, type SquadSource } from '../../src/converters/squad.ts';
import { hasAnswer } from '../../src/text/answer.ts';
import type { DprRecord, Passage } from '../../src/types.ts';
import { SHARED_DATA } from '../_paths.ts';

process.env.DPREP_QUIET = '1';

interface SourceStats {
  questions: number;
  impossible: number;
  answerSpans: number;
  contexts: Map<string, string>;
}

/** Counts straight from the raw JSON, independently of the converter. */
async function rawStats(file: string): Promise<SourceStats> {
  const root = JSON.parse(await readFile(file, 'utf8'));
  const stats: SourceStats = { questions: 0, impossible: 0, answerSpans: 0, contexts: new Map() };
  for (const a of root.data) {
    for (const p of a.paragraphs) {
      for (const q of p.qas) {
        stats.questions++;
        if (q.is_impossible) stats.impossible++;
        else stats.answerSpans += (q.answers ?? []).length;
        stats.contexts.set(String(q.id), p.context);
      }
    }
  }
  return stats;
}

// [file, source, expected dataset, questions (from data/README.md), passage words]
const files: [string, SquadSource, string, number, number][] = [
  ['squad_v1.1/dev-v1.1.json', 'squad', 'squad1', 10570, 100],
  ['piaf/piaf-v1.1.json', 'piaf', 'piaf', 7569, 100],
  ['piaf/piaf-v1.0.json', 'piaf', 'piaf', 3835, 50],
  ['squad_v2.0/dev-v2.0.first5articles.json', 'squad', 'squad2', 1407, 100],
  ['squad_v2.0/dev-v2.0.cs224n-half.json', 'squad', 'squad2', 6078, 100],
  ['squad_v2.0_pt/dev-v2.0.json', 'squad', 'squad2', 11873, 100],
];

for (const [rel, source, dataset, questions, passageWords] of files) {
  test(`real data ${rel}: every question accounted for, every positive passes DPR has_answer`, async () => {
    const file = join(SHARED_DATA, rel);
    const raw = await rawStats(file);
    const passages = new Map<string, Passage>();
    const records: DprRecord[] = [];
    const summary = await convertSquad(file, { passageWords, source }, {
      passage: async (p) => {
        assert.ok(!passages.has(p.passage_id), `duplicate passage id ${p.passage_id}`);
        passages.set(p.passage_id, p);
      },
      record: async (r) => void records.push(r),
    });
    assert.equal(raw.questions, questions);
    assert.equal(summary.read, questions);
    assert.equal(summary.read, summary.converted + summary.skippedTotal);
    assert.equal(summary.converted, records.length);
    assert.equal(summary.skipped.get('unanswerable (v2 is_impossible)') ?? 0, raw.impossible);
    // Every answer span of an answerable question is kept, deduplicated or dropped with a reason.
    const extra = (prefix: string) => [...summary.extra].filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v, 0);
    const idsSkippedAsDuplicate = summary.skipped.get('duplicate question id (later one skipped)') ?? 0;
    assert.equal(idsSkippedAsDuplicate, 0);
    assert.equal(extra('answers: kept') + extra('answers: duplicates') + extra('answers dropped'), raw.answerSpans);

    const ids = new Set<string>();
    for (const r of records) {
      assert.equal(r.dataset, dataset);
      assert.ok(r.id && !ids.has(r.id), `unique id ${r.id}`);
      ids.add(r.id!);
      assert.ok(r.answers.length > 0 && r.positive_ctxs.length > 0, r.id);
      assert.equal(r.question, r.question.trim());
      assert.equal(new Set(r.answers).size, r.answers.length, `${r.id}: distinct answers`);
      for (const ctx of r.positive_ctxs) {
        // The invariant the miners rely on: a positive contains an answer by DPR's has_answer.
        assert.ok(hasAnswer(r.answers, ctx.text), `${r.id}: positive ${ctx.passage_id} lacks an answer`);
        const p = passages.get(ctx.passage_id);
        assert.ok(p && p.text === ctx.text && p.title === ctx.title, `${r.id}: positive ${ctx.passage_id} is the corpus passage`);
        assert.ok(raw.contexts.get(r.id!)!.includes(ctx.text), `${r.id}: positive is a slice of its own context`);
      }
    }
    // Passages are about passageWords long: only answer-protecting moves make them longer.
    const lengths = [...passages.values()].map((p) => p.text.split(/\s+/).length);
    const longer = lengths.filter((n) => n > passageWords).length;
    assert.ok(longer <= (summary.extra.get('chunk boundaries moved to keep an answer whole') ?? 0));
    assert.equal(passages.size, summary.extra.get('passages written'));
  });
}

test('real data: SQuAD v1.1 dev loses only answers that are not whole tokens ("four" inside "fourth")', async () => {
  const records: DprRecord[] = [];
  const summary = await convertSquad(join(SHARED_DATA, 'squad_v1.1/dev-v1.1.json'), {}, {
    passage: async () => {},
    record: async (r) => void records.push(r),
  });
  assert.deepEqual([...summary.skipped.keys()], ['no usable answer: passage fails DPR has_answer (span not whole tokens)']);
  assert.deepEqual(summary.examples.get('no usable answer: passage fails DPR has_answer (span not whole tokens)'), ['data[3].paragraphs[5].qas[0] id=56dfa1d34a1a83140091ebd4']);
  assert.equal(summary.extra.get('answers: answer_start corrected'), undefined, 'all offsets line up in SQuAD v1.1 dev');
});

test("real data: PIAF's off-by-one answer_start is corrected, not dropped", async () => {
  const records: DprRecord[] = [];
  const summary = await convertSquad(join(SHARED_DATA, 'piaf/piaf-v1.1.json'), { source: 'piaf' }, {
    passage: async () => {},
    record: async (r) => void records.push(r),
  });
  assert.equal(summary.extra.get('answers: answer_start corrected'), 1);
  const r = records.find((x) => x.id === 'p140295202893328');
  assert.ok(r);
  assert.ok(r.answers.includes('sa voiture entre en collision avec un train'));
  assert.ok(r.positive_ctxs[0].text.includes('sa voiture entre en collision avec un train'));
});
