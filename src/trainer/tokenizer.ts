/**
 * Tokenization for the encoders: Hugging Face `tokenizers` (npm) when the model dir has a
 * tokenizer.json (WordPiece, byte-level BPE, SentencePiece BPE / Unigram: its own normalizer,
 * pre-tokenizer and post-processor), otherwise BERT's own WordPiece from vocab.txt (basic
 * tokenizer: clean, CJK split, lowercase + accent strip, punctuation split; then greedy
 * longest-match word pieces).
 *
 * Without a template an input becomes the tokenizer's single sequence (`[CLS] text [SEP]`,
 * `<s> text </s>`), or, when a non-empty title is embedded, its pair (`[CLS] title [SEP] text [SEP]` with
 * type ids 0…0 1…1; RoBERTa/CamemBERT/XLM-R: `<s> title </s></s> text </s>`, type ids all 0),
 * truncated longest-first to `maxLength` as HF does. With an input template (template.ts) the
 * rendered text is one sequence, truncated at its end.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EncodeInput } from '../types.ts';
import { InputError, UsageError } from '../util/errors.ts';
import { renderTemplate, type InputTemplate } from './template.ts';

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
  /** The id padBatch fills padding with; absent: 0 (BERT's [PAD]; RoBERTa's `<pad>` is 1). */
  readonly padId?: number;
  encode(inputs: readonly EncodeInput[]): Promise<TokenizedInput[]>;
}

/** What loadTokenizer gives: a TextTokenizer that also knows its file and vocabulary (for checkTokenizerConfig). */
export interface ModelTokenizer extends TextTokenizer {
  readonly padId: number;
  /** tokenizer.json or vocab.txt: named in errors. */
  readonly file: string;
  /** Every id it can produce is below this (added tokens included). */
  readonly vocabSize: number;
  /** Added tokens (id → content) that no input can produce: neither a post-processor special nor the unknown token. */
  readonly unusedSpecials: ReadonlyMap<number, string>;
  readonly template?: InputTemplate;
}

export interface TokenizerOptions {
  /** `vocab`: BERT's WordPiece from vocab.txt even when tokenizer.json exists. */
  prefer?: 'auto' | 'vocab';
  /** Render every input through this template into one sequence (template.ts). */
  template?: InputTemplate;
  /** Lowercase texts first (sentence-transformers' `do_lower_case`). */
  lowercase?: boolean;
}

const tooShort = (maxLength: number, file: string) =>
  new UsageError(`max length ${maxLength} leaves no room for the special tokens ${file} adds around an input (3–4 for a title–text pair); use a larger max length`);

