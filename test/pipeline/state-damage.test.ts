/**
 * A damaged lockfile or hash cache (issue 15): a lockfile cut at any point or garbled is refused
 * with the file, the step and the field and how to recover (exit 2, no stack trace), or, where the
 * cut falls between whole entries, the steps it lost rerun; a damaged hash cache costs a rehash.
 * Never a crash, never a step skipped on a broken record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, FIXTURES } from '../_paths.ts';
import { tempProject } from './_helpers.ts';

const ENV = { ...process.env, DPREP_TEST_COMMANDS: '1', DPREP_QUIET: '1' };
const STACK = /^\s+at /m;
const run = (cwd: string) => spawnSync(process.execPath, [CLI, 'run', 'resume.yaml'], { cwd, env: ENV, encoding: 'utf8', timeout: 120000 });
const OUTPUTS = ['first.txt', 'slow/lines.txt', 'last.txt'];

async function project(): Promise<{ dir: string; work: string; lock: string; outputs: Buffer[] }> {
  const dir = await tempProject();
  for (const f of ['resume.yaml', 'in.txt']) copyFileSync(join(FIXTURES, 'pipeline', f), join(dir, f));
  const r = run(dir);
  assert.equal(r.status, 0, r.stderr);
  const work = join(dir, '.dprep', 'resume');
  return { dir, work, lock: join(work, 'dprep.lock.yaml'), outputs: OUTPUTS.map((f) => readFileSync(join(work, f))) };
}

test('a lockfile cut anywhere is refused naming the step and field, or its lost steps rerun; never a crash or a wrong skip', async () => {
  const p = await project();
  const good = readFileSync(p.lock);
  let refused = 0;
  for (const fraction of [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95]) {
    writeFileSync(p.lock, good.subarray(0, Math.floor(good.length * fraction)));
    const r = run(p.dir);
    assert.doesNotMatch(r.stderr, STACK, `cut at ${fraction}`);
    if (r.status === 2) {
      refused++;
      const file = p.lock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const perStep = `step "\\w+", (field "[^"]+": )?expected .*: the lockfile is damaged \\(truncated or edited\\); delete that step's entry \\(that step reruns\\) or the whole file \\(every step reruns\\)`;
      const whole = 'field "steps": expected a mapping of step names; the lockfile is damaged: delete it to rebuild every step';
      assert.match(r.stderr, new RegExp(`${file}: (${perStep}|${whole})`), `cut at ${fraction}`);
    } else {
      assert.equal(r.status, 0, `cut at ${fraction}: ${r.stderr}`);
      assert.ok(readFileSync(p.lock).equals(good), `cut at ${fraction}: the rerun restores the lockfile`);
    }
    OUTPUTS.forEach((f, i) => assert.ok(readFileSync(join(p.work, f)).equals(p.outputs[i]), `cut at ${fraction}: ${f}`));
    writeFileSync(p.lock, good);
  }
  assert.ok(refused >= 4, `${refused} cuts refused`);
});

test('a garbled lockfile: not YAML, not a mapping, a step that is not a mapping, a bad hash', async () => {
  const p = await project();
  const good = readFileSync(p.lock, 'utf8');
  const CASES: [string, string, RegExp][] = [
    ['binary garbage', '\u0000\u0001{[: ]}\u00ff', /unreadable lockfile|not a lockfile/],
    ['a list', '- 1\n- 2\n', /not a lockfile \(expected a mapping\); delete it to rebuild every step/],
    ['a step that is a string', good.replace(/\n {2}last:\n[\s\S]*$/, '\n  last: oops\n'), /step "last", expected a mapping/],
    ['a flipped output hash', good.replace(/(path: first\.txt\n\s+hash: sha256:)([0-9a-f])/, (_m, a: string, c: string) => a + (c === 'x' ? 'y' : 'x')), /step "first", field "outputs\.out": expected \{path, hash: sha256:<hex>\}/],
  ];
  for (const [what, text, message] of CASES) {
    assert.notEqual(text, good, what);
    writeFileSync(p.lock, text);
    const r = run(p.dir);
    assert.equal(r.status, 2, `${what}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.doesNotMatch(r.stderr, STACK, what);
  }
  writeFileSync(p.lock, good);
  assert.equal(run(p.dir).status, 0);
});

test('a damaged hash cache only costs a rehash: every step still skipped on its true hashes', async () => {
  const p = await project();
  const cache = join(p.work, '.dprep', 'hash-cache.json');
  const good = readFileSync(cache, 'utf8');
  const entries = JSON.parse(good) as Record<string, unknown>;
  const first = Object.keys(entries)[0];
  const CASES: [string, string][] = [
    ['cut in half', good.slice(0, good.length / 2)],
    ['null entries', JSON.stringify(Object.fromEntries(Object.keys(entries).map((k) => [k, null])))],
    ['wrong types', JSON.stringify({ ...entries, [first]: { size: 'big', sha256: 7 } })],
    ['a garbled digest', JSON.stringify({ ...entries, [first]: { ...(entries[first] as object), sha256: 'not-a-digest' } })],
  ];
  for (const [what, text] of CASES) {
    writeFileSync(cache, text);
    const r = run(p.dir);
    assert.equal(r.status, 0, `${what}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\bran\b/, `${what}: no step reran`);
    OUTPUTS.forEach((f, i) => assert.ok(readFileSync(join(p.work, f)).equals(p.outputs[i]), `${what}: ${f}`));
  }
});
