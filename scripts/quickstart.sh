#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine, as root, in a
# clone of this repository, installs what is missing (Debian packages, Node.js
# 24 LTS when the machine has none >= 22, npm dependencies),
# builds driftgate, puts `driftgate` on the PATH (npm link) and starts the
# demo: a 3-host lab with a 3-replica web service behind nginx on :8080.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "quickstart: run as root (the demo creates network namespaces and runs dockerd)" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }

step "system packages (nginx, nats-server, docker.io, busybox-static, iproute2, ...)"
bash scripts/install-deps.sh

node_ok() { command -v node >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)'; }
if ! node_ok; then
  step "Node.js 24 LTS (driftgate needs >= 22; Debian 12 ships 18)"
  # Debian's npm only serves to fetch the official Node 24 binary from the npm registry.
  ln -sf "$(bash scripts/node.sh 24)" /usr/local/bin/node
  hash -r
  node_ok || { echo "quickstart: could not install Node.js 24; install Node >= 22 yourself (https://nodejs.org) and run again" >&2; exit 1; }
  echo "node $(node -v) in /usr/local/bin"
fi

step "npm ci and build"
npm ci --no-audit --no-fund
npm run build

if ! command -v driftgate >/dev/null; then
  step "npm link: driftgate on the PATH"
  npm link --no-audit --no-fund >/dev/null
fi

step "driftgate demo"
exec node dist/src/cli/main.js demo
