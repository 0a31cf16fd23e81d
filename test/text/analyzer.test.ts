import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAnalyzer, frenchLightStem, type AnalyzerConfig } from '../../src/text/analyzer.ts';

// [case, config, text, expected terms]
const cases: [string, Partial<AnalyzerConfig>, string, string[]][] = [
  ['lowercase unicode word runs', { lang: 'none' }, 'The U.S. Army — 1st Élysée!', ['the', 'u', 's', 'army', '1st', 'élysée']],
  ['NFD input equals NFC input', { lang: 'none' }, 'E\u0301lyse\u0301e', ['élysée']],
  ['digits and marks stay in the word', { lang: 'none' }, 'Super Bowl 50 naïve', ['super', 'bowl', '50', 'naïve']],
  ['english stopwords dropped', { lang: 'en', stem: false }, 'Who won the Super Bowl?', ['won', 'super', 'bowl']],
  ['english stopwords kept on request', { lang: 'en', stem: false, stopwords: false }, 'Who won the game', ['who', 'won', 'the', 'game']],
  ['english porter2 stems', { lang: 'en' }, 'running passages generously', ['run', 'passag', 'generous']],
  ['french elision, straight apostrophe', { lang: 'fr', stem: false, stopwords: false }, "l'Élysée", ['élysée']],
  ['french elision, curly apostrophe and qu’', { lang: 'fr', stem: false, stopwords: false }, 'qu’il jusqu’à d’Artagnan', ['il', 'à', 'artagnan']],
  ['apostrophe inside a word is a split, not an elision', { lang: 'fr', stem: false, stopwords: false }, "aujourd'hui", ['aujourd', 'hui']],
  ['french stopwords', { lang: 'fr', stem: false }, 'le palais de la République', ['palais', 'république']],
  ['french light stemming folds plural and feminine', { lang: 'fr' }, 'les chevaux arrivées arrivés rapidement', ['cheval', 'arriv', 'arriv', 'rapid']],
  ['empty text', { lang: 'en' }, '  ... ', []],
];

for (const [name, config, text, expected] of cases) {
  test(`analyzer: ${name}`, () => assert.deepEqual(createAnalyzer(config).analyze(text), expected));
}

test('analyzer: defaults are English with stopwords and stemming', () => {
  assert.deepEqual(createAnalyzer().config, { lang: 'en', stopwords: true, stem: true });
});

test('analyzer: unknown language is refused', () => {
  assert.throws(() => createAnalyzer({ lang: 'xx' as 'en' }), /unknown analyzer language/);
});

test('frenchLightStem never shortens below 3 characters', () => {
  for (const w of ['les', 'eux', 'ses', 'as', 'été', 'aux']) assert.ok(frenchLightStem(w).length >= Math.min(3, w.length), w);
});
