import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasAnswer, dprTokens } from '../../src/text/answer.ts';

// [case, answers, text, mode, expected] — each row is one consequence of DPR's has_answer.
const cases: [string, string[], string, 'string' | 'regex', boolean][] = [
  ['whole tokens only', ['art'], 'a party at the museum', 'string', false],
  ['case-insensitive', ['denver broncos'], 'The Denver Broncos won', 'string', true],
  ['punctuation must match', ['U.S.'], 'the US army', 'string', false],
  ['punctuation present', ['U.S.'], 'the U.S. army', 'string', true],
  ['no accent folding', ['Elysee'], "le palais de l'Élysée", 'string', false],
  ['NFC text vs NFD answer', ['E\u0301lyse\u0301e'], "l'\u00c9lys\u00e9e", 'string', true],
  ['french elision token', ['Élysée'], 'l’Élysée', 'string', true],
  ['zero-width space is not a token', ['New York'], 'New\u200b York', 'string', true],
  ['CJK single chars are letter runs', ['東京'], '首都は東京です', 'string', false],
  ['CJK whole run', ['首都は東京です'], '首都は東京です。', 'string', true],
  ['arabic', ['القاهرة'], 'عاصمة مصر هي القاهرة .', 'string', true],
  ['empty answer never matches', [''], 'anything', 'string', false],
  ['whitespace answer never matches', ['  '], 'anything', 'string', false],
  ['one of several answers', ['zzz', 'won'], 'The Denver Broncos won', 'string', true],
  ['DPR-tokenised answer', ['July 5 , 2018'], 'released on July 5, 2018 in Japan', 'string', true],
  ['regex anywhere, case-insensitive', ['20\\s?,?\\s?(32|40)0'], 'about 20,400 feet', 'regex', true],
  ['regex inside a word', ['art'], 'a party', 'regex', true],
  ['invalid regex matches nothing', ['(unclosed'], '(unclosed', 'regex', false],
];

for (const [name, answers, text, mode, expected] of cases) {
  test(`hasAnswer: ${name}`, () => assert.equal(hasAnswer(answers, text, mode), expected));
}

test('dprTokens splits like DPR SimpleTokenizer', () => {
  assert.deepEqual(dprTokens("Don't stop, U.S.A.!"), ['don', "'", 't', 'stop', ',', 'u', '.', 's', '.', 'a', '.', '!']);
});

