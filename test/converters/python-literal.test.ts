import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePythonStringList, PythonLiteralError } from '../../src/converters/python-literal.ts';

// [Python source, what ast.literal_eval returns] — expected values are Python's string-literal rules.
const cases: [string, string[]][] = [
  ['[]', []],
  [' [ ] ', []],
  ["['Linda Davis']", ['Linda Davis']],
  [`['Solange Knowles', "Destiny 's Child"]`, ['Solange Knowles', "Destiny 's Child"]],
  [`["Sandra Day O'Connor"]`, ["Sandra Day O'Connor"]],
  [String.raw`['O\'Connor']`, ["O'Connor"]],
  [String.raw`["say \"hi\""]`, ['say "hi"']],
  [String.raw`['back\\slash']`, ['back\\slash']],
  [String.raw`['S\xc3\x83o Paulo']`, ['S\u00c3\u0083o Paulo']],
  [String.raw`['Butterfly \uf092 Backstroke']`, ['Butterfly \uf092 Backstroke']],
  [String.raw`['\U0001F600']`, ['😀']],
  [String.raw`['tab\there', 'nl\n', 'bell\a', 'nul\0', 'oct\101\1012']`, ['tab\there', 'nl\n', 'bell\x07', 'nul\0', 'octAA2']],
  [String.raw`['\d+ unknown escapes keep the backslash']`, ['\\d+ unknown escapes keep the backslash']],
  ['[u"unicode prefix", r"raw \\n stays"]', ['unicode prefix', 'raw \\n stays']],
  [`['adjacent' "literals"]`, ['adjacentliterals']],
  [`['''triple 'quoted' ''']`, ["triple 'quoted' "]],
  ["['trailing comma',]", ['trailing comma']],
  ['[\n  "multi",\n  "line"\n]', ['multi', 'line']],
  ["['Röntgen', '拳闘']", ['Röntgen', '拳闘']],
  ["['']", ['']],
];
for (const [src, expected] of cases) {
  test(`parsePythonStringList(${JSON.stringify(src)})`, () => assert.deepEqual(parsePythonStringList(src), expected));
}

// [source, error text] — what literal_eval would refuse, or what is not a list of strings.
const invalid: [string, RegExp][] = [
  ['', /expected "\["/],
  ["'a'", /expected "\["/],
  ["['a'", /not closed/],
  ["['a' 'b'", /not closed/],
  ["['a]", /string literal not closed/],
  ['[1, 2]', /expected a string literal/],
  ["['a', b]", /expected a string literal/],
  ["['a'] x", /unexpected text after the list/],
  ["['a',,'b']", /expected a string literal/],
  [String.raw`['\x4']`, /truncated \\x escape/],
  [String.raw`['\N{BULLET}']`, /not supported/],
  ["['line\nbreak']", /line break inside a string literal/],
];
for (const [src, message] of invalid) {
  test(`parsePythonStringList rejects ${JSON.stringify(src)}`, () => {
    assert.throws(() => parsePythonStringList(src), (e: unknown) => e instanceof PythonLiteralError && message.test(e.message));
  });
}
