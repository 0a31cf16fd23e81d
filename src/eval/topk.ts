/**
 * DPR's retrieval accuracy: the share of questions with an answer-bearing passage (DPR
 * `has_answer`) among the top k retrieved. Reported as `top@1`, `top@5`, `top@20`, `top@100`; on
 * request also `mrr@k`, the same first answer-bearing rank's reciprocal.
 */
import { AnswerMatcher } from '../text/answer.ts';
import type { MatchMode, Passage } from '../types.ts';

/**
 * 0-based rank of the first retrieved passage that contains an answer, or -1 when none does.
 * @example firstAnswerRank(['Denver Broncos'], [p0, p1], 'string') // 1 when only p1 holds it
 */
export function firstAnswerRank(answers: readonly string[], ranked: readonly Passage[], mode: MatchMode = 'string', checkTitle = false): number {
  const matcher = new AnswerMatcher(answers, mode);
  return ranked.findIndex((p) => matcher.matches(p.text) || (checkTitle && matcher.matches(p.title)));
}

/**
 * Top-k accuracy from each question's first answer rank.
 * @example topKAccuracy([0, 3, -1], [1, 5]) // { 'top@1': 1/3, 'top@5': 2/3 }
 */
export function topKAccuracy(firstRanks: readonly number[], ks: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ks) {
    const hits = firstRanks.filter((r) => r >= 0 && r < k).length;
    out[`top@${k}`] = firstRanks.length === 0 ? 0 : hits / firstRanks.length;
  }
  return out;
}

/**
 * Mean reciprocal rank of each question's first answer-bearing passage, counted within the top k
 * (0 beyond it or when none is found), over every question.
 * @example answerMrr([0, 3, -1], 10) // (1 + 1/4 + 0) / 3
 */
export function answerMrr(firstRanks: readonly number[], k: number): number {
  let sum = 0;
  for (const r of firstRanks) if (r >= 0 && r < k) sum += 1 / (r + 1);
  return firstRanks.length === 0 ? 0 : sum / firstRanks.length;
}
