#!/usr/bin/env bash
# Makes the interop fixtures (tiny random models per family, exported by dprep in every layout,
# inputs and the ids/vectors dprep computed) for bench/interop-check.py.
# Usage: bench/interop-make.sh [DIR]   (default .bench-data/interop), then on a machine with
# torch, transformers and sentence-transformers: python3 bench/interop-check.py DIR
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx bench/interop-make.ts "$@"
