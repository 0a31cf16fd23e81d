/**
 * Converter options have one source: the library options types derive from the option
 * declarations the convert commands spread (checked at type level by tsc, and at run time by identity).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertMsmarcoCommand } from '../../src/commands/convert-msmarco.ts';
import { convertNqCommand } from '../../src/commands/convert-nq.ts';
import { convertSquadCommand } from '../../src/commands/convert-squad.ts';
import { convertOptions } from '../../src/converters/common.ts';
import { msmarcoOptions, type MsmarcoConvertOptions } from '../../src/converters/msmarco.ts';
import { nqOptions, type NqOptions } from '../../src/converters/nq-options.ts';
import type { SquadConvertOptions } from '../../src/converters/squad.ts';

// Type-level cases: tsc --noEmit fails if a derived type drifts from its declaration.
const minimal: MsmarcoConvertOptions = { collection: 'c.tsv', queries: 'q.tsv', qrels: 'r.tsv' };
// @ts-expect-error a required declaration (collection) is required in the library type
const noCollection: MsmarcoConvertOptions = { queries: 'q.tsv', qrels: 'r.tsv' };
// @ts-expect-error officialNegatives takes only the declared choices
const badChoice: MsmarcoConvertOptions = { ...minimal, officialNegatives: 'soft' };
// @ts-expect-error passageWords is a number, as declared
const badWords: SquadConvertOptions = { passageWords: '100' };
// @ts-expect-error an option no command declares is not a library option
const unknown: NqOptions = { allowNoAnswer: true };
void [noCollection, badChoice, badWords, unknown];

// [command, the declarations its options must be (the same objects, not copies)]
const sources: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ['convert.msmarco', convertMsmarcoCommand.options, { ...msmarcoOptions, ...convertOptions }],
  ['convert.nq', convertNqCommand.options, { ...nqOptions, ...convertOptions }],
  ['convert.squad', convertSquadCommand.options, convertOptions],
];
for (const [id, options, declared] of sources) {
  test(`${id}: options are the converter's declarations, not restated`, () => {
    for (const [key, spec] of Object.entries(declared)) assert.equal(options[key], spec, `${id} --${key}`);
  });
}
