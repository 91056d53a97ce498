#!/usr/bin/env bash
# Install every Debian package reach needs to build, test, benchmark and demo.
# Idempotent: prints nothing and touches nothing when every package is present.
set -euo pipefail

PKGS=(
  # build
  clang llvm make gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
  libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libyaml-dev
  libjson-c-dev libssl-dev libcmocka-dev libclang-rt-14-dev
  # what the tests and the demo run
  python3 curl openssl iproute2 procps util-linux nodejs dnsmasq-base bind9-dnsutils
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages (${missing[*]}) and not root: run as root or install them" >&2
  exit 2
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
