#!/usr/bin/env bash
# Runs every test tier and ends with one line "N passed, N failed".
# usage: tests/run.sh [layers|unit|fuzz|e2e|bench|deploy|all]   (default all)
set -u
cd "$(dirname "$0")/.."
tier=${1:-all}
passed=0
failed=0

run_unit() {
	local bin out p f
	for bin in build/tests/test_*; do
		[ -x "$bin" ] || continue
		out=$("$bin" 2>&1)
		echo "$out" | grep -E '^\[  (PASSED|FAILED) |^\[==========\]|^\[  ERROR   \]|^\[  FAILED  \] [a-z_]'
		p=$(echo "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | head -1)
		f=$(echo "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | head -1)
		# a binary that crashed or printed no result counts as one failure
		if [ -z "$p" ] && [ -z "$f" ]; then
			echo "unit: $bin produced no result"
			f=1
		fi
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0}))
	done
}

run_e2e_pass() {
	local out p f
	out=$(mktemp)
	python3 tests/e2e/run.py "$@" | tee "$out"
	p=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$out")
	f=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$out")
	[ -n "$p" ] || { p=0; f=1; echo "e2e: runner produced no result"; }
	rm -f "$out"
	passed=$((passed + p))
	failed=$((failed + f))
}

# The suite runs with the agent under capsh, holding only the capabilities
# it documents (tests/e2e/harness.py AGENT_CAPS): proof that the list is
# enough. The privileges test runs once more with the agent started as full
# root, to prove --drop-caps drops to exactly that list.
run_e2e() {
	if [ $# -gt 0 ]; then
		run_e2e_pass "$@"
		return
	fi
	echo "e2e: the agent runs with only its documented capabilities (capsh)"
	REACH_E2E_CAPS=only run_e2e_pass
	echo "e2e: the agent starts as root and drops its capabilities"
	run_e2e_pass -k test_privileges
}

# A short libFuzzer run of every parser target: each target that runs
# without a crash counts as one passed test.
run_fuzz() {
	local out p f
	out=$(bash tests/fuzz/run.sh "${FUZZ_SECONDS:-3}" 2>&1)
	echo "$out" | grep -E '^fuzz |CRASH|error' || true
	p=$(echo "$out" | grep -c '^fuzz .*, ok$')
	f=$(echo "$out" | grep -c -E '^fuzz .*(CRASH|failed)')
	[ "$p" -gt 0 ] || [ "$f" -gt 0 ] || { echo "fuzz: no target ran"; f=1; }
	passed=$((passed + p))
	failed=$((failed + f))
}

# The benchmark's quick mode, once, to keep it working: no thresholds, it
# passes when every scenario produced data (bench/run.py exit 0).
run_bench_smoke() {
	local log
	log=$(mktemp)
	if python3 bench/run.py --quick > "$log" 2>&1; then
		echo "PASS bench quick mode ($(tail -1 "$log"))"
		passed=$((passed + 1))
	else
		echo "FAIL bench quick mode:"; tail -20 "$log"
		failed=$((failed + 1))
	fi
	rm -f "$log"
}

# deploy/ (manifests, hooks), the Dockerfile and the deployment docs,
# without a cluster or a container engine: one PASS/FAIL line per check
# (tests/deploy/check_manifests.py), each counted.
run_deploy() {
	local out p f
	out=$(mktemp)
	python3 tests/deploy/check_manifests.py | tee "$out"
	p=$(grep -c '^PASS ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	grep -q '^deploy: [0-9]* passed, [0-9]* failed$' "$out" || { echo "deploy: checker produced no result"; f=$((f + 1)); }
	rm -f "$out"
	passed=$((passed + p))
	failed=$((failed + f))
}

# The layer check (scripts/check-layers.py): which stage may include which.
# Two results: the tree is clean, and the check still fails on a tree with a
# deliberately wrong include (sensor/ including policy/), so it cannot pass
# by checking nothing.
run_layers() {
	local tmp out
	if out=$(python3 scripts/check-layers.py); then
		echo "PASS layers: $out"; passed=$((passed + 1))
	else
		echo "FAIL layers:"; echo "$out"; failed=$((failed + 1))
	fi
	tmp=$(mktemp -d)
	cp -r bpf include user "$tmp"/
	echo '#include "policy/verify.h"' >> "$tmp/user/sensor/sensor.c"
	if out=$(python3 scripts/check-layers.py "$tmp"); then
		echo "FAIL layers self-test: a sensor/ -> policy/ include was not caught"; failed=$((failed + 1))
	elif echo "$out" | grep -q 'user/sensor/sensor.c:[0-9]*: sensor/ must not include policy/verify.h'; then
		echo "PASS layers self-test: a wrong include fails the check"; passed=$((passed + 1))
	else
		echo "FAIL layers self-test: unexpected output:"; echo "$out"; failed=$((failed + 1))
	fi
	rm -rf "$tmp"
}

# Each tier's seconds, for the suite's time budget (the guide: well under
# 15 minutes in all); printed after the tier, never counted as a test.
timed() {
	local t0=$SECONDS
	"$@"
	echo "time: ${1#run_} took $((SECONDS - t0)) s"
}

case "$tier" in
layers) run_layers ;;
unit) run_unit ;;
bench) run_bench_smoke ;;
fuzz) run_fuzz ;;
e2e) shift; run_e2e "$@" ;;
deploy) run_deploy ;;
all) timed run_layers; timed run_unit; timed run_fuzz; timed run_deploy; timed run_e2e; timed run_bench_smoke ;;
*) echo "usage: tests/run.sh [layers|unit|fuzz|e2e|bench|deploy|all]" >&2; exit 2 ;;
esac
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
