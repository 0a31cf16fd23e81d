import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceDir } from '../../src/io/atomic.ts';

const dir = mkdtempSync(join(tmpdir(), 'dprep-atomic-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const makeDir = (path: string, content: string) => {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'f.txt'), content);
};

test('replaceDir: puts a new directory in place, replacing the old one and leaving nothing aside', async () => {
  const target = join(dir, 'a', 'model');
  makeDir(join(dir, 'new1'), 'one');
  await replaceDir(join(dir, 'new1'), target);
  assert.equal(readFileSync(join(target, 'f.txt'), 'utf8'), 'one');
  makeDir(join(dir, 'new2'), 'two');
  await replaceDir(join(dir, 'new2'), target);
  assert.equal(readFileSync(join(target, 'f.txt'), 'utf8'), 'two');
  assert.deepEqual(readdirSync(join(dir, 'a')), ['model']);
  assert.equal(existsSync(join(dir, 'new2')), false);
});

test('replaceDir: when the new one cannot be moved in, the old one is put back', async () => {
  const target = join(dir, 'b');
  makeDir(target, 'old');
  await assert.rejects(replaceDir(join(dir, 'does-not-exist'), target), /ENOENT/);
  assert.equal(readFileSync(join(target, 'f.txt'), 'utf8'), 'old');
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('b')), ['b']);
});
