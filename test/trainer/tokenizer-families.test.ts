// tokenizer.json for every family, against published ids; pairs and truncation derived from each
// file's post_processor and vocabulary (not from dprep's output).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FIXTURES, SHARED_DATA } from '../_paths.ts';
import { checkTokenizerConfig, loadTokenizer, padBatch, readVocab } from '../../src/trainer/tokenizer.ts';
import { parseTemplate } from '../../src/trainer/template.ts';
import { InputError, UsageError } from '../../src/util/errors.ts';

const MODELS = join(SHARED_DATA, 'models');
const ROBERTA = join(MODELS, 'roberta-base');
const CAMEMBERT = join(MODELS, 'camembert-base-tokenizer');
const CAMEMBERT_V2 = join(MODELS, 'camembertv2-base-tokenizer');
const BERT = join(MODELS, 'bert-base-uncased-wordpiece');

let xlmrDir: Promise<string> | undefined;
/** The XLM-R vocabulary's tokenizer.json, gunzipped once into a temp dir. */
function xlmr(): Promise<string> {
  xlmrDir ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dprep-xlmr-'));
    await writeFile(join(dir, 'tokenizer.json'), gunzipSync(await readFile(join(MODELS, 'xlm-roberta-vocab', 'paraphrase-multilingual-mpnet-base-v2.json.gz'))));
    return dir;
  })();
  return xlmrDir;
}

/** token → id from a tokenizer.json's model vocabulary (WordPiece/BPE: an object; Unigram: [piece, score][] by id). */
async function jsonVocab(dir: string): Promise<(token: string) => number> {
  const vocab = (JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> | [string, number][] } }).model.vocab;
  const map = Array.isArray(vocab) ? new Map(vocab.map(([t], i) => [t, i])) : new Map(Object.entries(vocab));
  return (t) => {
    const id = map.get(t);
    assert.ok(id !== undefined, `vocab has ${t}`);
    return id;
  };
}

const loaded = new Map<string, ReturnType<typeof loadTokenizer>>();
/** One input through the dir's tokenizer (loaded once per dir and max length: XLM-R's file is 17 MB). */
const one = async (dir: string, maxLength: number, input: { title?: string; text: string }) => {
  const key = `${dir}:${maxLength}`;
  if (!loaded.has(key)) loaded.set(key, loadTokenizer(dir, maxLength));
  return (await (await loaded.get(key)!).encode([input]))[0];
};

// Published ids: transformers' tokenizer docs and integration tests (see shared/data/models/README.md).
test('published ids: RoBERTa (byte-level BPE), CamemBERT (SentencePiece), XLM-R (Unigram)', async () => {
  const cases: [() => Promise<string> | string, string, number[]][] = [
    [() => ROBERTA, 'Hello world', [0, 31414, 232, 2]],
    [() => ROBERTA, ' Hello world', [0, 20920, 232, 2]],
    [() => CAMEMBERT, "J'aime le camembert !", [5, 121, 11, 660, 16, 730, 25543, 110, 83, 6]],
    [xlmr, 'Hello World!', [0, 35378, 6661, 38, 2]],
  ];
  for (const [dir, text, want] of cases) {
    const got = await one(await dir(), 512, { text });
    assert.deepEqual(got.ids, want, text);
    assert.deepEqual(got.typeIds, new Array(want.length).fill(0));
  }
});

test('pairs follow each post_processor: <s> A </s></s> B </s> with type ids 0; BERT [CLS] A [SEP] B [SEP] with 0/1', async () => {
  // RoBERTa: RobertaProcessing cls <s>=0, sep </s>=2; B gets no prefix space (add_prefix_space false).
  const r = await one(ROBERTA, 512, { title: 'Hello world', text: ' Hello world' });
  assert.deepEqual(r.ids, [0, 31414, 232, 2, 2, 20920, 232, 2]);
  assert.deepEqual(r.typeIds, new Array(8).fill(0));
  // CamemBERT: TemplateProcessing pair <s>=5 A </s>=6 </s>=6 B </s>=6, every type_id 0.
  const body = [121, 11, 660, 16, 730, 25543, 110, 83];
  const c = await one(CAMEMBERT, 512, { title: "J'aime le camembert !", text: "J'aime le camembert !" });
  assert.deepEqual(c.ids, [5, ...body, 6, 6, ...body, 6]);
  assert.deepEqual(c.typeIds, new Array(c.ids.length).fill(0));
  const x = await one(await xlmr(), 512, { title: 'Hello World!', text: 'Hello World!' });
  assert.deepEqual(x.ids, [0, 35378, 6661, 38, 2, 2, 35378, 6661, 38, 2]);
  assert.deepEqual(x.typeIds, new Array(10).fill(0));
  // camembertv2: WordPiece vocabulary inside a RobertaProcessing ([CLS]=1, [SEP]=2), cased.
  const v2 = await jsonVocab(CAMEMBERT_V2);
  assert.deepEqual((await one(CAMEMBERT_V2, 512, { text: 'Hello world' })).ids, [1, v2('Hello'), v2('world'), 2]);
  const p2 = await one(CAMEMBERT_V2, 512, { title: 'Paris', text: 'Hello world' });
  assert.deepEqual(p2.ids, [1, v2('Paris'), 2, 2, v2('Hello'), v2('world'), 2]);
  assert.deepEqual(p2.typeIds, new Array(7).fill(0));
  // An empty title is no title (DPR's tensorizer: `if title:`), in both BERT tokenizers and the others.
  for (const [dir, prefer] of [[ROBERTA, 'auto'], [BERT, 'auto'], [BERT, 'vocab']] as const) {
    const tok = await loadTokenizer(dir, 64, prefer);
    assert.deepEqual(await tok.encode([{ title: '', text: 'Hello world' }]), await tok.encode([{ text: 'Hello world' }]), `${dir} ${prefer}`);
  }
  // BERT: TemplateProcessing pair, B and its [SEP] get type 1.
  const bv = await readVocab(join(BERT, 'vocab.txt'));
  const b = await one(BERT, 512, { title: 'Paris', text: 'is big' });
  assert.deepEqual(b.ids, [101, bv.get('paris'), 102, bv.get('is'), bv.get('big'), 102]);
  assert.deepEqual(b.typeIds, [0, 0, 0, 1, 1, 1]);
});

