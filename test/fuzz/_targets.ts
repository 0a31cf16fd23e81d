/**
 * The input parsers under fuzzing (bench/fuzz.ts) and their oracles; test/fuzz/regressions.test.ts
 * replays every saved finding through the same checks. A check resolves when the parser behaved
 * (a value the oracle agrees with, or the parser's own input error), and throws otherwise: a
 * crash with another error, a value that differs from the reference, a lost round trip.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isDeepStrictEqual } from 'node:util';
import { scanJsonArray } from '../../src/io/json-array.ts';
import { formatTsvField, parseTsvRecord, readTsv } from '../../src/io/tsv.ts';
import { parsePythonStringList, PythonLiteralError } from '../../src/converters/python-literal.ts';
import { readQrels, writeQrels } from '../../src/eval/trec.ts';
import { parsePipeline } from '../../src/pipeline/schema.ts';
import { InputError, UsageError } from '../../src/util/errors.ts';

export interface FuzzTarget {
  name: string;
  /** Starting inputs. */
  seeds: () => Buffer[];
  /** Tokens the mutator inserts (the format's syntax). */
  dictionary: string[];
  check: (input: Buffer) => Promise<void>;
}

/** A parser misbehaved on an input. */
export class Finding extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Finding';
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'dprep-fuzz-'));
const repo = new URL('../..', import.meta.url).pathname;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const strictText = (b: Buffer): string | undefined => {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
};
const expected = (err: unknown) => err instanceof InputError || err instanceof UsageError;

/** Chunkings of `b`: whole, one byte at a time, and cuts drawn from the bytes themselves (deterministic). */
function chunkings(b: Buffer): Buffer[][] {
  const bytewise = [...b].map((x) => Buffer.from([x]));
  const cuts: Buffer[] = [];
  for (let i = 0, step = 1; i < b.length; i += step, step = 1 + ((b[i - 1] ?? 0) % 7)) cuts.push(b.subarray(i, Math.min(b.length, i + step)));
  return [[b], bytewise, cuts];
}

async function scan(chunks: Buffer[]): Promise<{ values?: unknown[]; error?: unknown }> {
  const values: unknown[] = [];
  try {
    for await (const { value } of scanJsonArray(chunks, 'fuzz.json')) values.push(value);
    return { values };
  } catch (error) {
    return { error };
  }
}

/** JSON-array streaming: for any chunking, the same elements as JSON.parse of the whole text, or an InputError exactly when JSON.parse refuses. */
const jsonArray: FuzzTarget = {
  name: 'json-array',
  seeds: () => ['[]', '[1, "a", {"b": [2, {"c": "\\"]"}]}]', '\ufeff[\n{"q": "x\\\\", "a": []},\n{"q": "é"}\n]\n', '[{"a": "\\u005d"}, [[]], null, true, -1.5e3]'].map((s) => Buffer.from(s)),
  dictionary: ['[', ']', '{', '}', '"', '\\', '\\"', ',', ':', '\\u00e9', '\ufeff', '\r\n', ' ', 'null', '1e5', '"a"', '[]', '{}', '\xff'],
  async check(input) {
    const text = strictText(input);
    let ref: unknown;
    let refOk = false;
    if (text !== undefined) {
      try {
        ref = JSON.parse(text.replace(/^\ufeff/, ''));
        refOk = Array.isArray(ref);
      } catch {
        refOk = false;
      }
    }
    for (const chunks of chunkings(input)) {
      const got = await scan(chunks);
      if (got.error !== undefined && !expected(got.error)) throw new Finding(`scanner crashed: ${(got.error as Error).stack}`);
      if (refOk && got.error) throw new Finding(`scanner refused a valid JSON array (${chunks.length} chunks): ${(got.error as Error).message}`);
      if (refOk && !isDeepStrictEqual(got.values, ref)) throw new Finding(`scanner elements differ from JSON.parse (${chunks.length} chunks): ${JSON.stringify(got.values)} vs ${JSON.stringify(ref)}`);
      if (!refOk && !got.error) throw new Finding(`scanner accepted what JSON.parse refuses or is no array (${chunks.length} chunks): ${JSON.stringify(got.values)}`);
    }
  },
};

