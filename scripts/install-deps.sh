#!/usr/bin/env bash
# Installs the Debian packages driftgate's tests, benchmarks and demo use.
# Safe to run again: it only installs what is missing.
set -euo pipefail
pkgs=(nginx libnginx-mod-http-lua nats-server docker.io busybox-static iproute2 wrk dnsutils dnsperf dnsmasq-base
      procps psmisc util-linux curl ca-certificates gcc libc6-dev)
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# nginx and dockerd must not run as system services here: the harness starts its own.
if pgrep -x nginx >/dev/null && [ -f /run/nginx.pid ]; then nginx -s stop 2>/dev/null || true; fi
# A dockerd that ever ran with iptables on makes the kernel filter bridged traffic.
if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then sysctl -qw net.bridge.bridge-nf-call-iptables=0 || true; fi
echo "system packages: ok"
