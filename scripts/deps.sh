#!/usr/bin/env bash
# Install every Debian package reach needs to build, test and demo; with
# --bench also the benchmark's peers (bpftrace, libbpf-tools' opensnoop, BCC).
# Idempotent: prints nothing and touches nothing when every package is present.
# Also the npm packages of tests/package-lock.json (npm ci, once per lock).
# A benchmark peer that cannot be installed is not fatal: bench/run.py records
# it as unavailable instead.
set -euo pipefail

REQUIRED=(
  # build
  clang llvm make gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
  libprotobuf-c-dev protobuf-c-compiler libcurl4-openssl-dev libyaml-dev
  libjson-c-dev libssl-dev libcmocka-dev libclang-rt-14-dev
  # what the tests and the demo run
  python3 curl openssl iproute2 procps util-linux nodejs dnsmasq-base bind9-dnsutils gnutls-bin
  # HTTP/2 clients and servers (nghttp, nghttpd); python3-hpack checks the
  # HPACK Huffman table the decoder was built from
  nghttp2-client nghttp2-server python3-hpack
  # a real gRPC client and server (HTTP/2, metadata credentials)
  python3-grpcio
  # the Go TLS test builds its client (crypto/tls probes)
  golang-go
  # the io_uring evasion roads run a C client built on liburing
  liburing-dev
  # shipping tests run the real receivers; capsh runs the agent with only its
  # documented capabilities; yamllint checks the deploy/ manifests
  prometheus prometheus-alertmanager libcap2-bin yamllint
  # the deploy tier: the ReachPolicy CRD schema checked against the docs'
  # examples and bad fixtures. Not kubernetes-client: bookworm's kubectl 1.20
  # embeds kustomize v2, which refuses the overlays' patches and components;
  # the deploy tier compares with `kubectl kustomize` only where a kubectl
  # >= 1.21 is installed (skipped, said so, otherwise)
  python3-jsonschema
  # reachctl reach -o dot: the e2e test renders the graph (dot -Tsvg) and the
  # docs' picture (docs/reach-demo.svg) is drawn by it
  graphviz
)
OPTIONAL=()
if [ "${1:-}" = "--bench" ]; then
  OPTIONAL=(bpftrace libbpf-tools bpfcc-tools)
elif [ -n "${1:-}" ]; then
  echo "usage: scripts/deps.sh [--bench]" >&2
  exit 2
fi

missing_of() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
  done
}

mapfile -t missing_required < <(missing_of "${REQUIRED[@]}")
mapfile -t missing_optional < <(missing_of "${OPTIONAL[@]}")
# The npm packages the end-to-end tests run (an MCP client and server, the
# openai SDK; pinned by tests/package-lock.json), installed once: again only when the
# lock file changed since (its copy in tests/node_modules says so).
npm_deps() {
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests"
  [ -f "$dir/package-lock.json" ] || return 0
  # npm comes with the nodejs package (NodeSource's bundles it; Debian's is
  # the npm package, which conflicts with the former)
  if ! command -v npm >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  if cmp -s "$dir/package-lock.json" "$dir/node_modules/.reach-lock.json" 2>/dev/null; then
    return 0
  fi
  echo "deps.sh: npm ci in tests/ (e2e MCP client and server)" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) &&
    cp "$dir/package-lock.json" "$dir/node_modules/.reach-lock.json"
}

if [ ${#missing_required[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  npm_deps
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages (${missing_required[*]} ${missing_optional[*]}) and not root: run as root or install them" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
if [ ${#missing_required[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing_required[*]}" >&2
  apt-get install -y -qq --no-install-recommends "${missing_required[@]}" >/dev/null
fi
for p in "${missing_optional[@]}"; do
  echo "deps.sh: installing $p (benchmark peer)" >&2
  apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
    echo "deps.sh: could not install $p (the benchmark will report it as unavailable)" >&2
done
npm_deps
exit 0
