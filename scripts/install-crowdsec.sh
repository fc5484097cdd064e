#!/usr/bin/env bash
# Install CrowdSec from Debian's package for the peer benchmark (issue 15; bench/bench_peers.py).
# The package's postinst tries to register with CrowdSec's online API and fails
# offline; README.Debian's offline recipe: write "# no thanks" to
# /etc/crowdsec/online_api_credentials.yaml and re-run `dpkg --configure crowdsec`.
# Exit 0 when `crowdsec` and `cscli` are usable, 3 (with one line why) when not.
set -uo pipefail
if command -v crowdsec >/dev/null && command -v cscli >/dev/null; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "skip: CrowdSec is not installed and this is not root on Debian (apt-get install crowdsec)" >&2
  exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq crowdsec >/dev/null 2>&1
if ! dpkg-query -W -f='${Status}' crowdsec 2>/dev/null | grep -q "install ok installed"; then
  mkdir -p /etc/crowdsec
  echo "# no thanks" > /etc/crowdsec/online_api_credentials.yaml
  dpkg --configure crowdsec >/dev/null 2>&1 || true
fi
# the package starts its own agent when systemd runs; the benchmark runs its own LAPI
command -v systemctl >/dev/null && systemctl stop crowdsec >/dev/null 2>&1 || true
if command -v crowdsec >/dev/null && command -v cscli >/dev/null; then exit 0; fi
echo "skip: apt-get install crowdsec did not give crowdsec and cscli" >&2
exit 3
