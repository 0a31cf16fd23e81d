#!/usr/bin/env bash
# Builds dprep's optional native kernels (native/dprep_native.c: batched sgemm through OpenBLAS)
# with node-gyp. The trainer uses them when present and falls back to tfjs's own kernels otherwise.
#
# Needs: Debian's libopenblas-dev and pkg-config, a C compiler, node's headers (no network).
# Output: build/native/dprep_native.node, found by src/trainer/native.ts.
# Re-running is cheap: an existing build of the same sources is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEST="$ROOT/build/native"
STAMP="$(cat native/dprep_native.c native/binding.gyp | sha256sum | cut -c1-16) node-$(node -p process.versions.modules)"

if [[ -f "$DEST/dprep_native.node" && "$(cat "$DEST/.stamp" 2>/dev/null)" == "$STAMP" ]]; then
  echo "build-native: up to date ($DEST)"
  exit 0
fi
if ! pkg-config --exists openblas; then
  echo "build-native: OpenBLAS not found; run: apt-get install -y libopenblas-dev pkg-config" >&2
  exit 1
fi
LABEL=build-native
source scripts/lib-node-gyp.sh

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp native/dprep_native.c native/binding.gyp "$WORK/"
gyp_rebuild "$WORK"
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$WORK/build/Release/dprep_native.node" "$DEST/"
echo "$STAMP" > "$DEST/.stamp"
# Smoke test: [1,2]·[3,4]ᵀ = 11.
node -e "const n=require('$DEST/dprep_native.node'); const c=new Float32Array(1); n.sgemm(new Float32Array([1,2]),new Float32Array([3,4]),c,1,1,1,2,false,false,0,0,0); if (c[0]!==11) process.exit(1)"
echo "build-native: built $DEST/dprep_native.node ($(node -p "require('$DEST/dprep_native.node').blasConfig()"))"
