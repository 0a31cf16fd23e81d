# Shared by the addon build scripts (source it; set LABEL first): finds node's headers and npm's
# bundled node-gyp, and gives gyp_rebuild DIR, which builds DIR and shows the log's tail on failure.
# Node's headers sit next to the node binary (official tarballs, Debian's /usr/include/node).
NODE_PREFIX="$(dirname "$(dirname "$(command -v node)")")"
if [[ ! -f "$NODE_PREFIX/include/node/node_api.h" ]]; then
  echo "$LABEL: node headers not found under $NODE_PREFIX/include/node" >&2
  exit 1
fi
NODE_GYP="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[[ -f "$NODE_GYP" ]] || NODE_GYP="$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"

gyp_rebuild() {
  (cd "$1" && node "$NODE_GYP" rebuild --nodedir="$NODE_PREFIX" -j "$(nproc)" >"$1/gyp.log" 2>&1) || {
    tail -40 "$1/gyp.log" >&2
    echo "$LABEL: compile failed" >&2
    exit 1
  }
}
