/**
 * `dprep embed`: encode texts with a trained encoder. Input JSON lines {"text", "title"?};
 * output one JSON array of floats per line, in input order.
 */
import { defineCommand } from '../options.ts';
import { BACKENDS } from '../trainer/tf-types.ts';
import { POOLINGS } from '../trainer/bert.ts';
import { InputError } from '../util/errors.ts';

export const embedCommand = defineCommand({
  id: 'embed',
  summary: 'encode {text, title?} JSON lines with a model dir; one vector (JSON array) per line',
  description: `
Reads --input JSON lines ({"text": string, "title"?: string}) and writes one JSON array of floats per
line to --out (atomically). Titles are embedded as [CLS] title [SEP] text [SEP].
Example:  dprep embed --model runs/stage1/query_encoder --input texts.jsonl --out vectors.jsonl`,
  options: {
    model: { type: 'string', required: true, role: 'input', help: 'HF model dir (config.json, model.safetensors, vocab)' },
    input: { type: 'string', required: true, role: 'input', help: 'JSON lines of {"text", "title"?}' },
    out: { type: 'string', required: true, role: 'output', help: 'JSON lines of float arrays' },
    maxLength: { type: 'integer', default: 256, min: 3, help: 'tokens per input, specials included' },
    batchSize: { type: 'integer', default: 32, min: 1, help: 'inputs per forward pass' },
    pooling: { type: 'string', choices: POOLINGS, default: 'cls', help: 'CLS vector (DPR) or mean of tokens' },
    normalize: { type: 'boolean', help: 'L2-normalize the vectors' },
    backend: { type: 'string', choices: BACKENDS, default: 'auto', help: 'tfjs backend' },
  },
  async run(opts, ctx) {
    const { loadEncoder } = await import('../trainer/encoder.ts');
    const { readLines } = await import('../io/lines.ts');
    const { AtomicFile } = await import('../io/atomic.ts');
    const { Progress } = await import('../util/progress.ts');
    const encoder = await loadEncoder(opts.model, opts);
    const out = await AtomicFile.create(opts.out);
    const progress = new Progress('embed', { unit: 'texts' });
    let pending: { text: string; title?: string }[] = [];
    let count = 0;
    const flush = async () => {
      const vecs = await encoder.encode(pending);
      for (let i = 0; i < pending.length; i++) await out.write(JSON.stringify(Array.from(vecs.subarray(i * encoder.dim, (i + 1) * encoder.dim))) + '\n');
      progress.tick(pending.length);
      count += pending.length;
      pending = [];
    };
    try {
      for await (const { lineNo, text } of readLines(opts.input)) {
        if (text.trim() === '') continue;
        let obj: { text?: unknown; title?: unknown };
        try {
          obj = JSON.parse(text);
        } catch (err) {
          throw new InputError(opts.input, `line ${lineNo}`, undefined, `invalid JSON (${(err as Error).message})`);
        }
        if (typeof obj.text !== 'string') throw new InputError(opts.input, `line ${lineNo}`, 'text', 'expected a string');
        if (obj.title !== undefined && typeof obj.title !== 'string') throw new InputError(opts.input, `line ${lineNo}`, 'title', 'expected a string');
        pending.push(obj.title === undefined ? { text: obj.text } : { text: obj.text, title: obj.title });
        if (pending.length >= opts.batchSize * 8) await flush();
      }
      if (pending.length) await flush();
      await out.commit();
    } catch (err) {
      await out.abort();
      throw err;
    } finally {
      encoder.dispose();
    }
    progress.finish();
    ctx.log(`embed: ${count} vectors of dim ${encoder.dim} → ${opts.out}`);
    return { metrics: { vectors: count, dim: encoder.dim } };
  },
});
