#!/usr/bin/env bash
# Corpus encoding benchmark (issue 13): dprep encodeCorpus and PyTorch (Debian python3-torch, eval +
# no_grad) side by side in one run, BERT-tiny and BERT-base shapes with random weights, on the SQuAD
# v1.1 dev corpus (`[CLS] title [SEP] text [SEP]` truncated at 256), plus the sgemm rate measured in
# the same processes (native addon: OpenBLAS 1024², every core; torch.mm 1024²). dprep rows run the
# native forward (src/trainer/native-forward.ts) but the tfjs-forward one (DPREP_NATIVE_FORWARD=0).
# PyTorch gets the very token ids dprep's tokenizer gave (dumped by the first dprep run) and is
# timed on its forward passes alone (tensors built before the clock starts); dprep's time is the
# whole encodeCorpus (tokenization, forward passes, shard writes).
# Usage: bench/encode-bench.sh [base passages, default 192]   (needs python3-torch; scripts/build-native.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
base_limit=${1:-192}
work=${DPREP_BENCH_DIR:-/tmp/dprep-encode-bench}
mkdir -p "$work"
shared=../shared/data
export DPREP_QUIET=1
date -u +"date %Y-%m-%dT%H:%MZ"; echo "load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
[ -f "$work/squad.corpus.jsonl" ] || node bin/dprep.js convert squad --input "$shared/squad_v1.1/dev-v1.1.json" --out "$work/squad.dpr.jsonl" --corpus "$work/squad.corpus.jsonl" >/dev/null
cat > "$work/base-config.json" <<'JSON'
{"model_type":"bert","architectures":["BertModel"],"vocab_size":30522,"hidden_size":768,"num_hidden_layers":12,"num_attention_heads":12,"intermediate_size":3072,"max_position_embeddings":512,"type_vocab_size":2,"hidden_act":"gelu","layer_norm_eps":1e-12,"pad_token_id":0,"initializer_range":0.02}
JSON
[ -d "$work/tiny" ] || node bin/dprep.js init-model --config "$shared/models/bert-tiny-config-only/config.json" --tokenizer "$shared/models/bert-base-uncased-wordpiece" --out "$work/tiny" 2>/dev/null
[ -d "$work/base" ] || node bin/dprep.js init-model --config "$work/base-config.json" --tokenizer "$shared/models/bert-base-uncased-wordpiece" --out "$work/base" 2>/dev/null
dp() { nice -n 10 npx tsx bench/encode-throughput.ts "$@" 2>/dev/null; }
pt() { nice -n 10 /usr/bin/python3 bench/encode-torch.py "$@"; }
echo "# BERT-tiny shape, $(wc -l < "$work/squad.corpus.jsonl") passages"
dp --model "$work/tiny" --corpus "$work/squad.corpus.jsonl" --dump-ids "$work/tiny.ids.jsonl" --label default
dp --model "$work/tiny" --corpus "$work/squad.corpus.jsonl" --no-bucketing --label no-bucketing
dp --model "$work/tiny" --corpus "$work/squad.corpus.jsonl" --no-overlap --label no-overlap
dp --model "$work/tiny" --corpus "$work/squad.corpus.jsonl" --workers 2 --label workers-2
DPREP_NATIVE_FORWARD=0 dp --model "$work/tiny" --corpus "$work/squad.corpus.jsonl" --label tfjs-forward
pt --ids "$work/tiny.ids.jsonl" --size tiny --batch 64 --threads 1 --order sorted
pt --ids "$work/tiny.ids.jsonl" --size tiny --batch 64 --threads 2 --order sorted
pt --ids "$work/tiny.ids.jsonl" --size tiny --batch 64 --threads 2 --order corpus
echo "# BERT-base shape, first $base_limit passages (subsampled: BERT-base on 2 loaded cores)"
# --batch 13: PyTorch's batch below, so both sides run the same shapes (dprep's default on the native
# forward is 64, which on a 192-passage subsample pads more: shown by the default row).
dp --model "$work/base" --corpus "$work/squad.corpus.jsonl" --limit "$base_limit" --dump-ids "$work/base.ids.jsonl" --batch 13 --label batch-13
dp --model "$work/base" --corpus "$work/squad.corpus.jsonl" --limit "$base_limit" --batch 13 --workers 2 --label batch-13-workers-2
dp --model "$work/base" --corpus "$work/squad.corpus.jsonl" --limit "$base_limit" --label default
pt --ids "$work/base.ids.jsonl" --size base --batch 13 --threads 1 --order sorted
pt --ids "$work/base.ids.jsonl" --size base --batch 13 --threads 2 --order sorted
date -u +"end %Y-%m-%dT%H:%MZ"; echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
