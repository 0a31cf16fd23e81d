/**
 * `dprep match`: DPR's has_answer as a filter over JSON lines, for checking what dprep will
 * treat as answer-bearing. Input lines: {"text", "answers", "mode"?, "title"?}; output lines: {"match"}.
 */
import { createInterface } from 'node:readline';
import { defineCommand } from '../options.ts';
import { AnswerMatcher, MATCH_MODES, type MatchMode } from '../text/answer.ts';
import { InputError } from '../util/errors.ts';
import { parseJsonLine, readLines } from '../io/lines.ts';

export const matchCommand = defineCommand({
  id: 'match',
  summary: "DPR has_answer over JSON lines: {text, answers, mode?} in, {match} out",
  description: `
Reads JSON lines from --input (default: standard input). Each line is
{"text": string, "answers": string[], "mode"?: "string"|"regex"} and produces {"match": true|false}
on standard output, in order. An empty answer never matches (DPR would say it matches everything).
Example:  echo '{"text":"the U.S. army","answers":["U.S."]}' | dprep match`,
  options: {
    input: { type: 'string', help: 'JSON lines file to read instead of standard input', role: 'input' },
    mode: { type: 'string', choices: MATCH_MODES, default: 'string', help: 'default match mode for lines without "mode"' },
  },
  async run(opts) {
    const where = opts.input ?? '<stdin>';
    const lines = opts.input
      ? readLines(opts.input)
      : (async function* () {
          let lineNo = 0;
          for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) yield { lineNo: ++lineNo, text };
        })();
    for await (const { lineNo, text } of lines) {
      if (text.trim() === '') continue;
      const obj = parseJsonLine(text, where, lineNo) as { text?: unknown; answers?: unknown; mode?: unknown } | null;
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new InputError(where, `line ${lineNo}`, undefined, 'expected a JSON object {text, answers}');
      if (typeof obj.text !== 'string') throw new InputError(where, `line ${lineNo}`, 'text', 'expected a string');
      if (!Array.isArray(obj.answers) || !obj.answers.every((a) => typeof a === 'string')) {
        throw new InputError(where, `line ${lineNo}`, 'answers', 'expected an array of strings');
      }
      const mode = obj.mode ?? opts.mode;
      if (!MATCH_MODES.includes(mode as MatchMode)) throw new InputError(where, `line ${lineNo}`, 'mode', `expected ${MATCH_MODES.map((m) => `"${m}"`).join(' or ')}`);
      const match = new AnswerMatcher(obj.answers as string[], mode as MatchMode).matches(obj.text);
      if (!process.stdout.write(JSON.stringify({ match }) + '\n')) await new Promise((r) => process.stdout.once('drain', r));
    }
  },
});
