/**
 * The trainer benchmarks' shared setup: BERT-tiny/base configs, fixed-length synthetic token ids (so
 * the PyTorch peer, bench/train-torch.py, computes exactly the same shapes), a separate-encoder
 * bi-encoder and a batch of B questions with 1 hard negative each.
 */
import type { TF } from '../src/trainer/backend.ts';
import { BiEncoder } from '../src/trainer/biencoder.ts';
import { initBertTensors } from '../src/trainer/bert.ts';
import { parseBertConfig, parseEncoderConfig, type BertConfig, type EncoderConfig } from '../src/trainer/config.ts';
import { initEncoderTensors } from '../src/trainer/families.ts';
import type { BiEncoderBatch } from '../src/trainer/data.ts';
import type { TextTokenizer } from '../src/trainer/tokenizer.ts';
import { seededRandom } from '../src/util/random.ts';

export function benchConfig(size: 'tiny' | 'base'): BertConfig {
  const dims = size === 'tiny' ? { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 } : { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 };
  return parseBertConfig({ vocab_size: 30522, max_position_embeddings: 512, ...dims }, size);
}

/** Fixed-length ids: [CLS] + random word ids (never a pad id) + [SEP], exactly `len` tokens (no padding). */
function fixedTokenizer(len: number, seed: number): TextTokenizer {
  const rng = seededRandom(seed);
  return { maxLength: len, async encode(inputs) {
    return inputs.map(() => ({ ids: [101, ...Array.from({ length: len - 2 }, () => 1000 + Math.floor(rng() * 29000)), 102], typeIds: new Array(len).fill(0) }));
  } };
}

/** Each family at BERT-tiny's shape (T5: d_kv 64 × 2 heads = 128, ReLU FFN), with its own vocabulary and embeddings. */
const dims = { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 };
export const FAMILY_CONFIGS: Record<string, EncoderConfig> = {
  bert: parseEncoderConfig({ vocab_size: 30522, max_position_embeddings: 512, ...dims, model_type: 'bert' }, 'bert'),
  // HF RobertaConfig as roberta-base ships it: 514 positions (ids start at pad + 1 = 2), one token type
  roberta: parseEncoderConfig({ vocab_size: 50265, max_position_embeddings: 514, type_vocab_size: 1, pad_token_id: 1, ...dims, model_type: 'roberta' }, 'roberta'),
  distilbert: parseEncoderConfig({ vocab_size: 30522, max_position_embeddings: 512, dim: 128, n_layers: 2, n_heads: 2, hidden_dim: 512, model_type: 'distilbert' }, 'distilbert'),
  t5: parseEncoderConfig({ vocab_size: 32128, d_model: 128, d_kv: 64, d_ff: 512, num_layers: 2, num_heads: 2, model_type: 't5', feed_forward_proj: 'relu' }, 't5'),
};

/** A separate-encoder bi-encoder of any family over fixed-length ids, CLS pooling. */
export function familyModel(tf: TF, config: EncoderConfig, qLen: number, pLen: number): BiEncoder {
  return new BiEncoder(tf, { query: config, passage: config }, { query: initEncoderTensors(config, 1, false), passage: initEncoderTensors(config, 2, false) },
    { query: fixedTokenizer(qLen, 3), passage: fixedTokenizer(pLen, 4) }, { pooling: 'cls', normalize: false, shared: false });
}

export function benchModel(tf: TF, config: BertConfig, qLen: number, pLen: number): BiEncoder {
  return new BiEncoder(tf, { query: config, passage: config }, { query: initBertTensors(config, 1, false), passage: initBertTensors(config, 2, false) },
    { query: fixedTokenizer(qLen, 3), passage: fixedTokenizer(pLen, 4) }, { pooling: 'cls', normalize: false, shared: false });
}

export function benchBatch(questions: number): BiEncoderBatch {
  const batch: BiEncoderBatch = { questions: [], passages: [], positiveIndex: [] };
  for (let i = 0; i < questions; i++) {
    batch.questions.push({ text: 'q' });
    batch.positiveIndex.push(batch.passages.length);
    batch.passages.push({ text: 'pos' }, { text: 'hard negative' });
  }
  return batch;
}
