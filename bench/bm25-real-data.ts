/**
 * Real-text BM25 corpus at any size, for bench/bm25-real.sh: N passages made by seeded
 * recombination of real sentences, and Q real questions.
 *
 * Sentences: every passage/context text of ../shared/data that is plain prose — SQuAD v1.1 dev
 * and SQuAD v2.0 (CS224n half) contexts, PIAF v1.1 contexts (French), the MS MARCO DL19 collection
 * subset, the BEIR arcd/dbpedia subset corpora, NQ's haystack DPR sample and the psgs_w100 sample
 * — split after `.`, `!` or `?` followed by a space, deduplicated, kept when 4..80 words.
 * Passage i: sentences drawn uniformly (seeded by i) until the passage has at least 90 words.
 * Text is written as the `--lang none` analyzer's terms joined by single spaces (lowercase
 * letter/digit runs), so dprep and Xapian index exactly the same terms: no analyzer differs.
 * Queries: SQuAD v1.1 dev and PIAF questions, analyzed the same way, a seeded sample of Q.
 * Usage: node --import tsx bench/bm25-real-data.ts N Q DIR   → DIR/real-N.jsonl, DIR/real-queries-Q.tsv
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createAnalyzer } from '../src/text/analyzer.ts';
import { seededRandom, deriveSeed } from '../src/util/random.ts';
import { SHARED_DATA } from '../test/_paths.ts';

const [n, q, dir] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const analyzer = createAnalyzer({ lang: 'none' });
const texts: string[] = [];
const questions: string[] = [];
const shared = (...p: string[]) => join(SHARED_DATA, ...p);
const jsonl = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

for (const file of [shared('squad_v1.1', 'dev-v1.1.json'), shared('squad_v2.0', 'dev-v2.0.cs224n-half.json'), shared('piaf', 'piaf-v1.1.json')]) {
  for (const article of JSON.parse(readFileSync(file, 'utf8')).data) {
    for (const para of article.paragraphs) {
      texts.push(para.context);
      if (!file.includes('v2.0')) for (const qa of para.qas) questions.push(qa.question);
    }
  }
}
for (const line of readFileSync(shared('msmarco', 'collection_tsv_dl19_subset', 'collection.tsv'), 'utf8').split('\n')) if (line) texts.push(line.split('\t')[1] ?? '');
for (const sub of ['arcd_subset', 'dbpedia_subset']) for (const d of jsonl(shared('beir', sub, 'corpus.jsonl'))) texts.push(d.text);
for (const d of jsonl(shared('wikipedia_psgs_w100', 'psgs_w100_pyserini_100.jsonl'))) texts.push(d.contents ?? d.text ?? '');
for (const r of JSON.parse(readFileSync(shared('nq', 'dpr_biencoder', 'haystack_dpr_sample.json'), 'utf8'))) for (const c of [...(r.positive_ctxs ?? []), ...(r.negative_ctxs ?? []), ...(r.hard_negative_ctxs ?? [])]) texts.push(c.text);

const seen = new Set<string>();
const sentences: string[][] = [];
for (const t of texts) {
  for (const s of t.split(/(?<=[.!?])\s+/)) {
    const terms = analyzer.analyze(s);
    const key = terms.join(' ');
    if (terms.length < 4 || terms.length > 80 || seen.has(key)) continue;
    seen.add(key);
    sentences.push(terms);
  }
}
const vocabulary = new Set(sentences.flat()).size;
console.error(`bm25-real-data: ${sentences.length} distinct sentences, ${vocabulary} distinct terms, ${questions.length} questions`);

const out = createWriteStream(join(dir, `real-${n}.jsonl`));
let words = 0;
for (let i = 0; i < n; i++) {
  const rng = seededRandom(deriveSeed(7, 'bm25-real', i));
  const parts: string[] = [];
  let len = 0;
  while (len < 90) {
    const s = sentences[Math.floor(rng() * sentences.length)];
    parts.push(s.join(' '));
    len += s.length;
  }
  words += len;
  if (!out.write(JSON.stringify({ passage_id: `r${i}`, title: '', text: parts.join(' ') }) + '\n')) await once(out, 'drain');
}
out.end();
await once(out, 'finish');
const rng = seededRandom(deriveSeed(7, 'bm25-real-queries'));
const picked: string[] = [];
const pool = questions.map((x) => analyzer.analyze(x).join(' ')).filter((x) => x.includes(' '));
for (let i = 0; i < q; i++) picked.push(pool[Math.floor(rng() * pool.length)]);
createWriteStream(join(dir, `real-queries-${q}.tsv`)).end(picked.map((text, i) => `q${i}\t${text}`).join('\n') + '\n');
console.log(JSON.stringify({ step: 'gen', passages: n, sentences: sentences.length, vocabulary, meanWords: words / n, queries: q }));
