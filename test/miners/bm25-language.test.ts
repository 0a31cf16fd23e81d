/**
 * The BM25 analyzer follows the data's language unless --lang says otherwise (issue 12): records
 * converted from PIAF are mined with the French analyzer, a corpus of piaf-<n> passages is indexed
 * with it, an existing index keeps its own, and an explicit --lang wins. Observed through the
 * commands themselves: the mining report / index header, and a ranking only French stopwords explain.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCommand } from '../../src/commands/index.ts';
import { resolveOptions } from '../../src/options.ts';
import { languageOfDataset } from '../../src/text/analyzer.ts';
import type { DprRecord } from '../../src/types.ts';
import { FIXTURES } from '../_paths.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dprep-bm25-lang-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs a command as the CLI and the pipeline do: options resolved from their declaration. */
async function run(id: string, raw: Record<string, unknown>): Promise<{ metrics?: Record<string, unknown>; log: string[] }> {
  const cmd = findCommand(id)!;
  const log: string[] = [];
  const result = await cmd.run(resolveOptions(cmd.options, { ...('threads' in cmd.options ? { threads: 1 } : {}), ...raw }, id), { log: (m: string) => void log.push(m) });
  return { metrics: (result as { metrics?: Record<string, unknown> } | undefined)?.metrics, log };
}

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

test('languageOfDataset: a known data set name, alone or before a non-letter, names its language', () => {
  const cases: [string, string | undefined][] = [
    ['piaf', 'fr'], ['PIAF', 'fr'], ['piaf-v1.1', 'fr'], ['piaf-1203', 'fr'], ['fquad', 'fr'], ['fquad_dev', 'fr'],
    ['squad1', undefined], ['squad2', undefined], ['nq', undefined], ['piafx', undefined], ['my-piaf', undefined],
    ['8841823', undefined], ['constructor', undefined], ['', undefined],
  ];
  for (const [name, lang] of cases) assert.equal(languageOfDataset(name), lang, name);
});

// A question whose only shared words with one passage are French function words: the French
// analyzer drops them (no hit), the English one keeps them (a strong hit).
const passages = [
  { passage_id: 'piaf-0', title: 'Élysée', text: "Le palais de l'Élysée fut construit par Armand-Claude Mollet en 1720." },
  { passage_id: 'piaf-1', title: 'Élysée', text: "L'Élysée accueille les présidents de la République depuis 1848." },
  { passage_id: 'piaf-2', title: 'Liste', text: 'le de la le de la le de la des les du une' },
  { passage_id: 'piaf-3', title: 'Paris', text: 'Paris compte de nombreux palais, dont le Louvre et le Luxembourg.' },
];
const record = (dataset: string): DprRecord => ({
  dataset,
  question: "Qui a construit le palais de l'Élysée ?",
  answers: ['Armand-Claude Mollet'],
  positive_ctxs: [{ ...passages[0] }],
  negative_ctxs: [],
  hard_negative_ctxs: [],
});
const corpus = join(tmp, 'fr.corpus.jsonl');
writeFileSync(corpus, passages.map((p) => JSON.stringify(p)).join('\n') + '\n');
const piafRecords = join(tmp, 'piaf.dpr.json');
writeFileSync(piafRecords, JSON.stringify([record('piaf')]));

