/**
 * `dprep embed`: encode texts with a trained encoder. Input JSON lines {"text", "title"?};
 * output one JSON array of floats per line, in input order.
 */
import { defineCommand } from '../options.ts';
import { BACKENDS } from '../trainer/tf-types.ts';
import { TEMPLATE_OPTIONS } from '../trainer/template.ts';
import { EMBED_OVERRIDE_OPTIONS } from '../trainer/options.ts';
import { InputError } from '../util/errors.ts';

export const embedCommand = defineCommand({
  id: 'embed',
  summary: 'encode {text, title?} JSON lines with a model dir; one vector (JSON array) per line',
  description: `
Reads --input JSON lines ({"text": string, "title"?: string}) and writes one JSON array of floats per
line to --out (atomically). Inputs are embedded as the model dir says (dprep_encoder.json, or a
sentence-transformers dir): titles as [CLS] title [SEP] text [SEP], or through the --role's
template; an encoder trained without titles ignores them (and says so once). --role picks the
template and the encoder of a DPR checkpoint holding both (default: the role the dir was trained
as, else query); --query-template / --passage-template, --pooling and --normalize override.
Example:  dprep embed --model runs/stage1/query_encoder --input texts.jsonl --out vectors.jsonl`,
  options: {
    model: { type: 'string', required: true, role: 'input', help: 'HF model dir (config.json, model.safetensors, vocab)' },
    input: { type: 'string', required: true, role: 'input', help: 'JSON lines of {"text", "title"?}' },
    out: { type: 'string', required: true, role: 'output', help: 'JSON lines of float arrays' },
    maxLength: { type: 'integer', default: 256, min: 3, help: 'tokens per input, specials included' },
    batchSize: { type: 'integer', min: 1, help: 'inputs per forward pass (default: the largest the memory estimate fits at --max-length, at most 64; a batch that cannot fit is refused)' },
    role: { type: 'string', choices: ['query', 'passage'], help: 'embed as questions or as passages (default: the role stored with the encoder, else query)' },
    ...TEMPLATE_OPTIONS,
    ...EMBED_OVERRIDE_OPTIONS,
    backend: { type: 'string', choices: BACKENDS, default: 'auto', help: 'tfjs backend' },
  },
  async run(opts, ctx) {
    const { encoderOverrides, loadEncoder } = await import('../trainer/encoder.ts');
    const { readLines } = await import('../io/lines.ts');
    const { AtomicFile } = await import('../io/atomic.ts');
    const { Progress } = await import('../util/progress.ts');
    const overrides = encoderOverrides(opts);
    const encoder = await loadEncoder(opts.model, {
      ...overrides, backend: opts.backend, maxLength: opts.maxLength, batchSize: opts.batchSize, batchFlag: '--batch-size', log: ctx.log,
      ...(opts.role !== undefined ? { role: opts.role as 'query' | 'passage' } : {}),
    });
    const out = await AtomicFile.create(opts.out);
    const progress = new Progress('embed', { unit: 'texts' });
    let pending: { text: string; title?: string }[] = [];
    let count = 0;
    let titlesIgnored = false;
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
        if (obj.title && !encoder.usesTitle && !titlesIgnored) {
          titlesIgnored = true;
          ctx.log(`embed: ${opts.input} line ${lineNo} and any later ones: titles are ignored (the ${encoder.role} encoder was trained without them${encoder.template ? `; its template is ${JSON.stringify(encoder.template)}` : ''})`);
        }
        pending.push(obj.title === undefined ? { text: obj.text } : { text: obj.text, title: obj.title });
        if (pending.length >= encoder.batchSize * 8) await flush();
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
