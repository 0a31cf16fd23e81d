/**
 * Tokenization for the encoders: Hugging Face `tokenizers` (npm) when the model dir has a
 * tokenizer.json, otherwise BERT's own WordPiece from vocab.txt (basic tokenizer: clean, CJK split,
 * lowercase + accent strip, punctuation split; then greedy longest-match word pieces).
 * Inputs become `[CLS] text [SEP]`, or `[CLS] title [SEP] text [SEP]` (type ids 0…0 1…1) when a
 * title is embedded; pairs are truncated longest-first to `maxLength`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EncodeInput } from '../types.ts';
import { InputError } from '../util/errors.ts';

/** Token ids of one input, specials included, already truncated. */
export interface TokenizedInput {
  ids: number[];
  typeIds: number[];
}

/** A padded batch: `[batch, seqLen]` row-major, seqLen = longest input in the batch. */
export interface TokenBatch {
  ids: Int32Array;
  typeIds: Int32Array;
  mask: Int32Array;
  batch: number;
  seqLen: number;
}

export interface TextTokenizer {
  readonly maxLength: number;
  encode(inputs: readonly EncodeInput[]): Promise<TokenizedInput[]>;
}

const CJK: [number, number][] = [
  [0x4e00, 0x9fff], [0x3400, 0x4dbf], [0x20000, 0x2a6df], [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f], [0x2b820, 0x2ceaf], [0xf900, 0xfaff], [0x2f800, 0x2fa1f],
];
const isCjk = (cp: number) => CJK.some(([a, b]) => cp >= a && cp <= b);
const isAsciiPunct = (cp: number) => (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);

/** BERT's basic tokenizer: the words WordPiece then splits. */
export function basicTokenize(text: string, lowercase: boolean): string[] {
  let clean = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd) continue;
    if (ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch)) clean += ' ';
    else if (/\p{C}/u.test(ch)) continue;
    else if (isCjk(cp)) clean += ` ${ch} `;
    else clean += ch;
  }
  if (lowercase) clean = clean.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
  const words: string[] = [];
  for (const token of clean.split(' ')) {
    let current = '';
    for (const ch of token) {
      if (isAsciiPunct(ch.codePointAt(0)!) || /\p{P}/u.test(ch)) {
        if (current) words.push(current);
        words.push(ch);
        current = '';
      } else current += ch;
    }
    if (current) words.push(current);
  }
  return words;
}

/** vocab.txt WordPiece tokenizer (BERT uncased by default). */
export class WordPieceTokenizer implements TextTokenizer {
  private readonly cls: number;
  private readonly sep: number;
  private readonly unk: number;

  constructor(
    private readonly vocab: Map<string, number>,
    readonly maxLength: number,
    private readonly lowercase = true,
  ) {
    const need = (t: string) => {
      const id = vocab.get(t);
      if (id === undefined) throw new Error(`vocab has no ${t} token`);
      return id;
    };
    this.cls = need('[CLS]');
    this.sep = need('[SEP]');
    this.unk = need('[UNK]');
  }

  /** Word pieces of a text, without specials. */
  tokenize(text: string): number[] {
    const out: number[] = [];
    for (const word of basicTokenize(text, this.lowercase)) {
      const chars = [...word];
      if (chars.length > 100) {
        out.push(this.unk);
        continue;
      }
      const pieces: number[] = [];
      let start = 0;
      while (start < chars.length) {
        let end = chars.length;
        let found: number | undefined;
        while (start < end) {
          const piece = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
          found = this.vocab.get(piece);
          if (found !== undefined) break;
          end--;
        }
        if (found === undefined) {
          pieces.length = 0;
          pieces.push(this.unk);
          break;
        }
        pieces.push(found);
        start = end;
      }
      out.push(...pieces);
    }
    return out;
  }

  async encode(inputs: readonly EncodeInput[]): Promise<TokenizedInput[]> {
    return inputs.map((input) => {
      const text = this.tokenize(input.text);
      if (input.title === undefined) {
        const body = text.slice(0, Math.max(this.maxLength - 2, 0));
        return { ids: [this.cls, ...body, this.sep], typeIds: new Array(body.length + 2).fill(0) };
      }
      const [a, b] = truncateLongestFirst(this.tokenize(input.title), text, this.maxLength - 3);
      return { ids: [this.cls, ...a, this.sep, ...b, this.sep], typeIds: [...new Array(a.length + 2).fill(0), ...new Array(b.length + 1).fill(1)] };
    });
  }
}

