/**
 * Test data from real SQuAD/PIAF files: contexts split into ~100-word passages (title = article),
 * and one DPR record per question whose positive is the passage holding the answer start.
 * (A test-only stand-in for the SQuAD converter, so these tests do not depend on it.)
 */
import { readFileSync } from 'node:fs';
import type { DprRecord, Passage } from '../../src/types.ts';

interface SquadFile {
  data: { title: string; paragraphs: { context: string; qas: { id: string; question: string; answers: { text: string; answer_start: number }[] }[] }[] }[];
}

export function squadToDpr(file: string, opts: { articles?: number; words?: number; dataset?: string } = {}): { passages: Passage[]; records: DprRecord[] } {
  const squad = JSON.parse(readFileSync(file, 'utf8')) as SquadFile;
  const words = opts.words ?? 100;
  const passages: Passage[] = [];
  const records: DprRecord[] = [];
  for (const [ai, article] of squad.data.slice(0, opts.articles ?? Infinity).entries()) {
    for (const [pi, para] of article.paragraphs.entries()) {
      // Chunk boundaries by character offset of every `words`-th word.
      const starts: number[] = [];
      const re = /\S+/g;
      let m: RegExpExecArray | null;
      let n = 0;
      while ((m = re.exec(para.context))) if (n++ % words === 0) starts.push(m.index);
      const chunks = starts.map((s, i) => ({ start: s, passage: { passage_id: `${opts.dataset ?? 'squad1'}-${ai}-${pi}-${i}`, title: article.title, text: para.context.slice(s, starts[i + 1] ?? para.context.length).trim() } }));
      passages.push(...chunks.map((c) => c.passage));
      for (const qa of para.qas) {
        const start = qa.answers[0]?.answer_start ?? 0;
        const pos = [...chunks].reverse().find((c) => c.start <= start) ?? chunks[0];
        records.push({
          dataset: opts.dataset ?? 'squad1',
          question: qa.question,
          answers: [...new Set(qa.answers.map((a) => a.text))],
          positive_ctxs: [{ ...pos.passage }],
          negative_ctxs: [],
          hard_negative_ctxs: [],
          id: qa.id,
        });
      }
    }
  }
  return { passages, records };
}