// More consequences of DPR's has_answer, each reasoned from its definition (README, Answer matching): NFD, tokens
// `[\p{L}\p{N}\p{M}]+` or one `[^\p{Z}\p{C}]` char, lowercased, contiguous run; regex mode: NFD, re.search
// with IGNORECASE | UNICODE | MULTILINE, a pattern Python cannot compile matches nothing.
// [case, answers, text, mode, expected]
const more: [string, string[], string, 'string' | 'regex', boolean][] = [
  // accents and normalization
  ['accent kept, case folded', ['Café'], 'the CAFÉ society', 'string', true],
  ['unaccented answer vs accented text', ['cafe'], 'un café noir', 'string', false],
  ['NFD text vs NFC answer', ['Pétain'], 'Marshal Pe\u0301tain', 'string', true],
  ['combining mark stays in its token', ['Pe'], 'Pe\u0301tain', 'string', false],
  ['precomposed vs decomposed ñ', ['Espa\u00f1a'], 'Espan\u0303a', 'string', true],
  ['no ß folding (lowercase, not casefold)', ['STRASSE'], 'die Straße', 'string', false],
  // punctuation: every non-space symbol is a token of its own
  ['text punctuation breaks the run', ['Dr Who'], 'Dr. Who returns', 'string', false],
  ['spaces around punctuation do not matter', ['Coca-Cola'], 'drink coca - cola', 'string', true],
  ['hyphen vs space', ['Coca-Cola'], 'Coca Cola', 'string', false],
  ['thousands separator must match', ['1,000'], 'about 1000 people', 'string', false],
  ['DPR-tokenised number', ['1,000'], 'about 1 , 000 people', 'string', true],
  ['trailing punctuation in text is its own token', ['Paris'], 'capital is Paris.', 'string', true],
  ['answer with final period', ['Inc.'], 'Apple Inc', 'string', false],
  // apostrophes
  ['split clitic matches joined form', ["Destiny 's Child"], "Destiny's Child", 'string', true],
  ['straight vs curly apostrophe', ["O'Connor"], 'Sandra Day O’Connor', 'string', false],
  ['same curly apostrophe', ['O’Connor'], 'Sandra Day O’Connor', 'string', true],
  ['apostrophe is required', ["O'Connor"], 'OConnor', 'string', false],
  // scripts
  ['CJK run is one token: substring is not a match', ['東京'], '東京タワー', 'string', false],
  ['CJK separated by space', ['東京'], '東京 タワー', 'string', true],
  ['ideographic full stop is a token', ['首都'], '首都。', 'string', true],
  ['arabic comma splits', ['القاهرة'], 'مدينة القاهرة، مصر', 'string', true],
  ['arabic diacritic is part of the token', ['مصر'], 'مِصر', 'string', false],
  ['arabic same diacritics', ['مِصر'], 'في مِصر', 'string', true],
  ['greek, case folded', ['Αθήνα'], 'ΑΘΉΝΑ', 'string', true],
  // invisible characters
  ['zero-width space splits a word', ['New York'], 'New\u200bYork', 'string', true],
  ['zero-width space: joined answer does not match', ['NewYork'], 'New\u200bYork', 'string', false],
  ['soft hyphen splits a word', ['Llanfair pwll'], 'Llanfair\u00adpwll', 'string', true],
  ['no-break space is a space', ['New York'], 'New\u00a0York', 'string', true],
  ['BOM inside text is not a token', ['New York'], 'New \ufeffYork', 'string', true],
  // empty answers
  ['empty among real answers', ['', 'York'], 'New York', 'string', true],
  ['zero-width-only answer is empty', ['\u200b'], 'anything \u200b', 'string', false],
  ['no answers at all', [], 'anything', 'string', false],
  ['empty regex never matches', [''], 'anything', 'regex', false],
  // regex mode
  ['regex case-insensitive', ['fifteen'], 'FIFTEEN republics', 'regex', true],
  ['regex needs no token boundary', ['cafe'], 'café', 'regex', true], // NFD: cafe + U+0301
  ['regex alternation', ['Oct(.|ober)?\\s* 10|1954'], 'born October 10', 'regex', true],
  ['regex word boundary', ['\\b2,?[4567][0-9][0-9]\\b'], 'at 12500 feet', 'regex', false],
  ['regex word boundary hit', ['\\b2,?[4567][0-9][0-9]\\b'], 'at 2,500 feet', 'regex', true],
  ['regex multiline ^', ['^Paris'], 'France\nParis is big', 'regex', true],
  ['regex \\Z is end of text', ['Paris\\Z'], 'Paris\nLondon', 'regex', false],
  ['regex \\Z at the end', ['London\\Z'], 'Paris\nLondon', 'regex', true],
  ['regex \\A is start of text', ['\\AParis'], 'Paris\nLondon', 'regex', true],
  ['regex escaped comma (Python accepts)', ['6\\,194 m'], 'Denali is 6,194 m high', 'regex', true],
  ['regex unknown letter escape fails in Python', ['P\\etain|Laval'], 'Laval and Petain', 'regex', false],
  ['regex NFD turns \\é into a bad escape', ['Laval|Petain|Marshal Philippe P\\étain'], 'Laval', 'regex', false],
  ['regex other answers still count', ['P\\etain', 'Laval'], 'Laval', 'regex', true],
];
for (const [name, answers, text, mode, expected] of more) {
  test(`hasAnswer: ${name}`, () => assert.equal(hasAnswer(answers, text, mode), expected));
}

// All 694 CuratedTREC regex answers against 851 real passages (the Haystack DPR sample and pyserini's
// psgs_w100 sample): the matching (question, passage) pairs must be exactly those DPR's has_answer gives.
// Expected values computed with Python 3.11: re.compile(NFD(answer), IGNORECASE|UNICODE|MULTILINE)
// (uncompilable → no match; 3 such patterns) and pattern.search(NFD(text)).
test('regex mode agrees with Python on CuratedTREC answers over real passages', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { createHash } = await import('node:crypto');
  const { AnswerMatcher } = await import('../../src/text/answer.ts');
  const { SHARED_DATA } = await import('../_paths.ts');
  const lines = (f: string) => readFileSync(join(SHARED_DATA, f), 'utf8').split('\n').filter(Boolean);
  const questions = lines('nq/dpr_qa_tsv/topics.dpr.curated.test.txt').map((l) => JSON.parse(l).answer as string[]);
  const texts: string[] = [];
  const seen = new Set<string>();
  for (const r of JSON.parse(readFileSync(join(SHARED_DATA, 'nq/dpr_biencoder/haystack_dpr_sample.json'), 'utf8'))) {
    for (const key of ['positive_ctxs', 'negative_ctxs', 'hard_negative_ctxs']) {
      for (const c of r[key]) if (!seen.has(c.passage_id)) seen.add(c.passage_id) && texts.push(c.text);
    }
  }
  for (const l of lines('wikipedia_psgs_w100/psgs_w100_pyserini_100.jsonl')) texts.push(JSON.parse(l).contents);
  assert.deepEqual([questions.length, texts.length], [694, 851]);
  const pairs: string[] = [];
  questions.forEach((answers, qi) => {
    const m = new AnswerMatcher(answers, 'regex');
    texts.forEach((t, pi) => m.matches(t) && pairs.push(`${qi}:${pi}`));
  });
  assert.equal(pairs.length, 8970);
  assert.equal(createHash('sha256').update(pairs.join('\n')).digest('hex'), '33e48dc6aa5ea572aeada0884d8f23c2b37e76da3952be43da00ebdd15ab5c9d');
});
