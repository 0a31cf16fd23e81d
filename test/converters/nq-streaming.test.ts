import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, SHARED_DATA } from '../_paths.ts';

const HEAP_MB = 64;
const FILE_MB = 200;

/**
 * Streaming is proven, not timed: a DPR JSON array 3x larger than the V8 heap the CLI may use
 * converts completely. Loading it whole (as JSON.parse of the file would) cannot fit: the string
 * alone is larger than the heap.
 */
test(`convert nq streams a ${FILE_MB} MB DPR JSON array under --max-old-space-size=${HEAP_MB}`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dprep-nq-stream-'));
  try {
    const input = join(dir, 'big.dpr.json');
    const sample = JSON.parse(readFileSync(join(SHARED_DATA, 'nq/dpr_biencoder/haystack_dpr_sample.json'), 'utf8')) as unknown[];
    const pieces = sample.map((r) => JSON.stringify(r));
    const out = createWriteStream(input);
    let bytes = 0;
    let records = 0;
    out.write('[\n');
    while (bytes < FILE_MB * 1e6) {
      const piece = (records ? ',\n' : '') + pieces[records % pieces.length];
      bytes += piece.length;
      records++;
      if (!out.write(piece)) await once(out, 'drain');
    }
    out.end('\n]\n');
    await once(out, 'close');
    assert.ok(statSync(input).size > 3 * HEAP_MB * 1e6);

    const output = join(dir, 'out.jsonl');
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, CLI, 'convert', 'nq', '--input', input, '--out', output], {
      env: { ...process.env, DPREP_QUIET: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = await once(child, 'close');
    assert.equal(code, 0, stderr);
    assert.match(stderr, new RegExp(`read ${records}, converted ${records}, skipped 0`));

    // Control: the same heap cannot hold the file parsed whole, so success above means streaming.
    const whole = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '-e', 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))', input], {
      stdio: 'ignore',
    });
    const [wholeCode] = await once(whole, 'close');
    assert.notEqual(wholeCode, 0, 'loading the whole file must run out of heap');

    let lines = 0;
    for await (const line of createInterface({ input: createReadStream(output) })) if (line) lines++;
    assert.equal(lines, records);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
