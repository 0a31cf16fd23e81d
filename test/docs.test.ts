import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './_paths.ts';
import { renderCliDoc } from '../scripts/gen-docs.ts';
import { commands } from '../src/commands/index.ts';
import type { OptionsSpec } from '../src/options.ts';

test('docs/cli.md is generated from the current command declarations', () => {
  const onDisk = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
  assert.equal(onDisk, renderCliDoc(), 'docs/cli.md is stale: run node --import tsx scripts/gen-docs.ts');
});

test('every command has a summary and every option a help text', () => {
  for (const cmd of commands) {
    assert.ok(cmd.summary.length > 10, cmd.id);
    for (const [key, opt] of Object.entries(cmd.options as OptionsSpec)) assert.ok(opt.help.length > 3, `${cmd.id} --${key}`);
  }
});
