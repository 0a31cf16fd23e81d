/**
 * `dprep init-model`: a randomly initialized encoder of any supported family in its Hugging Face
 * layout, from a config and a tokenizer (no pretrained weights are needed, or available offline).
 */
import { defineCommand, seedOption } from '../options.ts';

/** Written into every model dir init-model makes; train's output dirs do not have it, so they are never replaced by random weights. */
export const INIT_MARKER = '.dprep-init-model.json';

export const initModelCommand = defineCommand({
  id: 'init-model',
  summary: 'create a randomly initialized encoder (HF layout, any supported family) from a config.json and a tokenizer',
  description: `
Families (config.json "model_type"): bert (incl. E5/BGE/GTE-style BERTs), dpr (with or without
a projection, projection_dim > 0), roberta, camembert, xlm-roberta, distilbert, t5 (encoder only;
its RMSNorm and relative position bias run on tfjs ops, not dprep's native kernels).
Writes OUT/config.json (the family's own model_type / architectures), OUT/model.safetensors
(float32, the family's HF tensor names, HF's init: truncated-normal weights with
std = initializer_range, LayerNorm 1/0, zero biases) and copies tokenizer.json and/or vocab.txt
with tokenizer_config.json / special_tokens_map.json from --tokenizer. The tokenizer is checked
against the config (vocab_size, pad_token_id) before anything is written. The same --seed gives
the same bytes. A marker (${INIT_MARKER}) says dprep made OUT untrained: OUT is replaced only
when it is absent, empty, or holds that marker (an earlier init-model); a trained model or any
other directory is refused, never deleted.
Example:  dprep init-model --config camembert-tiny/config.json --tokenizer camembert-base-tokenizer/ --out cb --seed 1`,
  options: {
    config: { type: 'string', required: true, role: 'input', help: 'HF config.json of a supported family (bert, dpr, roberta, camembert, xlm-roberta, distilbert, t5)' },
    tokenizer: { type: 'string', role: 'input', help: 'directory with tokenizer.json and/or vocab.txt (+ tokenizer_config.json, special_tokens_map.json)' },
    vocab: { type: 'string', role: 'input', help: 'the same as --tokenizer (its older name)' },
    out: { type: 'string', required: true, role: 'output', help: 'model directory to create' },
    seed: seedOption(1, 'the initialization'),
    pooler: { type: 'boolean', default: true, help: 'include the (unused by DPR) pooler layer, as BertModel has (BERT and RoBERTa families)' },
  },
  async run(opts, ctx) {
    const { UsageError } = await import('../util/errors.ts');
    const { readEncoderConfig } = await import('../trainer/config.ts');
    const { initEncoderTensors, maxSequenceLength } = await import('../trainer/families.ts');
    const { writeModelDir } = await import('../trainer/checkpoint.ts');
    const { paramCount } = await import('../trainer/memory.ts');
    const { checkTokenizerConfig, loadTokenizer } = await import('../trainer/tokenizer.ts');
    if (opts.tokenizer !== undefined && opts.vocab !== undefined && opts.tokenizer !== opts.vocab) {
      throw new UsageError('init-model: give --tokenizer or --vocab (the same option), not both');
    }
    const tokenizerDir = opts.tokenizer ?? opts.vocab;
    if (tokenizerDir === undefined) throw new UsageError('init-model: missing required option "tokenizer" (a directory with tokenizer.json and/or vocab.txt)');
    // Everything is checked before anything is written: --out, the config's family, then the tokenizer against it.
    const { checkReplaceableDir, writeFileAtomic } = await import('../io/atomic.ts');
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    await checkReplaceableDir(opts.out, '--out', 'model directory from init-model', (dir) => existsSync(join(dir, INIT_MARKER)));
    const config = await readEncoderConfig(opts.config);
    const tokenizer = await loadTokenizer(tokenizerDir, maxSequenceLength(config));
    for (const warning of checkTokenizerConfig(tokenizer, config, opts.config)) ctx.log(`init-model: warning: ${warning}`);
    await writeModelDir(opts.out, config, initEncoderTensors(config, opts.seed, opts.pooler), tokenizerDir);
    await writeFileAtomic(join(opts.out, INIT_MARKER), JSON.stringify({ 'written-by': 'dprep init-model', seed: opts.seed, trained: false }) + '\n');
    ctx.log(`init-model: ${opts.out}: ${config.model_type}, ${config.num_hidden_layers} layers, hidden ${config.hidden_size}, ${(paramCount(config) / 1e6).toFixed(2)}M parameters (seed ${opts.seed})`);
    return { metrics: { parameters: paramCount(config), model_type: config.model_type } };
  },
});
