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
