/** Test helper: a deterministic encoder (hashed bag of words, L2-normalized), not a product feature. */
import type { Encoder, EncodeInput } from '../../src/types.ts';
import { dprTokens } from '../../src/text/answer.ts';
import { hash32 } from '../../src/util/random.ts';

export function fakeEncoder(dim = 64): Encoder & { calls: number } {
  return {
    dim,
    calls: 0,
    async encode(inputs: readonly EncodeInput[]): Promise<Float32Array> {
      this.calls++;
      const out = new Float32Array(inputs.length * dim);
      inputs.forEach((input, i) => {
        for (const tok of dprTokens(`${input.title ?? ''} ${input.text}`)) out[i * dim + (hash32(tok) % dim)] += 1;
        let norm = 0;
        for (let j = 0; j < dim; j++) norm += out[i * dim + j] ** 2;
        norm = Math.sqrt(norm) || 1;
        for (let j = 0; j < dim; j++) out[i * dim + j] /= norm;
      });
      return out;
    },
    dispose() {},
  };
}

/** Seeded uniform vectors in [-0.5, 0.5). */
export function randomVectors(n: number, dim: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  }
  return out;
}