/** TSV/CSV quoting: any line parses without crashing; fields written with formatTsvField read back the same through readTsv. */
const tsv: FuzzTarget = {
  name: 'tsv',
  seeds: () => ['a\tb\tc', '"x\ty"\t"say ""hi"""\tz', '"multi\nline"\t"cr\r\nlf"\tend', '\t\t', '"open'].map((s) => Buffer.from(s)),
  dictionary: ['\t', '"', '""', '\n', '\r\n', '\r', '\ufeff', ' ', 'a', '\\'],
  async check(input) {
    const text = input.toString('utf8');
    for (const line of text.split('\n')) {
      try {
        const fields = parseTsvRecord(line);
        if (fields !== null && (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string'))) throw new Finding(`parseTsvRecord returned ${JSON.stringify(fields)}`);
      } catch (err) {
        if (err instanceof Finding) throw err;
        throw new Finding(`parseTsvRecord crashed on ${JSON.stringify(line)}: ${(err as Error).stack}`);
      }
    }
    // The input as fields (split on NUL, or on tabs when it has none): a record of them must round-trip.
    const fields = text.includes('\0') ? text.split('\0') : text.split('\t');
    if (fields.length === 1 && fields[0] === '') return; // an empty record is a blank line, skipped by design
    if (fields[0].startsWith('\ufeff')) return; // a leading BOM is the file's, not the field's
    const file = join(scratch, 'fuzz.tsv');
    writeFileSync(file, fields.map(formatTsvField).join('\t') + '\n');
    const rows: string[][] = [];
    try {
      for await (const row of readTsv(file)) rows.push(row.fields);
    } catch (err) {
      throw new Finding(`readTsv refused a record written by formatTsvField ${JSON.stringify(fields)}: ${(err as Error).message}`);
    }
    if (!isDeepStrictEqual(rows, [fields])) throw new Finding(`TSV round trip lost data: wrote ${JSON.stringify(fields)}, read ${JSON.stringify(rows)}`);
  },
};

/** A python3 process answering `ast.literal_eval` of each line (JSON-encoded source) with its list of str or an error. */
class PythonOracle {
  private child?: ChildProcessWithoutNullStreams;
  private waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  private start(): ChildProcessWithoutNullStreams {
    const code = [
      'import ast, json, sys',
      'for line in sys.stdin:',
      '    src = json.loads(line)',
      '    try:',
      '        v = ast.literal_eval(src)',
      '        ok = isinstance(v, list) and all(isinstance(x, str) for x in v)',
      '        out = {"ok": True, "value": v} if ok else {"ok": False, "why": "not a list of str"}',
      '    except Exception as e:',
      '        out = {"ok": False, "why": type(e).__name__}',
      '    sys.stdout.write(json.dumps(out) + "\\n"); sys.stdout.flush()',
    ].join('\n');
    const child = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    createInterface({ input: child.stdout }).on('line', (l) => this.waiting.shift()?.resolve(l));
    // No python3 (CI installs it: .ci/run): every question fails loudly instead of waiting forever.
    const fail = (err: Error) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`python3 (the ast.literal_eval oracle) is not available: ${err.message}`));
    };
    child.on('error', fail);
    child.stdin.on('error', fail);
    child.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    return child;
  }
  ask(src: string): Promise<{ ok: boolean; value?: string[]; why?: string }> {
    this.child ??= this.start();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve: (l) => resolve(JSON.parse(l)), reject });
      this.child!.stdin.write(JSON.stringify(src) + '\n');
    });
  }
  close(): void {
    this.child?.kill();
    this.child = undefined;
  }
}
export const python = new PythonOracle();