/**
 * Longest-first pair truncation as the `tokenizers` package does it: the shorter sequence keeps
 * its length if it fits in half the budget, else gets floor(budget/2); the longer gets the rest.
 * @example truncateLongestFirst([1, 2], [5, 6, 7], 3) // [[1], [5, 6]]
 */
export function truncateLongestFirst(a: number[], b: number[], budget: number): [number[], number[]] {
  if (a.length + b.length <= budget) return [a, b];
  const swap = a.length > b.length;
  const shorter = swap ? b.length : a.length;
  const keepShort = Math.min(shorter, Math.floor(Math.max(budget, 0) / 2));
  const keepLong = Math.max(budget, 0) - keepShort;
  return swap ? [a.slice(0, keepLong), b.slice(0, keepShort)] : [a.slice(0, keepShort), b.slice(0, keepLong)];
}

/** tokenizer.json through the `tokenizers` npm package (its post-processor adds the specials). */
class HfTokenizer implements TextTokenizer {
  constructor(
    private readonly tok: import('tokenizers').Tokenizer,
    readonly maxLength: number,
  ) {}

  async encode(inputs: readonly EncodeInput[]): Promise<TokenizedInput[]> {
    return Promise.all(
      inputs.map(async (input) => {
        const enc = input.title === undefined ? await this.tok.encode(input.text) : await this.tok.encode(input.title, input.text);
        return { ids: enc.getIds(), typeIds: enc.getTypeIds() };
      }),
    );
  }
}

/** Reads a vocab.txt into token → id (line number). */
export async function readVocab(file: string): Promise<Map<string, number>> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return new Map(lines.map((t, i) => [t.replace(/\r$/, ''), i]));
}

/**
 * The tokenizer of a model dir: tokenizer.json if present, else vocab.txt.
 * @example const tok = await loadTokenizer('tiny-bert', 256); await tok.encode([{ title: 'T', text: 'x' }]);
 */
export async function loadTokenizer(dir: string, maxLength: number, prefer: 'auto' | 'vocab' = 'auto'): Promise<TextTokenizer> {
  const json = join(dir, 'tokenizer.json');
  const vocab = join(dir, 'vocab.txt');
  if (prefer === 'auto' && existsSync(json)) {
    const { Tokenizer } = await import('tokenizers');
    const tok = Tokenizer.fromFile(json);
    // One Tokenizer per wrapper: truncation is state on the native object.
    tok.setTruncation(maxLength);
    tok.disablePadding();
    return new HfTokenizer(tok, maxLength);
  }
  if (!existsSync(vocab)) throw new InputError(dir, undefined, undefined, 'model dir has neither tokenizer.json nor vocab.txt');
  let lowercase = true;
  const cfgFile = join(dir, 'tokenizer_config.json');
  if (existsSync(cfgFile)) {
    const cfg = JSON.parse(await readFile(cfgFile, 'utf8')) as { do_lower_case?: boolean };
    if (cfg.do_lower_case === false) lowercase = false;
  }
  return new WordPieceTokenizer(await readVocab(vocab), maxLength, lowercase);
}

/** Pads tokenized inputs to the longest one: ids 0 ([PAD]), mask 0 on padding. */
export function padBatch(items: readonly TokenizedInput[]): TokenBatch {
  const seqLen = Math.max(1, ...items.map((t) => t.ids.length));
  const batch = items.length;
  const ids = new Int32Array(batch * seqLen);
  const typeIds = new Int32Array(batch * seqLen);
  const mask = new Int32Array(batch * seqLen);
  items.forEach((t, i) => {
    ids.set(t.ids, i * seqLen);
    typeIds.set(t.typeIds, i * seqLen);
    mask.fill(1, i * seqLen, i * seqLen + t.ids.length);
  });
  return { ids, typeIds, mask, batch, seqLen };
}