/** The text(s) one input is tokenized from: one sequence, or the DPR (title, text) pair. */
function sequences(input: EncodeInput, opts: TokenizerOptions): [string] | [string, string] {
  const lower = (s: string) => (opts.lowercase ? s.toLowerCase() : s);
  if (opts.template) return [lower(renderTemplate(opts.template, input))];
  // DPR's tensorizer pairs only when there is a title (`if title:`): an empty one is a single sequence.
  return input.title ? [lower(input.title), lower(input.text)] : [lower(input.text)];
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
export class WordPieceTokenizer implements ModelTokenizer {
  private readonly cls: number;
  private readonly sep: number;
  private readonly unk: number;
  readonly padId: number;
  readonly vocabSize: number;
  readonly unusedSpecials: ReadonlyMap<number, string>;
  readonly template?: InputTemplate;

  constructor(
    private readonly vocab: Map<string, number>,
    readonly maxLength: number,
    private readonly lowercase = true,
    readonly file = 'vocab.txt',
    private readonly opts: Pick<TokenizerOptions, 'template' | 'lowercase'> = {},
  ) {
    const need = (t: string) => {
      const id = vocab.get(t);
      if (id === undefined) throw new InputError(file, undefined, undefined, `vocab has no ${t} token`);
      return id;
    };
    this.cls = need('[CLS]');
    this.sep = need('[SEP]');
    this.unk = need('[UNK]');
    this.padId = vocab.get('[PAD]') ?? 0;
    this.vocabSize = Math.max(0, ...vocab.values()) + 1;
    this.unusedSpecials = new Map(['[PAD]', '[MASK]'].flatMap((t) => (vocab.has(t) ? [[vocab.get(t)!, t] as const] : [])));
    this.template = opts.template;
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
      const seqs = sequences(input, this.opts);
      if (seqs.length === 1) {
        if (this.maxLength < 2) throw tooShort(this.maxLength, this.file);
        const body = this.tokenize(seqs[0]).slice(0, Math.max(this.maxLength - 2, 0));
        return { ids: [this.cls, ...body, this.sep], typeIds: new Array(body.length + 2).fill(0) };
      }
      if (this.maxLength < 3) throw tooShort(this.maxLength, this.file);
      const [a, b] = truncateLongestFirst(this.tokenize(seqs[0]), this.tokenize(seqs[1]), this.maxLength - 3);
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
class HfTokenizer implements ModelTokenizer {
  constructor(
    private readonly tok: import('tokenizers').Tokenizer,
    readonly maxLength: number,
    readonly file: string,
    readonly padId: number,
    readonly vocabSize: number,
    readonly unusedSpecials: ReadonlyMap<number, string>,
    private readonly opts: TokenizerOptions,
  ) {}

  get template(): InputTemplate | undefined {
    return this.opts.template;
  }

  async encode(inputs: readonly EncodeInput[]): Promise<TokenizedInput[]> {
    return Promise.all(
      inputs.map(async (input) => {
        const seqs = sequences(input, this.opts);
        const enc = await this.tok.encode(seqs[0], seqs[1] ?? null);
        // The native truncation gives up (and returns everything) when the specials alone do not fit.
        if (enc.getLength() > this.maxLength) throw tooShort(this.maxLength, this.file);
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

/** The parts of a tokenizer.json this module reads itself (the rest is the native tokenizer's business). */
interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  model?: { type?: string; unk_token?: string | null; unk_id?: number | null; vocab?: Record<string, number> | [string, number][] };
  padding?: { pad_id?: number } | null;
  post_processor?: PostProcessorJson | null;
}
interface PostProcessorJson {
  type?: string;
  cls?: [string, number];
  sep?: [string, number];
  special_tokens?: Record<string, { ids?: number[] }>;
  processors?: PostProcessorJson[];
}

/** Ids the post-processor inserts (RobertaProcessing / BertProcessing / TemplateProcessing / Sequence). */
function postProcessorIds(pp: PostProcessorJson | null | undefined): number[] {
  if (!pp) return [];
  return [
    ...(pp.cls ? [pp.cls[1]] : []),
    ...(pp.sep ? [pp.sep[1]] : []),
    ...Object.values(pp.special_tokens ?? {}).flatMap((t) => t.ids ?? []),
    ...(pp.processors ?? []).flatMap(postProcessorIds),
  ];
}

/** A special token's content from tokenizer_config.json / special_tokens_map.json (string or AddedToken object). */
async function configuredToken(dir: string, key: string): Promise<string | undefined> {
  for (const name of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const value = (JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>)[key];
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  }
  return undefined;
}

async function loadHfTokenizer(dir: string, file: string, maxLength: number, opts: TokenizerOptions): Promise<HfTokenizer> {
  const { Tokenizer } = await import('tokenizers');
  let tok: import('tokenizers').Tokenizer;
  let json: TokenizerJson;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as TokenizerJson;
    tok = Tokenizer.fromFile(file);
  } catch (err) {
    throw new InputError(file, undefined, undefined, `not a Hugging Face tokenizer.json: ${(err as Error).message}`);
  }
  // Override what the file stores (camembert / XLM-R files say truncation 128 and pad to the
  // batch's longest): dprep truncates to its own max length and pads in padBatch. One Tokenizer
  // per wrapper: truncation is state on the native object.
  tok.setTruncation(maxLength);
  tok.disablePadding();
  const byContent = (t: string | undefined) => (t === undefined ? null : tok.tokenToId(t));
  const padId = json.padding?.pad_id ?? byContent(await configuredToken(dir, 'pad_token')) ?? byContent('<pad>') ?? byContent('[PAD]') ?? 0;
  const unkId = json.model?.unk_id ?? byContent(json.model?.unk_token ?? undefined);
  const emitted = new Set([...postProcessorIds(json.post_processor), ...(unkId === null || unkId === undefined ? [] : [unkId])]);
  const added = json.added_tokens ?? [];
  const unused = new Map(added.filter((t) => t.special && !emitted.has(t.id)).map((t) => [t.id, t.content] as const));
  const vocabSize = Math.max(tok.getVocabSize(true), ...added.map((t) => t.id + 1));
  return new HfTokenizer(tok, maxLength, file, padId, vocabSize, unused, opts);
}

/**
 * The tokenizer of a model dir: tokenizer.json if present, else vocab.txt.
 * @example
 * const tok = await loadTokenizer('tiny-bert', 256); await tok.encode([{ title: 'T', text: 'x' }]);
 * const e5 = await loadTokenizer('e5-small', 512, { template: parseTemplate('query: {text}', '--query-template') });
 */
export async function loadTokenizer(dir: string, maxLength: number, options: 'auto' | 'vocab' | TokenizerOptions = {}): Promise<ModelTokenizer> {
  const opts: TokenizerOptions = typeof options === 'string' ? { prefer: options } : options;
  const json = join(dir, 'tokenizer.json');
  const vocab = join(dir, 'vocab.txt');
  if ((opts.prefer ?? 'auto') === 'auto' && existsSync(json)) return loadHfTokenizer(dir, json, maxLength, opts);
  if (!existsSync(vocab)) throw new InputError(dir, undefined, undefined, 'model dir has neither tokenizer.json nor vocab.txt');
  let lowercase = true;
  const cfgFile = join(dir, 'tokenizer_config.json');
  if (existsSync(cfgFile)) {
    const cfg = JSON.parse(await readFile(cfgFile, 'utf8')) as { do_lower_case?: boolean };
    if (cfg.do_lower_case === false) lowercase = false;
  }
  return new WordPieceTokenizer(await readVocab(vocab), maxLength, lowercase, vocab, opts);
}

/**
 * Refuses a tokenizer that does not fit a model config, before any work: an id at or past the
 * config's `vocab_size` would index outside the embedding table, and a `pad_token_id` that real
 * inputs can contain would turn their tokens into padding (RoBERTa's position ids and
 * `padding_idx` come from it). A `pad_token_id` naming a special token no input produces (the
 * shared sentence-camembert config says 0, `<s>NOTUSED`, while `<pad>` is 1) changes nothing
 * HF computes for real tokens: that comes back as a warning, not an error.
 * @returns warnings for the caller to log
 * @example const notes = checkTokenizerConfig(tok, config, 'model/config.json');
 */
export function checkTokenizerConfig(
  tok: Pick<ModelTokenizer, 'file' | 'vocabSize' | 'padId' | 'unusedSpecials'>,
  config: { vocab_size: number; pad_token_id?: number | null },
  configFile: string,
): string[] {
  if (tok.vocabSize > config.vocab_size) {
    throw new InputError(configFile, undefined, 'vocab_size', `is ${config.vocab_size}, but ${tok.file} has ${tok.vocabSize} tokens (ids up to ${tok.vocabSize - 1}); the tokenizer does not belong to this model`);
  }
  const pad = config.pad_token_id;
  if (pad === undefined || pad === null || pad === tok.padId) return [];
  const unused = tok.unusedSpecials.get(pad);
  if (unused !== undefined) {
    return [`${configFile}: pad_token_id ${pad} is ${JSON.stringify(unused)}, not the pad token ${tok.padId} of ${tok.file}; no input contains it, so nothing changes (dprep pads with ${tok.padId})`];
  }
  throw new InputError(configFile, undefined, 'pad_token_id', `is ${pad}, but the pad token of ${tok.file} is ${tok.padId} and ${pad} is a token real inputs contain; the tokenizer does not belong to this model`);
}

/**
 * Pads tokenized inputs to the longest one with `padId` (the tokenizer's: 0 for BERT's [PAD],
 * 1 for RoBERTa's `<pad>`), mask 0 on padding.
 * @example padBatch(await tok.encode(inputs), tok.padId)
 */
export function padBatch(items: readonly TokenizedInput[], padId = 0): TokenBatch {
  const seqLen = Math.max(1, ...items.map((t) => t.ids.length));
  const batch = items.length;
  const ids = new Int32Array(batch * seqLen).fill(padId);
  const typeIds = new Int32Array(batch * seqLen);
  const mask = new Int32Array(batch * seqLen);
  items.forEach((t, i) => {
    ids.set(t.ids, i * seqLen);
    typeIds.set(t.typeIds, i * seqLen);
    mask.fill(1, i * seqLen, i * seqLen + t.ids.length);
  });
  return { ids, typeIds, mask, batch, seqLen };
}
