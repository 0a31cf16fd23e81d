/** A retrieval unit: a chunk of about 100 words with the title of its article. */
export interface Passage {
  passage_id: string;
  title: string;
  text: string;
}

/** A passage as it appears inside a DPR record (`positive_ctxs`, `hard_negative_ctxs`, ...). */
export interface Ctx {
  title: string;
  text: string;
  score?: number;
  title_score?: number;
  passage_id: string;
}

/**
 * One training example in the DPR / Haystack biencoder format. Field names are DPR's, exactly.
 *
 * @example
 * { dataset: 'squad1', question: 'Who ...?', answers: ['Denver Broncos'],
 *   positive_ctxs: [{ title: 'Super Bowl 50', text: '...', passage_id: 'squad-12' }],
 *   negative_ctxs: [], hard_negative_ctxs: [] }
 */
export interface DprRecord {
  dataset: string;
  question: string;
  answers: string[];
  positive_ctxs: Ctx[];
  negative_ctxs: Ctx[];
  hard_negative_ctxs: Ctx[];
  /** Optional source id (SQuAD question id, MS MARCO qid); not part of DPR's format but kept when known. */
  id?: string;
}

/** How an answer is looked for in a passage: DPR's `has_answer` match types (declared with MATCH_MODES). */
export type { MatchMode } from './text/answer.ts';

/** What an encoder embeds: a question (text only) or a passage (title optional). */
export interface EncodeInput {
  text: string;
  title?: string;
}

/**
 * A trained query or passage encoder, loaded from a Hugging Face model directory.
 * `encode` returns `inputs.length × dim` floats, row-major.
 */
export interface Encoder {
  readonly dim: number;
  encode(inputs: readonly EncodeInput[]): Promise<Float32Array>;
  /**
   * Optional split of `encode` in two: `prepare` tokenizes (off the main thread where the tokenizer
   * can), `encodePrepared` runs the forward passes; a caller tokenizes the next inputs while the
   * current ones run.
   */
  prepare?(inputs: readonly EncodeInput[]): Promise<PreparedInputs>;
  encodePrepared?(prepared: PreparedInputs): Promise<Float32Array>;
  /** Inputs per forward pass, when the encoder has chosen one. */
  readonly batchSize?: number;
  dispose(): void;
}

/** Inputs an encoder's `prepare` has tokenized; only that encoder's `encodePrepared` reads them. */
export interface PreparedInputs {
  readonly count: number;
}
