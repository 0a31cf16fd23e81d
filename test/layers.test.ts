/**
 * Every import points down. One row per folder of src/: the folders its modules may import
 * (static or dynamic). The README's layout paragraph describes the same order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from './_paths.ts';

const SRC = join(REPO_ROOT, 'src');
const BASE = ['types', 'util', 'io', 'text', 'options', 'version'];

// [layer, the layers it may import] — from the bottom up.
const MAY_IMPORT: [string, string[]][] = [
  ['text', []],
  ['types', ['text']],
  ['version', []],
  ['util', ['io', 'types']], // util/summary writes through io/atomic; io reports errors through util
  ['io', ['types', 'util']],
  ['options', ['util']],
  ['search', ['io', 'text', 'types', 'util', 'version']],
  ['trainer', BASE],
  ['converters', BASE],
  ['miners', [...BASE, 'search']],
  ['eval', [...BASE, 'search']],
  ['pipeline', BASE],
  ['commands', [...BASE, 'search', 'trainer', 'converters', 'miners', 'eval', 'pipeline']],
  ['index', [...BASE, 'search', 'trainer', 'converters', 'miners', 'eval', 'pipeline', 'commands']],
  ['cli', [...BASE, 'commands']],
];

const walk = (d: string): string[] =>
  readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|mjs)$/.test(f) ? [p] : [];
  });
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*)['"](\.[^'"]+)['"]/g;
/** `search/bm25/pool.ts` → `search`; `cli.ts` → `cli`. */
const layerOf = (file: string) => {
  const parts = relative(SRC, file).split('/');
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.(ts|mjs)$/, '');
};

test('layers: every import in src/ points down the table', () => {
  const allowed = new Map(MAY_IMPORT);
  const files = walk(SRC);
  const unknown = [...new Set(files.map(layerOf))].filter((l) => !allowed.has(l));
  assert.deepEqual(unknown, [], 'every folder of src/ has a row in MAY_IMPORT');
  const climbing: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const to = layerOf(resolve(dirname(file), m[1]));
      if (to !== from && !allowed.get(from)!.includes(to)) climbing.push(`${relative(SRC, file)} → ${m[1]}`);
    }
  }
  assert.deepEqual(climbing, []);
});

test('layers: the check sees a climbing import', () => {
  // The same matcher on a line that climbs from pipeline/ into commands/.
  const [m] = "import { commands } from '../commands/index.ts';".matchAll(IMPORT);
  assert.equal(layerOf(resolve(SRC, 'pipeline', m[1])), 'commands');
});
