#!/usr/bin/env bash
# Install the Debian packages the benchmark (bench/run.py) needs on top of
# scripts/deps.sh: gcc for the workload loops and the peer tools it compares
# reachd against. Idempotent: prints nothing and touches nothing when every
# package is present. A peer that cannot be installed is not fatal: run.py
# records "not installed" for it instead of failing.
set -euo pipefail

PKGS=(
  gcc python3 util-linux procps
  # peers measured on the same open loop (scenario 2)
  bpftrace libbpf-tools bpfcc-tools
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-deps.sh: missing packages (${missing[*]}) and not root: run as root or install them" >&2
  exit 2
fi
echo "bench-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  # Install what can be installed one by one; the benchmark reports the rest.
  for p in "${missing[@]}"; do
    apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
      echo "bench-deps.sh: could not install $p (the benchmark will report it as unavailable)" >&2
  done
fi
exit 0
