#!/usr/bin/env bash
# Makes a small local base image with Node.js and npm from this machine's own
# files, for building driftgate's Dockerfile where no image registry is
# reachable:   bash scripts/make-base-image.sh [tag] [docker args...]
# The image holds node, npm, the shared libraries node links against,
# busybox as /bin/sh, CA certificates and a non-root user "driftgate" (uid 10001).
# Node is Node 24 LTS from scripts/node24.sh (installed from the npm registry
# when missing), never whatever `node` is first on PATH (Debian's is older);
# DRIFTGATE_NODE_BIN=<path> picks another binary.
# DRIFTGATE_BASE_NO_NPM=1 leaves npm out: the smaller base of the runtime stage.
# DRIFTGATE_BASE_NGINX=1 adds this machine's nginx (binary, libraries,
# mime.types, its temp and log folders, user nobody): an edge runs nginx and
# the renderer from the same image, so the renderer's `nginx -t` is the
# binary that serves (deploy/compose/edge.yml).
set -euo pipefail
tag=${1:-driftgate-base:local}; shift || true
node_bin=$(readlink -f "${DRIFTGATE_NODE_BIN:-$(bash "$(dirname "$0")/node24.sh")}")
major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 24 ] || { echo "$node_bin is Node $major, not Node 24" >&2; exit 1; }
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
busybox_bin=$(command -v busybox || echo /bin/busybox)
[ -x "$busybox_bin" ] || { echo "busybox-static is missing: apt-get install busybox-static" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,usr/bin,usr/lib/node_modules,etc/ssl,tmp,app,home/driftgate}
chmod 1777 "$root/tmp"
cp "$node_bin" "$root/usr/bin/node"
if [ "${DRIFTGATE_BASE_NO_NPM:-0}" != 1 ]; then
  cp -a "$npm_dir" "$root/usr/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/bin/npx"
fi
cp "$busybox_bin" "$root/bin/busybox"
for app in sh env ls cat rm mkdir cp mv chmod chown ln wget; do ln -s busybox "$root/bin/$app"; done
ln -s /bin/env "$root/usr/bin/env"
bins=("$node_bin")
if [ "${DRIFTGATE_BASE_NGINX:-0}" = 1 ]; then
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$nginx_bin" ] || { echo "nginx is missing: bash scripts/install-deps.sh" >&2; exit 1; }
  mkdir -p "$root/usr/sbin" "$root/etc/nginx/driftgate" "$root/var/log/nginx" "$root/run"
  cp "$nginx_bin" "$root/usr/sbin/nginx"
  cp /etc/nginx/mime.types "$root/etc/nginx/mime.types"
  # Temp folders as nginx would chown them for its workers (user nobody),
  # so `nginx -t` in a container without CAP_CHOWN has nothing to change.
  for d in body proxy fastcgi uwsgi scgi; do mkdir -p "$root/var/lib/nginx/$d"; chown 65534:65534 "$root/var/lib/nginx/$d"; chmod 0700 "$root/var/lib/nginx/$d"; done
  ln -s /dev/stderr "$root/var/log/nginx/error.log"
  ln -s /dev/stdout "$root/var/log/nginx/access.log"
  bins+=("$nginx_bin")
fi
# The dynamic libraries node (and nginx) need, at the same paths.
for lib in $(ldd "${bins[@]}" | grep -o '/[^ :]*' | sort -u); do
  case $lib in "${bins[0]}"|"${bins[1]:-}") continue ;; esac
  mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
done
[ -d /etc/ssl/certs ] && cp -rL /etc/ssl/certs "$root/etc/ssl/certs"
printf 'root:x:0:0:root:/root:/bin/sh\ndriftgate:x:10001:10001:driftgate:/home/driftgate:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\ndriftgate:x:10001:\nnogroup:x:65534:\n' > "$root/etc/group"
chown 10001:10001 "$root/home/driftgate"
tar -C "$root" -c . | docker "$@" import --change 'ENV PATH=/usr/sbin:/usr/bin:/bin' - "$tag"
echo "base image: $tag"
