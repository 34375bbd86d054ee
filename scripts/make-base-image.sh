#!/usr/bin/env bash
# Makes a small local base image with Node.js and npm from this machine's own
# files, for building driftgate's Dockerfile where no image registry is
# reachable:   bash scripts/make-base-image.sh [tag] [docker args...]
# The image holds node, npm, the shared libraries node links against,
# busybox as /bin/sh, CA certificates and a non-root user "driftgate" (uid 10001).
# DRIFTGATE_BASE_NO_NPM=1 leaves npm out: the smaller base of the runtime stage.
set -euo pipefail
tag=${1:-driftgate-base:local}; shift || true
node_bin=$(readlink -f "$(command -v node)")
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
# The dynamic libraries node needs, at the same paths.
for lib in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
done
[ -d /etc/ssl/certs ] && cp -rL /etc/ssl/certs "$root/etc/ssl/certs"
printf 'root:x:0:0:root:/root:/bin/sh\ndriftgate:x:10001:10001:driftgate:/home/driftgate:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\ndriftgate:x:10001:\n' > "$root/etc/group"
chown 10001:10001 "$root/home/driftgate"
tar -C "$root" -c . | docker "$@" import --change 'ENV PATH=/usr/bin:/bin' - "$tag"
echo "base image: $tag"
