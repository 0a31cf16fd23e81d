import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FIXTURES, REPO_ROOT } from '../_paths.ts';
import { commands } from '../../src/commands/index.ts';
import { readPipelineFile, PipelineError } from '../../src/pipeline/schema.ts';
import { planPipeline } from '../../src/pipeline/plan.ts';

const example = join(FIXTURES, 'pipeline', 'squad-bm25.yaml');

test('docs/pipeline.md shows the example pipeline exactly as it is in fixtures/', async () => {
  const doc = await readFile(join(REPO_ROOT, 'docs', 'pipeline.md'), 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.equal(block, await readFile(example, 'utf8'));
});

test('the example pipeline plans against the real commands (only commands not yet registered may be missing)', async () => {
  const spec = await readPipelineFile(example);
  try {
    const plan = planPipeline(spec, { commands });
    assert.deepEqual(plan.steps.map((s) => s.name), ['convert', 'bm25']);
    assert.deepEqual(plan.steps[1].deps, ['convert']);
  } catch (err) {
    if (!(err instanceof PipelineError)) throw err;
    // Before the converters and miners are merged, the only acceptable problem is their absence.
    const used = new Set(spec.steps.map((s) => s.uses.value));
    for (const issue of err.issues) {
      const m = /unknown command "([^"]+)"/.exec(issue);
      assert.ok(m && used.has(m[1]) && !commands.some((c) => c.id === m[1]), issue);
    }
  }
});
