#!/usr/bin/env bash
# Debian packages Lianfang needs beyond Python, installed when missing (root only).
#   runtime: libsodium23 (>= 1.0.18: ristretto255 for the RFC 9497 OPRF in schemas/oprf.py)
#   tests:   chromium + fonts-noto-cjk (browser tests and Chinese screenshots)
# Usage: scripts/system-packages.sh runtime|test
set -euo pipefail
want=(libsodium23)
if [ "${1:-runtime}" = "test" ]; then
  want+=(chromium fonts-noto-cjk)
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3 4 5; do
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null && exit 0
  sleep $((attempt * 3))
done
echo "apt-get install ${missing[*]} failed" >&2
exit 1
