/** Shared helpers for trainer tests: the tfjs backend under test and tiny configs. */
import { loadTf, type BackendChoice } from '../../src/trainer/backend.ts';
import { parseBertConfig, type BertConfig } from '../../src/trainer/config.ts';
import type { TokenBatch } from '../../src/trainer/tokenizer.ts';

/** Tests run on wasm unless DPREP_TEST_BACKEND says otherwise (cpu, tensorflow). */
export const TEST_BACKEND = (process.env.DPREP_TEST_BACKEND ?? 'wasm') as BackendChoice;
export const getTf = async () => (await loadTf(TEST_BACKEND)).tf;

/** A tiny BERT config for unit tests (dropout off unless asked for). */
export function tinyConfig(over: Record<string, unknown> = {}): BertConfig {
  return parseBertConfig(
    {
      vocab_size: 60, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16,
      max_position_embeddings: 32, type_vocab_size: 2, initializer_range: 0.2, layer_norm_eps: 1e-12,
      hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, hidden_act: 'gelu', ...over,
    },
    'test-config',
  );
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The padded batch of a reference fixture's expected.json (ids, mask, optional type ids). */
export function batchOf(expected: { ids: number[][]; mask: number[][]; type_ids?: number[][] }): TokenBatch {
  const B = expected.ids.length;
  const L = expected.ids[0].length;
  return {
    ids: Int32Array.from(expected.ids.flat()), mask: Int32Array.from(expected.mask.flat()),
    typeIds: expected.type_ids ? Int32Array.from(expected.type_ids.flat()) : new Int32Array(B * L), batch: B, seqLen: L,
  };
}

/** |got − want| ≤ 1e-5 + 1e-4·|want| everywhere (float32 through two layers); returns the worst excess. */
export function closeness(got: ArrayLike<number>, want: ArrayLike<number>): { ok: boolean; worst: number } {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-5 + 1e-4 * Math.abs(want[i])));
  return { ok: worst <= 1, worst };
}
