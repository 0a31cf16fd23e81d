import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI } from '../_paths.ts';

const dprep = (args: string[], input?: string) => spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8' });

test('cli: no arguments lists the commands', () => {
  const r = dprep([]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Commands:/);
  assert.match(r.stdout, /\bmatch\b/);
});

test('cli: unknown command exits 2 and says so', () => {
  const r = dprep(['frobnicate']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
});

test('cli: bad flag exits 2 and points at help', () => {
  const r = dprep(['match', '--bogus']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown flag --bogus/);
  assert.match(r.stderr, /dprep help match/);
});

test('cli: match answers one line per input line', () => {
  const input = [
    { text: 'the U.S. army', answers: ['U.S.'] },
    { text: 'a party', answers: ['art'] },
    { text: 'a party', answers: ['art'], mode: 'regex' },
  ].map((o) => JSON.stringify(o)).join('\n');
  const r = dprep(['match'], input + '\n');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l).match), [true, false, true]);
});

test('cli: match names the line and field of bad input', () => {
  const r = dprep(['match'], '{"text":"x","answers":["a"]}\n{"text":"x","answers":"a"}\n');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /<stdin>, line 2, field "answers": expected an array of strings/);
});

test('cli: match names a line that is not a JSON object or not JSON', () => {
  for (const [line, message] of [['null', /line 2: expected a JSON object/], ['[1]', /line 2: expected a JSON object/], ['{"text":', /line 2: invalid JSON/]] as const) {
    const r = dprep(['match'], `{"text":"x","answers":["a"]}\n${line}\n`);
    assert.equal(r.status, 2, line);
    assert.match(r.stderr, message);
  }
});
