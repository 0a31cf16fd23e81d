/**
 * `dprep convert piaf`: PIAF (French questions in SQuAD v1.1 format) → DPR records + corpus.
 * Same converter as `convert squad`; records default to dataset "piaf" and passage ids "piaf-<n>".
 */
import { defineCommand } from '../options.ts';
import { runSquadCommand, squadDescription, squadOptions } from './convert-squad.ts';

export const convertPiafCommand = defineCommand({
  id: 'convert.piaf',
  summary: 'PIAF (French, SQuAD format) → DPR records + corpus of ~100-word passages',
  description: `
PIAF v1.0 / v1.1 (etalab-ia) is SQuAD v1.1 JSON with French text and an extra article key "categorie"
(ignored). It goes through the SQuAD converter with dataset "piaf" (ids "piaf-<n>"); that name tells
"mine bm25" / "index bm25" (--lang auto) to use the French analyzer (a --dataset keeps it if it starts
with "piaf" or "fquad"; otherwise pass them --lang fr). The run's metrics record language "fr". PIAF's known off-by-one answer_start (p140295202893328) is
fixed by the ±32 character search and counted as "answer_start corrected".
${squadDescription.replace('dprep convert squad --input train-v1.1.json --out squad.dpr.json --corpus squad.corpus.jsonl', 'dprep convert piaf --input piaf-v1.1.json --out piaf.dpr.jsonl --corpus piaf.corpus.parquet')}`,
  options: squadOptions,
  run: (opts, context) => runSquadCommand(opts, context, 'piaf'),
});
