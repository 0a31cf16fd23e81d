/**
 * Records against the corpus they are mined with: passage ids collide between conversions
 * (`squad1-N` of one SQuAD conversion is another passage in the next), so a positive is checked
 * against the corpus's passage of that id by content (normalized text and title), and a record
 * from another conversion is refused instead of being mined against unrelated passages.
 */
import type { DprRecord, Passage } from '../types.ts';
import { InputError } from '../util/errors.ts';
import { normalizeForDedup } from '../text/same-passage.ts';

const quote = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);

/**
 * Throws naming the record and the first positive whose text or title differs from `passageOf`'s
 * passage of that id (whitespace, case and Unicode composition aside). Positives the corpus lacks
 * are left to the caller (skipped and counted by the miners).
 * @example checkPositivesAgainstCorpus(record, 'line 12', 'train.jsonl', 'corpus.jsonl', (id) => byId.get(id));
 */
export function checkPositivesAgainstCorpus(record: DprRecord, where: string, examples: string, corpus: string, passageOf: (id: string) => Passage | undefined): void {
  record.positive_ctxs.forEach((c, i) => {
    const p = passageOf(c.passage_id);
    if (!p) return;
    for (const field of ['text', 'title'] as const) {
      const mine = c[field];
      if (typeof mine !== 'string' || (field === 'title' && mine === '' && p.title === '')) continue;
      if (normalizeForDedup(mine) !== normalizeForDedup(p[field] ?? '')) {
        throw new InputError(
          examples,
          where,
          `positive_ctxs[${i}].${field}`,
          `passage "${c.passage_id}" is ${quote(mine)} here but ${quote(p[field] ?? '')} in ${corpus}: ` +
            `the records and the corpus come from different conversions (passage ids repeat between them); mine with the corpus these records were converted with`,
        );
      }
    }
  });
}
