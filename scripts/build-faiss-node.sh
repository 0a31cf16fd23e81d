#!/usr/bin/env bash
# Builds faiss-node's C++ addon from source against the system's faiss, for machines where its
# prebuilt binary cannot be downloaded (the npm install script fetches it from GitHub).
#
# Needs: Debian's libfaiss-dev and libopenblas-dev (apt-get install libfaiss-dev libopenblas-dev),
# a C++ compiler, node's headers, and the npm registry (for the two package tarballs).
# Output: build/faiss-node/build/Release/faiss_node.node, found by src/search/vector/faiss.ts.
# Re-running is cheap: an existing build of the same inputs is kept.
#
# scripts/faiss-node.patch adapts faiss-node 0.5.1 to faiss 1.7.3 (idx_t lives in faiss::Index
# there) and lets add/search take Float32Array directly: the stock API converts JS number arrays
# element by element, which dominates the time of a flat index (see bench/BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEST="$ROOT/build/faiss-node"
FAISS_NODE=faiss-node@0.5.1
FAISS_NODE_SHA256=779774caecacae6e449fc385d2b6b99f6c4fc1044a1c5ec01a33ef1c033daedd
ADDON_API=node-addon-api@6.1.0
ADDON_API_SHA256=441ddeef9b009b74f79e840f3e4d469e89a29e1304c573b8f48b355c7d088086
STAMP="$FAISS_NODE $ADDON_API $(sha256sum scripts/faiss-node.patch | cut -c1-16) node-$(node -p process.versions.modules)"

if [[ -f "$DEST/build/Release/faiss_node.node" && "$(cat "$DEST/.stamp" 2>/dev/null)" == "$STAMP" ]]; then
  echo "build-faiss-node: up to date ($DEST)"
  exit 0
fi
if [[ ! -f /usr/include/faiss/IndexFlat.h ]]; then
  echo "build-faiss-node: faiss headers not found; run: apt-get install -y libfaiss-dev libopenblas-dev" >&2
  exit 1
fi

LABEL=build-faiss-node
source scripts/lib-node-gyp.sh

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "$FAISS_NODE" "$ADDON_API" >/dev/null)
check() { echo "$2  $WORK/$1" | sha256sum -c --quiet - || { echo "build-faiss-node: checksum mismatch for $1" >&2; exit 1; }; }
check faiss-node-0.5.1.tgz "$FAISS_NODE_SHA256"
check node-addon-api-6.1.0.tgz "$ADDON_API_SHA256"

SRC="$WORK/faiss-node"
mkdir -p "$SRC" "$SRC/node-addon-api"
tar -xzf "$WORK/faiss-node-0.5.1.tgz" -C "$SRC" --strip-components=1
tar -xzf "$WORK/node-addon-api-6.1.0.tgz" -C "$SRC/node-addon-api" --strip-components=1
patch -s -p1 -d "$SRC" < scripts/faiss-node.patch

# faiss-node ships a cmake-js build that compiles faiss itself; this one links Debian's instead.
cat > "$SRC/binding.gyp" <<'GYP'
{
  "targets": [{
    "target_name": "faiss_node",
    "sources": ["src/faiss.cc"],
    "include_dirs": ["node-addon-api"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions", "-frtti"],
    "libraries": ["-lfaiss", "-lblas", "-llapack", "-fopenmp"]
  }]
}
GYP

gyp_rebuild "$SRC"

rm -rf "$DEST"
mkdir -p "$DEST/build/Release"
cp "$SRC/build/Release/faiss_node.node" "$DEST/build/Release/"
cp "$SRC/LICENSE" "$SRC/package.json" "$DEST/"
echo "$STAMP" > "$DEST/.stamp"
node -e "const f=require('$DEST/build/Release/faiss_node.node'); const i=new f.IndexFlatIP(2); i.add(new Float32Array([1,0,0,1])); const r=i.search(new Float32Array([0,1]),1); if (r.labels[0]!==1) process.exit(1)"
echo "build-faiss-node: built $DEST/build/Release/faiss_node.node"