test('truncation: longest-first within max length, the stored 128 and padding overridden', async () => {
  // Title 6 tokens, text 5, max 9: 4 specials leave 5; the shorter keeps floor(5/2)=2, the longer 3.
  const r = await one(ROBERTA, 9, { title: 'Hello world world world world world', text: ' Hello world world world world' });
  assert.deepEqual(r.ids, [0, 31414, 232, 232, 2, 2, 20920, 232, 2]);
  // camembert's and XLM-R's tokenizer.json say truncation 128 / pad to longest: dprep's max length wins, no padding.
  const c = await one(CAMEMBERT, 300, { text: 'le '.repeat(400) });
  assert.deepEqual(c.ids, [5, ...new Array(298).fill(16), 6]);
  const x = await loadTokenizer(await xlmr(), 200);
  const [long, short] = await x.encode([{ text: 'Hello '.repeat(300) }, { text: 'Hello' }]);
  assert.deepEqual(long.ids, [0, ...new Array(198).fill(35378), 2]);
  assert.deepEqual(short.ids, [0, 35378, 2]);
  await assert.rejects(one(ROBERTA, 3, { title: 'Hello world', text: 'a b c' }), UsageError);
});

test('unknown characters: WordPiece drops the whole word to [UNK], SentencePiece only the character, byte-level BPE has none', async () => {
  const text = 'le 𓀀 chat a𓀀b';
  const bv = await readVocab(join(BERT, 'vocab.txt'));
  assert.deepEqual((await one(BERT, 64, { text })).ids, [101, bv.get('le'), 100, bv.get('chat'), 100, 102]);
  const v2 = await jsonVocab(CAMEMBERT_V2);
  assert.deepEqual((await one(CAMEMBERT_V2, 64, { text })).ids, [1, v2('le'), 3, v2('chat'), 3, 2]);
  // Metaspace makes " 𓀀" into "▁" + the unknown character (<unk> = 3 in both vocabularies).
  for (const [dir, cls, sep] of [[CAMEMBERT, 5, 6], [await xlmr(), 0, 2]] as const) {
    const v = await jsonVocab(dir);
    assert.deepEqual((await one(dir, 64, { text })).ids, [cls, v('▁le'), v('▁'), 3, v('▁chat'), v('▁a'), 3, v('b'), sep], dir);
  }
  const r = await one(ROBERTA, 64, { text });
  assert.ok(!r.ids.includes(3), 'no <unk> from byte-level BPE');
  const { Tokenizer } = await import('tokenizers');
  assert.equal(await Tokenizer.fromFile(join(ROBERTA, 'tokenizer.json')).decode(r.ids, true), text);
});

test('a template makes one sequence with the single template specials, in every family', async () => {
  const query = parseTemplate('query: {text}', '--query-template');
  const passage = parseTemplate('Title: {title} Text: {text}', '--passage-template');
  const bv = await readVocab(join(BERT, 'vocab.txt'));
  const id = (t: string) => bv.get(t)!;
  for (const prefer of ['auto', 'vocab'] as const) {
    const q = await loadTokenizer(BERT, 64, { prefer, template: query });
    assert.deepEqual((await q.encode([{ text: 'who?' }]))[0], { ids: [101, id('query'), id(':'), id('who'), id('?'), 102], typeIds: [0, 0, 0, 0, 0, 0] });
    const p = await loadTokenizer(BERT, 64, { prefer, template: passage });
    const got = (await p.encode([{ title: 'Paris', text: 'big' }]))[0];
    assert.deepEqual(got.ids, [101, id('title'), id(':'), id('paris'), id('text'), id(':'), id('big'), 102], prefer);
    assert.deepEqual(got.typeIds, new Array(8).fill(0));
  }
  // RoBERTa: <s> rendered </s>, the same ids as the rendered string encoded on its own.
  const r = await loadTokenizer(ROBERTA, 64, { template: parseTemplate('{title} {text}', 'x') });
  assert.deepEqual((await r.encode([{ title: 'Hello', text: 'world' }]))[0].ids, [0, 31414, 232, 2]);
  // E5-style passages without a title: "passage: x", not "passage:  x" (an extra "Ġ" token in byte-level BPE).
  const e5 = await loadTokenizer(ROBERTA, 64, { template: parseTemplate('passage: {title} {text}', 'x') });
  const plain = await loadTokenizer(ROBERTA, 64);
  assert.deepEqual((await e5.encode([{ title: '', text: 'Hello world' }]))[0], (await plain.encode([{ text: 'passage: Hello world' }]))[0]);
  assert.notDeepEqual((await plain.encode([{ text: 'passage:  Hello world' }]))[0], (await plain.encode([{ text: 'passage: Hello world' }]))[0]);
});