test('mine bm25 without --lang: PIAF records get the French analyzer (stopword-only passage not a hit); --lang en overrides', async () => {
  const auto = await run('mine.bm25', { examples: piafRecords, corpus, out: join(tmp, 'auto.json'), depth: 10, negatives: 3 });
  const report = readJson(join(tmp, 'auto.json.mining.json'));
  assert.equal(report.settings.analyzer.lang, 'fr');
  assert.match(report.languageFrom, /dataset "piaf"/);
  assert.ok(auto.log.some((l) => /analyzer language fr \(from dataset "piaf"/.test(l)), auto.log.join('\n'));
  const frNegs = readJson(join(tmp, 'auto.json'))[0].hard_negative_ctxs.map((c: { passage_id: string }) => c.passage_id);
  assert.ok(!frNegs.includes('piaf-2'), `French stopwords only, yet mined: ${frNegs}`);
  assert.ok(frNegs.includes('piaf-1'), `the other Élysée passage: ${frNegs}`);

  await run('mine.bm25', { examples: piafRecords, corpus, out: join(tmp, 'en.json'), depth: 10, negatives: 3, lang: 'en' });
  const en = readJson(join(tmp, 'en.json.mining.json'));
  assert.equal(en.settings.analyzer.lang, 'en');
  assert.equal(en.languageFrom, '--lang');
  const enNegs = readJson(join(tmp, 'en.json'))[0].hard_negative_ctxs.map((c: { passage_id: string }) => c.passage_id);
  assert.ok(enNegs.includes('piaf-2'), `English keeps "le", "de", "la" as terms: ${enNegs}`);
});

test('mine bm25 --lang auto: a non-PIAF dataset is English; an existing index keeps its language (no clash)', async () => {
  const squadRecords = join(tmp, 'squad.dpr.json');
  const squadCorpus = join(tmp, 'squad.corpus.jsonl');
  writeFileSync(squadCorpus, passages.map((p) => JSON.stringify({ ...p, passage_id: p.passage_id.replace('piaf', 'squad1') })).join('\n') + '\n');
  writeFileSync(squadRecords, JSON.stringify([{ ...record('squad1'), positive_ctxs: [{ ...passages[0], passage_id: 'squad1-0' }] }]));
  await run('mine.bm25', { examples: squadRecords, corpus: squadCorpus, out: join(tmp, 'squad.json'), depth: 10, negatives: 3 });
  const squad = readJson(join(tmp, 'squad.json.mining.json'));
  assert.equal(squad.settings.analyzer.lang, 'en');
  assert.match(squad.languageFrom, /default/);

  // An index built in English is used as it is by PIAF records on auto.
  const index = join(tmp, 'en.bm25');
  await run('index.bm25', { corpus, out: index, lang: 'en' });
  await run('mine.bm25', { examples: piafRecords, index, out: join(tmp, 'idx.json'), depth: 10, negatives: 3 });
  const idx = readJson(join(tmp, 'idx.json.mining.json'));
  assert.equal(idx.settings.analyzer.lang, 'en');
  assert.match(idx.languageFrom, /header of index/);
});

test('index bm25 --lang auto: a corpus written by convert piaf (piaf-<n> ids) is indexed in French, others in English; --lang wins', async () => {
  const out = join(tmp, 'conv');
  await run('convert.piaf', { input: join(FIXTURES, 'piaf', 'piaf-mini-dev.json'), out: `${out}.dpr.jsonl`, corpus: `${out}.corpus.jsonl` });
  const fr = await run('index.bm25', { corpus: `${out}.corpus.jsonl`, out: join(tmp, 'piaf.bm25') });
  assert.equal(readJson(join(tmp, 'piaf.bm25', 'header.json')).analyzer.lang, 'fr');
  assert.equal(fr.metrics?.language, 'fr');
  assert.ok(fr.log.some((l) => /analyzer language fr \(from passage id "piaf-0"/.test(l)), fr.log.join('\n'));

  const marco = join(tmp, 'marco.tsv');
  writeFileSync(marco, '0\tThe palace was built in 1720.\n1\tParis has many palaces.\n');
  await run('index.bm25', { corpus: marco, out: join(tmp, 'marco.bm25') });
  assert.equal(readJson(join(tmp, 'marco.bm25', 'header.json')).analyzer.lang, 'en');

  await run('index.bm25', { corpus: `${out}.corpus.jsonl`, out: join(tmp, 'none.bm25'), lang: 'none' });
  assert.equal(readJson(join(tmp, 'none.bm25', 'header.json')).analyzer.lang, 'none');
});
