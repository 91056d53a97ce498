#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_<name>.c as a libFuzzer target and runs each
# for N seconds (default 10) from its seed corpus tests/fuzz/corpus/<name>/.
# Prints one line per target "fuzz <name>: N execs, ok"; exits non-zero when a
# target fails to build or finds a crash (the reproducer is left in build/fuzz/).
# Needs clang with libFuzzer (Debian 12: libclang-rt-14-dev).
#
# A target links user/reach/dns.c and user/reach/netclass.c unless it names
# its own sources in a line "fuzz-sources: a.c b.c" (paths from the repo root).
# Targets run side by side, one per CPU (FUZZ_JOBS to change it).
# usage: tests/fuzz/run.sh [seconds]
set -u
cd "$(dirname "$0")/../.."
secs=${1:-10}
case "$secs" in '' | *[!0-9]*) echo "usage: tests/fuzz/run.sh [seconds]" >&2; exit 2 ;; esac
CLANG=${CLANG:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Iuser"
DEFAULT_SRCS="user/reach/dns.c user/reach/netclass.c"
out=build/fuzz
mkdir -p "$out"
jobs=${FUZZ_JOBS:-$(nproc)}
export CLANG FLAGS DEFAULT_SRCS out secs

# One target: build, run; its one result line on stdout (a crash's excerpt
# on stderr). Exit 1 on a failed build or a crash.
fuzz_one() {
	local src=$1 name bin srcs work seeds log rc execs
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	bin=$out/fuzz_$name
	srcs=$(sed -n 's/.*fuzz-sources:[[:space:]]*\([^*]*\).*/\1/p' "$src" | head -1)
	srcs=${srcs:-$DEFAULT_SRCS}
	# shellcheck disable=SC2086
	if ! $CLANG $FLAGS "$src" $srcs -o "$bin" 2>"$out/fuzz_$name.build.log"; then
		cat "$out/fuzz_$name.build.log" >&2
		echo "fuzz $name: build failed (is libclang-rt-14-dev installed?)"
		return 1
	fi
	# New inputs go to a scratch corpus under build/; the seeds stay untouched.
	work=$out/corpus/$name
	seeds=tests/fuzz/corpus/$name
	mkdir -p "$work" "$seeds"
	log=$out/fuzz_$name.log
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$bin" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$out/fuzz_$name-" "$work" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*\([0-9]*\).*/\1/p' "$log" | tail -1)
	[ -n "$execs" ] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
	if [ "$rc" -ne 0 ]; then
		grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written to|deadly signal' "$log" | head -20 >&2
		echo "fuzz $name: ${execs:-?} execs, CRASH (log $log)"
		return 1
	fi
	echo "fuzz $name: ${execs:-0} execs, ok"
}
export -f fuzz_one

# Each target is single-threaded (its build and its run): one per CPU at a
# time (FUZZ_JOBS), so the tier takes about 1/jobs of its sequential time;
# each result is one line, written whole.
ls tests/fuzz/fuzz_*.c >/dev/null 2>&1 || { echo "no tests/fuzz/fuzz_*.c" >&2; exit 2; }
printf '%s\n' tests/fuzz/fuzz_*.c | xargs -P "$jobs" -I{} bash -c 'fuzz_one "$1"' _ {}
# xargs: 123 when any target failed
[ $? -eq 0 ] || exit 1