test("lowercase (sentence-transformers' do_lower_case) lowercases before tokenizing, title and text", async () => {
  const lower = await loadTokenizer(ROBERTA, 64, { lowercase: true });
  const plain = await loadTokenizer(ROBERTA, 64);
  assert.deepEqual(await lower.encode([{ title: 'Hello', text: 'World' }]), await plain.encode([{ title: 'hello', text: 'world' }]));
  assert.notDeepEqual(await plain.encode([{ text: 'Hello' }]), await plain.encode([{ text: 'hello' }]));
});

test('pad ids: BERT [PAD]=0, RoBERTa / CamemBERT / XLM-R <pad>=1; padBatch fills with it', async () => {
  const want: [string, number][] = [[BERT, 0], [ROBERTA, 1], [CAMEMBERT, 1], [await xlmr(), 1], [CAMEMBERT_V2, 0]];
  for (const [dir, pad] of want) assert.equal((await loadTokenizer(dir, 16)).padId, pad, dir);
  const tok = await loadTokenizer(ROBERTA, 16);
  const batch = padBatch(await tok.encode([{ text: 'Hello world' }, { text: 'Hello' }]), tok.padId);
  assert.deepEqual([...batch.ids], [0, 31414, 232, 2, 0, 31414, 2, 1]);
  assert.deepEqual([...batch.mask], [1, 1, 1, 1, 1, 1, 1, 0]);
});

test('checkTokenizerConfig: vocab_size must cover the tokenizer; pad_token_id must not be a real token', async () => {
  const config = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as { vocab_size: number; pad_token_id?: number };
  const roberta = await loadTokenizer(ROBERTA, 16);
  const camembert = await loadTokenizer(CAMEMBERT, 16);
  const x = await loadTokenizer(await xlmr(), 64);
  assert.deepEqual([roberta.vocabSize, camembert.vocabSize, x.vocabSize], [50265, 32005, 250002]);
  const distilroberta = join(MODELS, 'distilroberta-base-config', 'config.json');
  assert.deepEqual(checkTokenizerConfig(roberta, await config(distilroberta), distilroberta), []);
  const bertTiny = join(MODELS, 'bert-tiny-config-only', 'config.json');
  assert.deepEqual(checkTokenizerConfig(await loadTokenizer(BERT, 16), await config(bertTiny), bertTiny), []);
  // The bundled tiny models: their configs were written for these tokenizers.
  for (const name of ['bert-tiny', 'camembert-tiny']) {
    const dir = join(FIXTURES, 'models', name);
    assert.deepEqual(checkTokenizerConfig(await loadTokenizer(dir, 16), await config(join(dir, 'config.json')), join(dir, 'config.json')), [], name);
  }
  // XLM-R's 250,002 pieces in a 50,265-row embedding: refused, naming both files.
  assert.throws(
    () => checkTokenizerConfig(x, { vocab_size: 50265, pad_token_id: 1 }, distilroberta),
    (err: Error) => err instanceof InputError && err.message.includes(distilroberta) && err.message.includes('"vocab_size"') && err.message.includes(x.file) && err.message.includes('250002'),
  );
  // The shared sentence-camembert config says pad_token_id 0 (<s>NOTUSED, which no input contains): a warning.
  const camConfig = join(CAMEMBERT, 'config.json');
  const notes = checkTokenizerConfig(camembert, await config(camConfig), camConfig);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /pad_token_id 0 is "<s>NOTUSED", not the pad token 1/);
  // pad_token_id 0 for RoBERTa is <s>, in every input: refused.
  assert.throws(
    () => checkTokenizerConfig(roberta, { vocab_size: 50265, pad_token_id: 0 }, 'rob/config.json'),
    (err: Error) => err instanceof InputError && /rob\/config.json, field "pad_token_id": is 0, but the pad token of .*roberta-base\/tokenizer.json is 1/.test(err.message),
  );
  assert.throws(() => checkTokenizerConfig(camembert, { vocab_size: 32005, pad_token_id: 16 }, 'c.json'), InputError);
});
