/**
 * `dprep init-model`: a randomly initialized BERT in the Hugging Face layout, from a config and a
 * vocabulary (no pretrained weights are needed, or available offline).
 */
import { defineCommand, seedOption } from '../options.ts';

export const initModelCommand = defineCommand({
  id: 'init-model',
  summary: 'create a randomly initialized BERT (HF layout) from a config.json and a vocab',
  description: `
Writes OUT/config.json, OUT/model.safetensors (float32, BertModel tensor names, truncated-normal
weights with std = initializer_range, LayerNorm 1/0, zero biases) and copies vocab.txt /
tokenizer.json from --vocab. The same --seed gives the same bytes.
Example:  dprep init-model --config bert-tiny/config.json --vocab bert-base-uncased/ --out tiny-bert --seed 1`,
  options: {
    config: { type: 'string', required: true, role: 'input', help: 'HF BertConfig config.json' },
    vocab: { type: 'string', required: true, role: 'input', help: 'directory with vocab.txt and/or tokenizer.json' },
    out: { type: 'string', required: true, role: 'output', help: 'model directory to create' },
    seed: seedOption(1, 'the initialization'),
    pooler: { type: 'boolean', default: true, help: 'include the (unused by DPR) pooler layer, as BertModel has' },
  },
  async run(opts, ctx) {
    const { readBertConfig } = await import('../trainer/config.ts');
    const { initEncoderTensors } = await import('../trainer/families.ts');
    const { writeModelDir } = await import('../trainer/checkpoint.ts');
    const { paramCount } = await import('../trainer/memory.ts');
    const config = await readBertConfig(opts.config);
    await writeModelDir(opts.out, config, initEncoderTensors(config, opts.seed, opts.pooler), opts.vocab);
    ctx.log(`init-model: ${opts.out}: ${config.num_hidden_layers} layers, hidden ${config.hidden_size}, ${(paramCount(config) / 1e6).toFixed(2)}M parameters (seed ${opts.seed})`);
    return { metrics: { parameters: paramCount(config) } };
  },
});
