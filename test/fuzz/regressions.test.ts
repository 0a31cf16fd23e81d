// Every input bench/fuzz.ts found a parser misbehaving on (test/fuzz/cases/<target>/), replayed
// through the same oracle (test/fuzz/_targets.ts) now that each is fixed; plus each target's seeds.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { python, TARGETS } from './_targets.ts';

const casesDir = new URL('./cases/', import.meta.url).pathname;
after(() => python.close());

for (const t of TARGETS) {
  const dir = join(casesDir, t.name);
  const cases = existsSync(dir) ? readdirSync(dir).sort() : [];
  test(`fuzz regressions: ${t.name} (${cases.length} findings, ${t.seeds().length} seeds)`, async () => {
    for (const name of cases) await t.check(readFileSync(join(dir, name))).catch((err) => assert.fail(`${t.name}/${name}: ${err.message}`));
    for (const seed of t.seeds()) await t.check(seed);
  });
}
