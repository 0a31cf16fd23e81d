import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkIndexOf, chunkText, trimSpan, type Span } from '../../src/converters/chunk.ts';

/** Span of the n-th occurrence of `needle` in `text`. */
function spanOf(text: string, needle: string, nth = 0): Span {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(needle, at + 1);
  assert.ok(at >= 0, `${needle} not in ${text}`);
  return { start: at, end: at + needle.length };
}

const TEXT = 'one two three four five six seven';

// [case, text, words, protected answers, expected chunk texts, boundaries moved]
const cases: [string, string, number, string[], string[], number][] = [
  ['plain split, short tail', TEXT, 3, [], ['one two three', 'four five six', 'seven'], 0],
  ['exact multiple', 'a b c d', 2, [], ['a b', 'c d'], 0],
  ['one chunk when words >= length', TEXT, 100, [], [TEXT], 0],
  ['no words, no chunks', ' \n\t ', 3, [], [], 0],
  ['leading/trailing space not in chunks', '  a b  c  ', 2, [], ['a b', 'c'], 0],
  ['span across boundary moves it to the span end', TEXT, 3, ['three four'], ['one two three four', 'five six seven'], 1],
  ['span ending at a boundary moves nothing', TEXT, 3, ['two three'], ['one two three', 'four five six', 'seven'], 0],
  ['span starting at a boundary moves nothing', TEXT, 3, ['four five'], ['one two three', 'four five six', 'seven'], 0],
  ['span ending mid-word keeps that word', TEXT, 3, ['three fo'], ['one two three four', 'five six seven'], 1],
  ['span starting mid-word', TEXT, 3, ['ree four'], ['one two three four', 'five six seven'], 1],
  ['chained spans push further', TEXT, 2, ['two three', 'three four five'], ['one two three four five', 'six seven'], 1],
  ['span to the end makes one chunk', TEXT, 2, ['two three four five six seven'], [TEXT], 1],
  ['newlines are whitespace', 'a\nb\nc', 2, [], ['a\nb', 'c'], 0],
  ['zero-width space is not whitespace', 'a\u200bb c d', 2, [], ['a\u200bb c', 'd'], 0],
];

for (const [name, text, words, answers, expected, moved] of cases) {
  test(`chunkText: ${name}`, () => {
    const result = chunkText(text, words, answers.map((a) => spanOf(text, a)));
    assert.deepEqual(result.chunks.map((c) => c.text), expected);
    assert.equal(result.boundariesMoved, moved);
    for (const c of result.chunks) assert.equal(text.slice(c.start, c.end), c.text);
  });
}

test('chunkText rejects a non-positive passage size', () => {
  assert.throws(() => chunkText('a b', 0), RangeError);
  assert.throws(() => chunkText('a b', 1.5), RangeError);
});

test('chunkIndexOf finds the chunk that wholly holds a span', () => {
  const { chunks } = chunkText(TEXT, 3);
  // [span text, occurrence, expected chunk index]
  const rows: [string, number][] = [
    ['one', 0],
    ['three', 0],
    ['four five six', 1],
    ['seven', 2],
    ['three four', -1], // crosses a boundary
  ];
  for (const [needle, index] of rows) assert.equal(chunkIndexOf(chunks, spanOf(TEXT, needle)), index, needle);
  assert.equal(chunkIndexOf(chunks, { start: 13, end: 14 }), -1, 'the gap between two chunks');
  assert.equal(chunkIndexOf([], { start: 0, end: 1 }), -1);
});

test('trimSpan drops whitespace at both ends only', () => {
  assert.deepEqual(trimSpan('x  Denver ', { start: 1, end: 10 }), { start: 3, end: 9 });
  assert.deepEqual(trimSpan('a b', { start: 0, end: 3 }), { start: 0, end: 3 });
  assert.deepEqual(trimSpan('   ', { start: 0, end: 3 }), { start: 3, end: 3 });
});

test('property: chunks cover every word once, in order, and no protected span is cut', () => {
  // A small deterministic LCG so the property runs the same cases every time.
  let seed = 12345;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let round = 0; round < 300; round++) {
    const nWords = 1 + rand(60);
    const words = Array.from({ length: nWords }, (_, i) => `w${i}`);
    const text = words.map((w) => w + ' '.repeat(1 + rand(2))).join('');
    const spans: Span[] = [];
    for (let k = rand(4); k > 0; k--) {
      const a = rand(text.length);
      const b = Math.min(text.length, a + 1 + rand(20));
      const s = trimSpan(text, { start: a, end: b });
      if (s.start < s.end) spans.push(s);
    }
    const size = 1 + rand(10);
    const { chunks } = chunkText(text, size, spans);
    assert.deepEqual(chunks.flatMap((c) => c.text.split(/\s+/)), words, `round ${round}`);
    for (const s of spans) assert.notEqual(chunkIndexOf(chunks, s), -1, `round ${round}: span ${JSON.stringify(s)} was cut`);
    // A chunk only grows past `size` words when a span crosses its size-th word boundary.
    for (const c of chunks) {
      const ws = [...c.text.matchAll(/\S+/g)].map((m) => ({ start: c.start + m.index, end: c.start + m.index + m[0].length }));
      if (ws.length <= size) continue;
      const cut = spans.some((s) => s.start < ws[size].start && s.end > ws[size - 1].end);
      assert.ok(cut, `round ${round}: chunk grew to ${ws.length} words without a span to protect`);
    }
  }
});
