/**
 * Builds fixtures/trainer/squad-bm25.{train,dev}.jsonl: DPR records from the real SQuAD v1.1 dev set
 * (../shared/data/squad_v1.1/dev-v1.1.json) for the trainer's "loss goes down" test.
 * Contexts are cut into passages of at most 100 words; the positive is the passage holding the
 * first answer's character offset; hard negatives are the top BM25 passages (k1 1.2, b 0.75) of the
 * same articles that are not the positive and do not contain an answer (DPR has_answer).
 * One question per paragraph, so in-batch negatives are rarely the question's own passage.
 * Run: npx tsx bench/train-make-fixture.ts
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnswerMatcher } from '../src/text/answer.ts';
import type { DprRecord, Ctx } from '../src/types.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const squad = JSON.parse(readFileSync(join(ROOT, '..', 'shared', 'data', 'squad_v1.1', 'dev-v1.1.json'), 'utf8'));
const ARTICLES = [0, 1, 2, 3, 4, 5];
const PER_ARTICLE = 22;

interface Chunk extends Ctx { start: number; end: number }
const passages: Chunk[] = [];
const questions: { q: string; answers: string[]; start: number; para: number; title: string }[] = [];
for (const a of ARTICLES) {
  const art = squad.data[a];
  let taken = 0;
  art.paragraphs.forEach((p: any, pi: number) => {
    const ctx: string = p.context;
    const words = [...ctx.matchAll(/\S+/g)];
    for (let w = 0; w < words.length; w += 100) {
      const start = w === 0 ? 0 : words[w].index!;
      const last = words[Math.min(w + 99, words.length - 1)];
      const end = w + 100 >= words.length ? ctx.length : last.index! + last[0].length;
      passages.push({ title: art.title, text: ctx.slice(start, end).trim(), passage_id: `squad-dev-${a}-${pi}-${w / 100}`, start, end, score: 0 });
    }
    const qa = p.qas[0];
    if (taken < PER_ARTICLE && qa) {
      questions.push({ q: qa.question.trim(), answers: [...new Set<string>(qa.answers.map((x: any) => x.text))], start: qa.answers[0].answer_start, para: pi, title: art.title });
      taken++;
    }
  });
}
const tok = (s: string) => s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
const docs = passages.map((p) => tok(p.title + ' ' + p.text));
const avgdl = docs.reduce((n, d) => n + d.length, 0) / docs.length;
const df = new Map<string, number>();
for (const d of docs) for (const t of new Set(d)) df.set(t, (df.get(t) ?? 0) + 1);
const bm25 = (query: string[], d: string[]) => {
  let s = 0;
  for (const t of new Set(query)) {
    const f = d.filter((x) => x === t).length;
    if (!f) continue;
    const idf = Math.log(1 + (docs.length - df.get(t)! + 0.5) / (df.get(t)! + 0.5));
    s += (idf * f * 2.2) / (f + 1.2 * (0.25 + (0.75 * d.length) / avgdl));
  }
  return s;
};
const records: DprRecord[] = [];
for (const q of questions) {
  const prefix = `squad-dev-${ARTICLES[squad.data.findIndex((x: any) => x.title === q.title)]}-${q.para}-`;
  const pos = passages.find((p) => p.passage_id.startsWith(prefix) && p.start <= q.start && q.start < p.end)!;
  const matcher = new AnswerMatcher(q.answers, 'string');
  const qt = tok(q.q);
  const ranked = passages.map((p, i) => ({ p, s: bm25(qt, docs[i]) })).sort((x, y) => y.s - x.s);
  const hard = ranked.filter(({ p }) => p !== pos && !matcher.matches(p.text)).slice(0, 2);
  const ctx = (p: Chunk, score: number): Ctx => ({ title: p.title, text: p.text, score: Number(score.toFixed(4)), passage_id: p.passage_id });
  records.push({ dataset: 'squad1_dev_bm25', question: q.q, answers: q.answers, positive_ctxs: [ctx(pos, 1000)], negative_ctxs: [], hard_negative_ctxs: hard.map((h) => ctx(h.p, h.s)) });
}
const out = join(ROOT, 'fixtures', 'trainer');
mkdirSync(out, { recursive: true });
const dev = records.filter((_, i) => i % 4 === 3);
const train = records.filter((_, i) => i % 4 !== 3);
writeFileSync(join(out, 'squad-bm25.train.jsonl'), train.map((r) => JSON.stringify(r)).join('\n') + '\n');
writeFileSync(join(out, 'squad-bm25.dev.jsonl'), dev.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.log(`passages ${passages.length}, train ${train.length}, dev ${dev.length}`);
