/** pipeline/ sits below the commands: it gets them through a CommandRegistry, never by import. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../_paths.ts';

const dir = join(REPO_ROOT, 'src', 'pipeline');
// Static and dynamic imports alike: `from '../x/y.ts'`, `import('../x/y.ts')`.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*)['"]([^'"]+)['"]/g;

test('layers: no module in src/pipeline imports commands/, miners/ or trainer/', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.includes('plan.ts') && files.includes('registry.ts'));
  const climbing = files.flatMap((f) =>
    [...readFileSync(join(dir, f), 'utf8').matchAll(IMPORT)].map((m) => m[1]).filter((spec) => /(^|\/)(commands|miners|trainer)\//.test(spec)).map((spec) => `${f} → ${spec}`),
  );
  assert.deepEqual(climbing, []);
});
