#!/bin/sh
# tests/fuzz/run.sh — runs the libFuzzer targets of a fuzzing build
# (./configure CC=clang --enable-fuzzing): `check` replays every committed
# corpus once (-runs=0) and smoke-fuzzes each target for FUZZ_SECONDS into a
# scratch folder; `campaign` fuzzes one target for longer and merges the
# inputs that add coverage into its committed corpus (-merge=1).
#
# usage: tests/fuzz/run.sh check [TARGET...]        (make fuzz-check)
#        tests/fuzz/run.sh campaign TARGET          (make fuzz-campaign FUZZ_TARGET=...)
# TARGET: lenprefix line http1 resp kv config (default: all).  A target
# whose module is not built is skipped.
# env:   MH_BUILDDIR (default: the current folder), MH_SRCDIR (default: this
#        script's ../..), FUZZ_SECONDS (60 per target for check, 3600 for
#        campaign), FUZZ_JOBS (campaign: parallel fuzzing processes, default 1),
#        FUZZ_ARGS (more libFuzzer options).
# Exit 0 when every target ran clean; 1 after any crash, leak, timeout or
# sanitizer report (the input is kept under $MH_BUILDDIR/tests/fuzz/findings
# and the command to reproduce it is printed); 2 on a usage error.
set -u

here=$(cd "$(dirname "$0")" && pwd)
SRCDIR=${MH_SRCDIR:-$(cd "$here/../.." && pwd)}
BUILDDIR=${MH_BUILDDIR:-$(pwd)}
ALL_TARGETS="lenprefix line http1 resp kv config"
CORPUS=$SRCDIR/tests/fuzz/corpus
DICTS=$SRCDIR/tests/fuzz/dict
FINDINGS=$BUILDDIR/tests/fuzz/findings

die() {
	echo "fuzz: $*" >&2
	exit 2
}

