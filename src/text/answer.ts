/**
 * DPR's `has_answer`: does a passage contain one of the answers?
 *
 * String mode (DPR's default): NFD-normalize, split into tokens with DPR's SimpleTokenizer
 * regex `([\p{L}\p{N}\p{M}]+)|([^\p{Z}\p{C}])`, lowercase, and look for the answer's tokens as
 * a contiguous run of the passage's tokens. Regex mode: NFD-normalize and search the answer as
 * a case-insensitive, multiline pattern anywhere in the text.
 *
 * Differs from DPR in one place on purpose: an answer with no tokens (empty or only spaces)
 * matches nothing here, while DPR's loop would call it a match in every passage.
 */
/** DPR's `has_answer` match types: token-run match (DPR's default) or a case-insensitive regex. */
export const MATCH_MODES = ['string', 'regex'] as const;
/** How an answer is looked for in a passage. */
export type MatchMode = (typeof MATCH_MODES)[number];

const TOKEN_RE = /[\p{L}\p{N}\p{M}]+|[^\p{Z}\p{C}]/gu;
// Non-global twin for yes/no tests: a global regex keeps lastIndex between calls.
const ANY_TOKEN_RE = /[\p{L}\p{N}\p{M}]|[^\p{Z}\p{C}]/u;

/**
 * DPR SimpleTokenizer words, uncased (the text is NFD-normalized first).
 * @example dprTokens("Don't stop, U.S.A.!") // ['don', "'", 't', 'stop', ',', 'u', '.', 's', '.', 'a', '.', '!']
 */
export function dprTokens(text: string): string[] {
  const nfd = text.normalize('NFD');
  const out: string[] = [];
  for (const m of nfd.matchAll(TOKEN_RE)) out.push(m[0].toLowerCase());
  return out;
}

/** True when `answer` yields no DPR tokens (it would match everywhere): callers treat it as bad input. */
export function isEmptyAnswer(answer: string): boolean {
  return !ANY_TOKEN_RE.test(answer.normalize('NFD'));
}

// Escapes of an ASCII letter that Python's `re` knows; any other (`\e`, `\o`, ...) is a compile error
// there, so DPR's regex_match says False. JS would take them as the bare letter instead.
const PYTHON_LETTER_ESCAPES = new Set('AbBdDsSwWZafnrtvxuU');

/** Python `re` pattern → JS source, or null where Python would fail to compile it. */
function pythonPatternToJs(pattern: string): string | null {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = pattern[i + 1] ?? '';
    if (/^[A-Za-z]$/.test(e) && !PYTHON_LETTER_ESCAPES.has(e)) return null; // also \N{name}: not supported
    if (e === 'A') out += '(?<![\\s\\S])'; // start of the text (JS ^ is start of line under 'm')
    else if (e === 'Z') out += '(?![\\s\\S])'; // end of the text
    else if (e === 'a') out += '\\x07';
    else if (e === 'U') {
      const hex = pattern.slice(i + 2, i + 10);
      if (!/^[0-9a-fA-F]{8}$/.test(hex) || parseInt(hex, 16) > 0x10ffff) return null;
      const code = parseInt(hex, 16);
      out += code <= 0xffff ? `\\u${hex.slice(4)}` : String.fromCodePoint(code); // \U is not JS syntax
      i += 8;
    } else out += c + e;
    i++;
  }
  return out;
}

function compileRegex(pattern: string): RegExp | null {
  // DPR normalizes the pattern to NFD too: `P\étain` becomes `P\e` + U+0301, an error in Python.
  const source = pythonPatternToJs(pattern.normalize('NFD'));
  if (source === null) return null;
  for (const flags of ['imu', 'im']) {
    try {
      return new RegExp(source, flags);
    } catch {
      // DPR's regex_match returns False for a pattern that does not compile; try without 'u'
      // first because Python accepts escapes like `\-` that unicode-mode JS rejects.
    }
  }
  return null;
}

/**
 * Matches passages against a fixed set of answers. Build it once per question and call
 * `matches` for each candidate passage: answer tokenization happens once.
 *
 * @example
 * const m = new AnswerMatcher(['Denver Broncos']);
 * m.matches('The Denver Broncos won.') // true
 * m.matches('Denverbroncos') // false
 */
export class AnswerMatcher {
  private readonly tokenLists: string[][] = [];
  private readonly patterns: RegExp[] = [];

  constructor(
    answers: readonly string[],
    readonly mode: MatchMode = 'string',
  ) {
    for (const answer of answers) {
      if (isEmptyAnswer(answer)) continue;
      if (mode === 'string') this.tokenLists.push(dprTokens(answer));
      else {
        const re = compileRegex(answer);
        if (re) this.patterns.push(re);
      }
    }
  }

  /** Whether the (raw, unnormalized) text contains one of the answers. */
  matches(text: string): boolean {
    if (this.mode === 'regex') {
      const nfd = text.normalize('NFD');
      return this.patterns.some((re) => re.test(nfd));
    }
    if (this.tokenLists.length === 0) return false;
    return this.matchesTokens(dprTokens(text));
  }

  /** Same as `matches` for a passage already split with `dprTokens` (lets callers cache it). */
  matchesTokens(tokens: readonly string[]): boolean {
    for (const answer of this.tokenLists) {
      if (containsRun(tokens, answer)) return true;
    }
    return false;
  }
}

function containsRun(tokens: readonly string[], run: readonly string[]): boolean {
  const n = run.length;
  if (n === 0) return false;
  const first = run[0];
  outer: for (let i = 0; i + n <= tokens.length; i++) {
    if (tokens[i] !== first) continue;
    for (let j = 1; j < n; j++) if (tokens[i + j] !== run[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * DPR's `has_answer(answers, text, tokenizer, match_type)`.
 *
 * @example
 * hasAnswer(['art'], 'a party') // false: whole tokens only
 * hasAnswer(['U.S.'], 'the U.S. army') // true
 */
export function hasAnswer(answers: readonly string[], text: string, mode: MatchMode = 'string'): boolean {
  return new AnswerMatcher(answers, mode).matches(text);
}
