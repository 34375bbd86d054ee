#!/usr/bin/env bash
# Builds the driftgate image on a machine where no image registry is
# reachable, then checks it: `docker run --rm IMAGE --help` must print the help.
#   bash scripts/docker-build.sh [tag]            (default driftgate:local)
# Uses the Docker daemon of DOCKER_HOST or /var/run/docker.sock when one
# answers; otherwise starts a throwaway dockerd (root namespace, no bridge, no
# iptables, everything under one temp dir) and removes it afterwards.
# The base images come from this machine's files (scripts/make-base-image.sh):
# Node 24 (scripts/node24.sh), one base with npm for building, one without npm
# but with nginx for running (an edge runs nginx from the same image).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-driftgate:local}
build_base=driftgate-base:local
run_base=driftgate-runtime:local
H=()
tmp=""
dockerd_pid=""

cleanup() {
  [ -n "$tmp" ] || return 0
  if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    kill -TERM "$dockerd_pid"
    for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
  fi
  # containerd started by that dockerd (found by its own exec root, never by name)
  for p in $(pgrep -f "$tmp/exec" || true); do kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  # dockerd leaves mounts (its data root, overlays, netns) under its dirs
  grep -o " $tmp[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$tmp"
  echo "temporary dockerd removed"
}
trap cleanup EXIT

if docker info >/dev/null 2>&1; then
  echo "using the Docker daemon at ${DOCKER_HOST:-/var/run/docker.sock}"
else
  command -v dockerd >/dev/null || { echo "dockerd is missing: bash scripts/install-deps.sh" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "no Docker daemon answers and starting one needs root: run as root" >&2; exit 1; }
  tmp=$(mktemp -d /tmp/driftgate-build-XXXXXX)
  echo '{}' > "$tmp/daemon.json"
  echo "no Docker daemon answers: starting a temporary one in $tmp"
  dockerd --data-root "$tmp/data" --exec-root "$tmp/exec" -H "unix://$tmp/docker.sock" --pidfile "$tmp/docker.pid" \
    --config-file "$tmp/daemon.json" --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    --log-level=warn >"$tmp/dockerd.log" 2>&1 &
  dockerd_pid=$!
  H=(-H "unix://$tmp/docker.sock")
  for _ in $(seq 1 150); do docker "${H[@]}" info >/dev/null 2>&1 && break; sleep 0.2; done
  docker "${H[@]}" info >/dev/null 2>&1 || { echo "temporary dockerd did not start:" >&2; tail -20 "$tmp/dockerd.log" >&2; exit 1; }
fi

t0=$(date +%s)
bash scripts/make-base-image.sh "$build_base" "${H[@]}"
DRIFTGATE_BASE_NO_NPM=1 DRIFTGATE_BASE_NGINX=1 bash scripts/make-base-image.sh "$run_base" "${H[@]}"
# No buildx on these machines: the classic builder; --network host lets npm ci reach the npm registry.
DOCKER_BUILDKIT=0 docker "${H[@]}" build --network host --build-arg BASE="$build_base" --build-arg RUNTIME="$run_base" -t "$tag" .
echo "--- docker run --rm --network none $tag --help"
docker "${H[@]}" run --rm --network none "$tag" --help | head -5
docker "${H[@]}" run --rm --network none --entrypoint /usr/bin/node "$tag" -e 'process.stdout.write("node " + process.version + ", uid " + process.getuid() + "\n")'
echo "--- nginx -t of nginx/nginx.conf in $tag (as an edge's renderer runs it)"
docker "${H[@]}" run --rm --network none --user 0 --cap-drop ALL -v "$PWD/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" \
  --entrypoint /usr/sbin/nginx "$tag" -t -c /etc/nginx/nginx.conf
echo "image $tag: $(docker "${H[@]}" image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.1f MB", $1/1e6}'), built in $(( $(date +%s) - t0 )) s"
if [ -n "${DRIFTGATE_IMAGE_TAR:-}" ]; then
  docker "${H[@]}" save -o "$DRIFTGATE_IMAGE_TAR" "$tag"
  echo "saved to $DRIFTGATE_IMAGE_TAR (docker load -i $DRIFTGATE_IMAGE_TAR)"
elif [ -n "$tmp" ]; then
  echo "(the image lives in the temporary dockerd and goes with it: set DRIFTGATE_IMAGE_TAR=<file> to keep it)"
fi
