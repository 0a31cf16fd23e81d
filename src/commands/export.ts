/**
 * `dprep export`: a run's encoders (or one encoder dir) in the family's HF layout, DPR's HF names,
 * or a sentence-transformers dir, so transformers / Haystack / sentence-transformers users load
 * them without dprep.
 */
import { defineCommand } from '../options.ts';
import { EXPORT_FORMATS, EXPORT_ROLES } from '../trainer/export.ts';

export const exportCommand = defineCommand({
  id: 'export',
  summary: 'write a run\'s encoders in the HF layout, DPR\'s HF names or a sentence-transformers dir',
  description: `
--model is a run dir (query_encoder/ + passage_encoder/, what dprep train writes) or one encoder dir.
Formats, per encoder:
  hf                     the family's own HF dir: config.json (model_type/architectures of the bare
                         encoder: BertModel, RobertaModel, CamembertModel, DistilBertModel, …; DPR
                         with a projection: DPRQuestionEncoder/DPRContextEncoder), model.safetensors,
                         tokenizer files, dprep_encoder.json
  dpr                    BERT-family encoders only: question_encoder/ (question_encoder.bert_model.*,
                         DPRConfig) and ctx_encoder/ (ctx_encoder.bert_model.*), as transformers' and
                         Haystack's DPR classes load them; needs CLS pooling without normalization
  sentence-transformers  the hf dir as module 0 at its root, 1_Pooling, 2_Normalize when normalized,
                         the template's prefix as prompt ("query: {text}" → prompt "query: "); a
                         template with {title} or text after {text} is refused
With one --role, OUT is that encoder's dir; with both, OUT/<query_encoder|passage_encoder> (dpr:
OUT/<question_encoder|ctx_encoder>). OUT is replaced whole and may not overlap --model.
Example:  dprep export --model runs/fr1 --format sentence-transformers --out exported/fr1-st`,
  options: {
    model: { type: 'string', required: true, role: 'input', help: 'run dir (query_encoder/, passage_encoder/) or one encoder dir' },
    format: { type: 'string', choices: EXPORT_FORMATS, required: true, help: 'layout to write' },
    out: { type: 'string', required: true, role: 'output', help: 'directory to create (replaced whole)' },
    role: { type: 'string', choices: EXPORT_ROLES, default: 'both', help: 'which encoder(s) to export' },
  },
  async run(opts, ctx) {
    const { exportModel } = await import('../trainer/export.ts');
    const written = await exportModel(opts.model, opts.out, { format: opts.format, role: opts.role });
    for (const e of written) {
      ctx.log(`export: ${e.role} encoder → ${e.dir ? `${opts.out}/${e.dir}` : opts.out} (${opts.format}: model_type ${e.modelType}, ${e.architectures.join(', ')})`);
      for (const note of e.notes) ctx.log(`export:   note: ${note}`);
    }
    return { metrics: { encoders: written.length } };
  },
});
