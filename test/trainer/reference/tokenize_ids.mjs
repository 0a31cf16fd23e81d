// Token ids the family references hard-code, computed with the real tokenizer.json files of
// ../shared/data/models through the `tokenizers` npm package (the published vectors are among them:
// RoBERTa "Hello world" → [0, 31414, 232, 2], CamemBERT "J'aime le camembert !" → [5, 121, …, 6]).
// Run: node test/trainer/reference/tokenize_ids.mjs
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../../package.json', import.meta.url));
const { Tokenizer } = require('tokenizers');
const M = new URL('../../../../shared/data/models/', import.meta.url).pathname;
for (const [dir, texts] of [['roberta-base', ['Hello world', ' Hello world', 'Dense passage retrieval finds answers in Wikipedia.', 'Paris is the capital of France.']], ['camembert-base-tokenizer', ["J'aime le camembert !", 'Paris est la capitale de la France.', 'Bonjour']], ['bert-base-uncased-wordpiece', ['Hello world', 'Dense passage retrieval finds answers.', 'Paris is the capital of France.']]]) {
  const t = Tokenizer.fromFile(M + dir + '/tokenizer.json');
  t.setTruncation(512); 
  for (const s of texts) { const e = await t.encode(s); console.log(dir, JSON.stringify(s), JSON.stringify(e.getIds())); }
}
