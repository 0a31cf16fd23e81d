#!/usr/bin/env bash
# Coverage-guided fuzzing of dprep's input parsers for a bounded time (bench/fuzz.ts): JSON-array
# streaming, TSV/CSV quoting, Python-literal answer lists, qrels, the pipeline YAML schema.
# Findings land in test/fuzz/cases/<target>/ (replayed by test/fuzz/regressions.test.ts).
# Usage: bench/fuzz.sh [seconds per target, default 30] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx bench/fuzz.ts "${1:-30}" "${@:2}"
