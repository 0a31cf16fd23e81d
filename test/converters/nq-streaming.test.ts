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
const SIMPLIFIED_MB = 80;

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

test(`convert nq streams NQ simplified (${SIMPLIFIED_MB} MB of 300 KB documents) with --corpus under a ${HEAP_MB} MB heap`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dprep-nq-stream-'));
  try {
    // Long documents, as in NQ (the real train file averages ~130 KB per line): every kept id or
    // text that were a substring of its line would keep the whole line alive.
    const input = join(dir, 'simplified.jsonl');
    const out = createWriteStream(input);
    const filler = Array.from({ length: 40000 }, (_, i) => `w${i % 97}`).join(' ');
    let bytes = 0;
    let examples = 0;
    while (bytes < SIMPLIFIED_MB * 1e6) {
      const doc = `<P> The answer is Alice Smith here . </P> ${filler}`;
      const line = JSON.stringify({
        document_text: doc,
        question_text: `who is it ${examples}`,
        annotations: [{ long_answer: { start_token: 0, end_token: 8, candidate_index: 0 }, short_answers: [{ start_token: 4, end_token: 6 }], yes_no_answer: 'NONE' }],
        document_url: `https://en.wikipedia.org//w/index.php?title=Doc_${examples}&oldid=1`,
        example_id: 0,
      }).replace('"example_id":0', `"example_id":${9000000000000000000n + BigInt(examples)}`);
      bytes += line.length + 1;
      examples++;
      if (!out.write(line + '\n')) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');

    const output = join(dir, 'out.jsonl');
    const corpus = join(dir, 'corpus.jsonl');
    const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, CLI, 'convert', 'nq', '--input', input, '--out', output, '--corpus', corpus], {
      env: { ...process.env, DPREP_QUIET: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const [code] = await once(child, 'close');
    assert.equal(code, 0, stderr);
    assert.match(stderr, new RegExp(`read ${examples}, converted ${examples}, skipped 0`));
    const first = JSON.parse(readFileSync(output, 'utf8').split('\n')[0]);
    assert.deepEqual([first.id, first.answers, first.positive_ctxs[0].text], ['9000000000000000000', ['Alice Smith'], 'The answer is Alice Smith here .']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