mode=${1:-check}
[ $# -gt 0 ] && shift
case $mode in
check) SECONDS_EACH=${FUZZ_SECONDS:-60} ;;
campaign) SECONDS_EACH=${FUZZ_SECONDS:-3600} ;;
*) die "unknown mode '$mode' (check or campaign)" ;;
esac
targets=${*:-$ALL_TARGETS}
[ "$mode" = campaign ] && [ $# -ne 1 ] && die "campaign fuzzes one target: run.sh campaign TARGET"

[ -x "$BUILDDIR/tests/fuzz/fuzz_lenprefix" ] ||
	die "no fuzz targets in $BUILDDIR: build with ./configure CC=clang --enable-fuzzing && make"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/mh-fuzz.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$SCRATCH"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$FINDINGS"
# The same defaults as the sanitizer build's tests: stop at the first
# report; libFuzzer treats it as a crash and keeps the input.
ASAN_OPTIONS="halt_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS UBSAN_OPTIONS
export MODHOST_MODULE_PATH="$BUILDDIR/modules/.libs"
export TMPDIR="$SCRATCH" # fuzz_config's files

failed=""
summary=""

# available TARGET: 0 when the target's binary (and, for a codec, its
# module) is built.
available() {
	[ -x "$BUILDDIR/tests/fuzz/fuzz_$1" ] || return 1
	[ "$1" = config ] && return 0
	[ -f "$MODHOST_MODULE_PATH/$1.so" ]
}

# keep_findings TARGET: move what libFuzzer saved (crash-, leak-, timeout-,
# oom-) into FINDINGS and print how to reproduce it.
keep_findings() {
	for f in "$SCRATCH/$1-"*; do
		[ -f "$f" ] || continue
		dest=$FINDINGS/$1-${f##*/$1-}
		mv "$f" "$dest"
		echo "fuzz: $1: saved $dest"
		echo "fuzz:   reproduce: $BUILDDIR/tests/fuzz/fuzz_$1 $dest"
		echo "fuzz:   then fix it, and commit the input as tests/fuzz/corpus/$1/crash-<what>"
		echo "fuzz:   (or, for a bug in someone else's code, under tests/fuzz/crashes/)"
	done
}

# run_fuzzer TARGET LOG ARGS...: run fuzz_TARGET with the common options.
run_fuzzer() {
	t=$1 log=$2
	shift 2
	dict=""
	[ -f "$DICTS/$t.dict" ] && dict="-dict=$DICTS/$t.dict"
	# shellcheck disable=SC2086  # dict and FUZZ_ARGS are word lists
	"$BUILDDIR/tests/fuzz/fuzz_$t" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$SCRATCH/$t-" $dict ${FUZZ_ARGS:-} "$@" >"$log" 2>&1
}

# final_stat LOG NAME: a number from libFuzzer's final statistics.
final_stat() {
	sed -n "s/^stat::$2: *//p" "$1" | tail -n1
}

for t in $targets; do
	case " $ALL_TARGETS " in *" $t "*) ;; *) die "unknown target '$t' ($ALL_TARGETS)" ;; esac
	if ! available "$t"; then
		echo "fuzz: $t: skipped (fuzz_$t or its module $t.so is not built)"
		summary="$summary$(printf '%-10s %8s %12s %10s  %s' "$t" - - - skipped)\n"
		continue
	fi
	[ -d "$CORPUS/$t" ] || die "no corpus folder $CORPUS/$t"
	seeds=$(find "$CORPUS/$t" -type f | wc -l)
	log=$SCRATCH/$t.log
	status=ok

	# 1. Replay: every committed input once.
	if ! run_fuzzer "$t" "$log" -runs=0 "$CORPUS/$t"; then
		echo "fuzz: $t: replaying the corpus failed:"
		tail -n 60 "$log"
		keep_findings "$t"
		failed="$failed $t"
		summary="$summary$(printf '%-10s %8s %12s %10s  %s' "$t" "$seeds" - - "REPLAY FAILED")\n"
		continue
	fi

	# 2. Fuzz: new inputs go to a scratch folder (check) or are merged
	# into the corpus afterwards (campaign).
	mkdir -p "$SCRATCH/$t-new"
	jobs=""
	if [ "$mode" = campaign ] && [ "${FUZZ_JOBS:-1}" -gt 1 ]; then
		jobs="-jobs=$FUZZ_JOBS -workers=$FUZZ_JOBS"
	fi
	echo "fuzz: $t: $seeds seeds replayed; fuzzing for ${SECONDS_EACH}s"
	# shellcheck disable=SC2086
	if ! run_fuzzer "$t" "$log" -max_total_time="$SECONDS_EACH" $jobs "$SCRATCH/$t-new" "$CORPUS/$t"; then
		echo "fuzz: $t: the fuzzer found a problem:"
		grep -E "ERROR|SUMMARY|runtime error|fuzz_codec:|Test unit written" "$log" | head -n 20
		tail -n 40 "$log"
		keep_findings "$t"
		failed="$failed $t"
		status=FAILED
	fi
	execs=$(final_stat "$log" number_of_executed_units)
	newcov=$(find "$SCRATCH/$t-new" -type f | wc -l)
	summary="$summary$(printf '%-10s %8s %12s %10s  %s' "$t" "$seeds" "${execs:-?}" "$newcov" "$status")\n"

	if [ "$mode" = campaign ] && [ "$status" = ok ]; then
		before=$seeds
		run_fuzzer "$t" "$SCRATCH/$t-merge.log" -merge=1 "$CORPUS/$t" "$SCRATCH/$t-new" ||
			{ tail -n 40 "$SCRATCH/$t-merge.log"; die "$t: merging failed"; }
		after=$(find "$CORPUS/$t" -type f | wc -l)
		echo "fuzz: $t: merged $((after - before)) new inputs into $CORPUS/$t (review, then commit them)"
	fi
done

echo
echo "# fuzz $mode, ${SECONDS_EACH}s per target"
printf '%-10s %8s %12s %10s  %s\n' target seeds executions new_inputs result
printf "$summary"
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed (inputs under $FINDINGS)"
	exit 1
fi
exit 0
