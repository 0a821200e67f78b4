#!/bin/sh
# tests/abi/abi-check.sh — ABI stability, checked: build tests/abi/probe.c
# (which uses every type of api/) with debug info, dump it with libabigail's
# abidw and compare it with the committed baseline tests/abi/modhost-abi.xml
# using abidiff, with no suppressions.  Also checks that host-offsets.h pins
# every member (gen-offsets.sh --check).
#
#   abi-check.sh           exit 0 if the ABI matches the baseline, 1 with the
#                          differences otherwise, 77 (skip) without abidiff
#   abi-check.sh --update  rewrite the baseline from the headers as they are
#                          (after a reviewed, compatible change: see
#                          doc/internals/abi.md)
#
# Environment: ABIDW, ABIDIFF (from configure; default: found in PATH),
# MH_SRCDIR (default: two folders up from this script), CC (default cc).
set -eu

srcdir=${MH_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
baseline=$srcdir/tests/abi/modhost-abi.xml
CC=${CC:-cc}
mode=${1:-}

if [ "${ABIDIFF+set}" = set ]; then
	abidiff=$ABIDIFF
else
	abidiff=$(command -v abidiff || :)
fi
if [ "${ABIDW+set}" = set ]; then
	abidw=$ABIDW
else
	abidw=$(command -v abidw || :)
fi

if [ -z "$abidiff" ] || [ -z "$abidw" ]; then
	echo "abi-check: abidw/abidiff not found (Debian: apt-get install abigail-tools); skipped"
	exit 77
fi
# The baseline describes the LP64 layout (x86_64, aarch64, ...).
if [ "$(getconf LONG_BIT)" != 64 ]; then
	echo "abi-check: the baseline is for 64-bit targets; skipped"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Relative paths, so that the dump does not depend on where the tree is.
(cd "$srcdir" && $CC -std=gnu11 -g -O0 -c -I api -o "$tmp/probe.o" tests/abi/probe.c)
"$abidw" --no-corpus-path --no-comp-dir-path --no-architecture --short-locs \
	--type-id-style hash --out-file "$tmp/probe.xml" "$tmp/probe.o"

if [ "$mode" = --update ]; then
	cp "$tmp/probe.xml" "$baseline"
	echo "abi-check: wrote $baseline"
	exit 0
fi
if [ -n "$mode" ]; then
	echo "usage: $0 [--update]" >&2
	exit 2
fi

status=0
if ! "$abidiff" "$baseline" "$tmp/probe.xml" >"$tmp/diff" 2>&1; then
	echo "abi-check: api/ no longer matches tests/abi/modhost-abi.xml:"
	cat "$tmp/diff"
	echo "abi-check: if the change is a compatible minor addition, follow"
	echo "doc/internals/abi.md and run tests/abi/abi-check.sh --update"
	status=1
fi
if ! CC=$CC "$srcdir/tests/abi/gen-offsets.sh" --check; then
	status=1
fi
[ $status = 0 ] && echo "abi-check: the ABI matches the baseline"
exit $status