/** Python-literal answer lists: whatever the parser accepts, ast.literal_eval accepts with the same strings. */
const pythonLiteral: FuzzTarget = {
  name: 'python-literal',
  seeds: () => [`['Solange Knowles', "Destiny 's Child"]`, `[u'caf\\xe9', r'a\\d', '''tri'ple''', 'a' "b"]`, `['\\u00e9\\U0001F600\\101\\n']`, `[]`, `['O\\'Connor',]`].map((s) => Buffer.from(s)),
  dictionary: ["'", '"', "'''", '"""', '\\', '\\x4', '\\u00', '\\U0001', '\\N{', '\\0', '\\\n', 'u', 'r', 'b', ',', '[', ']', ' ', '#', '\n', '\ud800'],
  async check(input) {
    const src = input.toString('utf8');
    let ours: string[] | undefined;
    try {
      ours = parsePythonStringList(src);
    } catch (err) {
      if (!(err instanceof PythonLiteralError)) throw new Finding(`parser crashed: ${(err as Error).stack}`);
    }
    if (ours === undefined) return; // refusing a literal Python accepts is a limit (documented), not a wrong value
    const ref = await python.ask(src);
    if (!ref.ok) throw new Finding(`parser accepted what ast.literal_eval refuses (${ref.why}): ${JSON.stringify(ours)}`);
    if (!isDeepStrictEqual(ours, ref.value)) throw new Finding(`parser value ${JSON.stringify(ours)} differs from ast.literal_eval's ${JSON.stringify(ref.value)}`);
  },
};

/** qrels: read, written back with writeQrels, read again: the same judgements; only InputErrors refuse. */
const qrels: FuzzTarget = {
  name: 'qrels',
  seeds: () => ['q1 0 d1 1\nq1 0 d2 0\nq2 Q0 d3 2\n', 'query-id\tcorpus-id\tscore\nq1\td1\t1\n', 'q 0 d -1\r\n\n  q2\t0\td 3  \n'].map((s) => Buffer.from(s)),
  dictionary: [' ', '\t', '\n', '\r\n', '0', 'Q0', '1', '-1', '1.5', 'q1', 'd1', '\ufeff', 'query-id', '1e2', '0x1'],
  async check(input) {
    const file = join(scratch, 'fuzz.qrels');
    writeFileSync(file, input);
    let first;
    try {
      first = await readQrels(file);
    } catch (err) {
      if (expected(err)) return;
      throw new Finding(`readQrels crashed: ${(err as Error).stack}`);
    }
    const back = join(scratch, 'fuzz.back.qrels');
    await writeQrels(back, first);
    const second = await readQrels(back).catch((err) => {
      throw new Finding(`readQrels refused what writeQrels wrote: ${(err as Error).message}`);
    });
    if (!isDeepStrictEqual(second, first)) throw new Finding(`qrels round trip differs: ${JSON.stringify([...first].map(([q, d]) => [q, [...d]]))} → ${JSON.stringify([...second].map(([q, d]) => [q, [...d]]))}`);
  },
};

/** The pipeline YAML schema: a spec or a UsageError (PipelineError) naming the line; never another error, never slow. */
const yamlSchema: FuzzTarget = {
  name: 'pipeline-yaml',
  seeds: () => [...readdirSync(join(repo, 'pipelines')).filter((f) => f.endsWith('.yaml')).map((f) => join(repo, 'pipelines', f)), ...readdirSync(join(repo, 'fixtures', 'pipeline')).filter((f) => f.endsWith('.yaml')).map((f) => join(repo, 'fixtures', 'pipeline', f))].map((f) => readFileSync(f)),
  dictionary: ['&a ', '*a', '<<: *a', '\n  - ', ': ', '${steps.', '${params.', '.outputs.', '}', 'uses: ', 'with:', '\n    ', '!!str ', '? ', '[', ']', '{', '}', '"', "'", '#', '---\n', '\t', '..', '/', 'true', '~'],
  async check(input) {
    const t0 = performance.now();
    try {
      parsePipeline(input.toString('utf8'), join(scratch, 'p.yaml'), 'p.yaml');
    } catch (err) {
      if (!expected(err)) throw new Finding(`parsePipeline crashed: ${(err as Error).stack}`);
    }
    const ms = performance.now() - t0;
    if (ms > 2000) throw new Finding(`parsePipeline took ${ms.toFixed(0)} ms on ${input.length} bytes`);
  },
};

export const TARGETS: FuzzTarget[] = [jsonArray, tsv, pythonLiteral, qrels, yamlSchema];
