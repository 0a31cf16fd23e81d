import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KNOWN_TEMPLATES, parseTemplate, renderTemplate, resolveTemplate, storedTemplate } from '../../src/trainer/template.ts';
import { InputError, UsageError } from '../../src/util/errors.ts';

const RENDER: [string, { title?: string; text: string }, string][] = [
  ['query: {text}', { text: 'who is it?' }, 'query: who is it?'],
  ['Title: {title} Text: {text}', { title: 'Paris', text: 'Big city.' }, 'Title: Paris Text: Big city.'],
  // OpenMatch would render "Title:  Text: x"; an empty field swallows the space after it.
  ['Title: {title} Text: {text}', { title: '', text: 'x' }, 'Title: Text: x'],
  ['Title: {title} Text: {text}', { text: 'x' }, 'Title: Text: x'],
  ['passage: {title} {text}', { title: 'Paris', text: 'Big.' }, 'passage: Paris Big.'],
  ['passage: {title} {text}', { title: '', text: 'Big.' }, 'passage: Big.'],
  // A field at the end takes the space before it instead.
  ['{text} | {title}', { text: 'x' }, 'x |'],
  ['{text}', { title: 'ignored', text: 'x' }, 'x'],
  ['{{literal}} {text}', { text: 'x' }, '{literal} x'],
  ['{title}{text}', { title: 'A', text: 'b' }, 'Ab'],
  [KNOWN_TEMPLATES.bgeEn.query, { text: 'what is dpr' }, 'Represent this sentence for searching relevant passages: what is dpr'],
];

test('templates render per input', () => {
  for (const [source, input, want] of RENDER) assert.equal(renderTemplate(parseTemplate(source, '--t'), input), want, `${source} ${JSON.stringify(input)}`);
});

test('usesTitle says whether passages keep their titles', () => {
  assert.equal(parseTemplate('passage: {title} {text}', '--t').usesTitle, true);
  assert.equal(parseTemplate('query: {text}', '--t').usesTitle, false);
});

const BAD: [string, RegExp][] = [
  ['query: ', /--query-template: template "query: " has no \{text\}/],
  ['{title}', /has no \{text\}/],
  ['{text} {body}', /--query-template: unknown field \{body\}/],
  ['{Text}', /unknown field \{Text\}/],
  ['{text', /unclosed "\{"/],
  ['{text} }', /unmatched "\}"/],
];

test('a template without {text} or with an unknown field is a UsageError naming the option', () => {
  for (const [source, message] of BAD) {
    assert.throws(() => parseTemplate(source, '--query-template'), (err: Error) => err instanceof UsageError && message.test(err.message), source);
  }
});

test('stored templates come back per role; a broken stored one names the settings file', () => {
  const settings = { query_template: 'query: {text}', passage_template: null };
  assert.equal(storedTemplate(settings, 'query', 'enc/dprep_encoder.json')?.source, 'query: {text}');
  assert.equal(storedTemplate(settings, 'passage', 'enc/dprep_encoder.json'), undefined);
  assert.equal(storedTemplate({}, 'query', 'f'), undefined);
  assert.throws(
    () => storedTemplate({ passage_template: 'x' }, 'passage', 'enc/dprep_encoder.json'),
    (err: Error) => err instanceof InputError && err.message === 'enc/dprep_encoder.json, field "passage_template": template "x" has no {text}; every input needs its text (e.g. "query: {text}")',
  );
});

test('resolveTemplate: option, then stored, then the sentence-transformers prompt, else DPR pairs', () => {
  const stored = { query_template: 'q: {text}', passage_template: null };
  assert.equal(resolveTemplate('query', { option: 'query: {text}', stored, stPrefix: 'x: ' })?.source, 'query: {text}');
  assert.equal(resolveTemplate('query', { stored, stPrefix: 'x: ' })?.source, 'q: {text}');
  assert.equal(resolveTemplate('passage', { stored, stPrefix: 'passage: ', embedTitle: true })?.source, 'passage: {title} {text}');
  assert.equal(resolveTemplate('passage', { stPrefix: '' })?.source, '{text}');
  assert.equal(resolveTemplate('passage', { stored }), undefined);
  assert.throws(() => resolveTemplate('passage', { option: 'Title: {title}' }), (err: Error) => err instanceof UsageError && err.message.startsWith('--passage-template: '));
});
