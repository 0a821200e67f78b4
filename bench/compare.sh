#!/bin/bash
# bench/compare.sh — the whole comparison in one run: each per-feature
# script that exists (echo-bench, http-bench, resp-bench — by default and
# again with busy_poll = off, to show what busy_poll = auto does —, tls-bench,
# idle-conns), then 19,000
# concurrent connections on one worker, then one
# table of the speed targets of issue 5 with the medians, the ratios and
# the server CPU time per request (from /proc/PID/stat) behind each.
#
# usage: bench/compare.sh [--quick] [NAME...]   (from a build folder, or BUILD=DIR)
#        bench/compare.sh --summary DIR          (the table again, from a past run)
#   NAME: echo http resp resp-off tls idle conns19k (default: all of them)
#   --quick  ROUNDS=3 SECS=3 for the scripts that take them (a smoke run;
#            the figures of record use the defaults)
# env:   ROUNDS, SECS (passed on to the scripts), OUT (folder for every
#        script's full output and summary.txt; default bench-results/DATE
#        in the build folder), CONNS19K=19000
# Exit 0 when every part ran without errors (a missed speed target is
# reported, not an error); 1 otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

quick=0
parts=""
summary_only=""
while [ $# -gt 0 ]; do
	a=$1
	shift
	case $a in
	--quick) quick=1 ;;
	--summary)
		summary_only=${1:-}
		[ -d "$summary_only" ] || lib_die "--summary needs the folder of a past run"
		shift
		;;
	echo | http | resp | resp-off | tls | idle | conns19k) parts="$parts $a" ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) lib_die "unknown argument '$a' (see --help)" ;;
	esac
done
parts=${parts:-echo http resp resp-off tls idle conns19k}
if [ "$quick" -eq 1 ]; then
	export ROUNDS=${ROUNDS:-3} SECS=${SECS:-3}
fi
CONNS19K=${CONNS19K:-19000}

failed=""
CHILD=""
if [ -n "$summary_only" ]; then
	OUT=$summary_only
	parts=""
else
	lib_init
	export BUILD
	trap '[ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD"; exit 130' INT TERM
	OUT=${OUT:-$BUILD/bench-results/$(date -u +%Y%m%d-%H%M%S)}
	mkdir -p "$OUT" || lib_die "cannot create $OUT"
	echo "# bench/compare.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
	echo "# build $BUILD; full outputs in $OUT"
fi

# run_script NAME FILE: run bench/FILE if it exists, its output shown and
# kept in OUT/NAME.txt.
run_script() {
	local name=$1 script=$here/$2
	if [ ! -f "$script" ]; then
		echo "# $name: bench/$2 does not exist yet: skipped"
		return
	fi
	echo
	echo "################ $name: bench/$2"
	# In the background and waited for, so that a signal to compare.sh
	# reaches it at once (see the trap below) and it stops its servers.
	bash "$script" > >(tee "$OUT/$name.txt") 2>&1 &
	CHILD=$!
	wait "$CHILD"
	local rc=$?
	CHILD=""
	if [ "$rc" -ne 0 ]; then
		failed="$failed $name"
		echo "# $name: bench/$2 failed (exit $rc)"
	fi
}

# ---- 19,000 connections on one worker ------------------------------------------

# Every connection open at once on a single worker process, each with a
# request in flight for the whole run (closed loop, -P 1): zero errors
# allowed.  Also reports the worker's CPU per request and its RSS.
conns19k() {
	local dir=$LIB_TMP/conns19k out=$OUT/conns19k.txt json t0 t1 rss hz
	hz=$(getconf CLK_TCK)
	echo
	echo "################ conns19k: $CONNS19K concurrent connections, modhostd workers = 1"
	[ "$(ulimit -n)" -ge $((CONNS19K + 64)) ] ||
		{ echo "# open-file limit $(ulimit -n) is below $CONNS19K + 64: skipped"; failed="$failed conns19k"; return; }
	lib_modhost_conf "$dir" 1 "max_connections = $((CONNS19K + 500))"
	lib_start_modhost "$dir" 0
	local pid=$LIB_PID worker=$LIB_WORKER port=$LIB_PORT
	t0=$(lib_cpu_ticks "$worker")
	$(lib_pin 1) "$MH_BENCH" --port "$port" -c "$CONNS19K" -P 1 -s 64 -d "${SECS:-10}" \
		--warmup 1 --json >"$out.json" 2>"$out.err"
	local rc=$?
	t1=$(lib_cpu_ticks "$worker")
	rss=$(lib_rss_kb "$worker")
	json=$(cat "$out.json")
	{
		echo "mh-bench exit $rc: $json"
		cat "$out.err"
		echo "worker $worker: VmRSS $rss kB, $(lib_fd_count "$worker") descriptors open after the run"
	} >"$out"
	C19_CONNECTED=$(echo "$json" | lib_json connections)
	C19_OK=$(echo "$json" | lib_json requests)
	C19_RPS=$(echo "$json" | lib_json rps)
	C19_ERRORS=$(($(echo "$json" | lib_json errors) + $(echo "$json" | lib_json connect_errors) + $(echo "$json" | lib_json closed)))
	C19_P99=$(echo "$json" | lib_json p99)
	C19_CPU=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$(echo "$json" | lib_json total_replies)" \
		'BEGIN {if (n > 0) printf "%.0f", d / hz * 1e9 / n; else print "nan"}')
	C19_RSS=$rss
	printf '%-12s %8s %10s %12s %10s %10s %8s\n' connections errors requests req/s cpu_ns/req p99_us rss_kB
	printf '%-12s %8s %10s %12.0f %10s %10s %8s\n' "$CONNS19K" "$C19_ERRORS" "$C19_OK" "${C19_RPS:-0}" "$C19_CPU" "$C19_P99" "$C19_RSS"
	if [ "$rc" -ne 0 ] || [ "$C19_ERRORS" -ne 0 ]; then
		failed="$failed conns19k"
		cat "$out.err" >&2
		tail -n 20 "$dir/modhostd.log" >&2
	fi
	lib_stop "$pid"
}

for p in $parts; do
	case $p in
	echo) run_script echo echo-bench.sh ;;
	http) run_script http http-bench.sh ;;
	resp) run_script resp resp-bench.sh ;;
	resp-off) BUSY_POLL=off run_script resp-off resp-bench.sh ;;
	tls) run_script tls tls-bench.sh ;;
	idle) run_script idle idle-conns.sh ;;
	conns19k) conns19k ;;
	esac
done

# ---- the summary ---------------------------------------------------------------------

# medians FILE: the table after the last "# medians" line of a script's
# output (its header line, then rows up to a blank or comment line).
medians() {
	[ -f "$1" ] || return 0
	awk '/^# medians/ {t = ""; on = 1; next}
		on && (/^$/ || /^#/) {on = 0}
		on {t = t $0 "\n"}
		END {printf "%s", t}' "$1"
}

# cell FILE ROW1 ROW2 COLUMN [NTH]: from FILE's medians table, the value in
# the row whose first field is ROW1 (and second ROW2, unless empty), in the
# NTH column (default 1st) whose header is COLUMN.  Empty when absent.
cell() {
	medians "$1" | awk -v r1="$2" -v r2="$3" -v col="$4" -v nth="${5:-1}" '
		NR == 1 {for (i = 1; i <= NF; i++) if ($i == col && ++seen == nth) c = i; next}
		c && $1 == r1 && (r2 == "" || $2 == r2) {print $c; exit}'
}

# verdict VALUE OP GOAL: "meets" or "misses" (OP is >= or <=), or "n/a".
verdict() {
	awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
		if (v == "" || v == "nan" || v == "-") {print "n/a"; exit}
		ok = (op == ">=") ? (v + 0 >= g + 0) : (v + 0 <= g + 0)
		print (ok ? "meets" : "MISSES") }'
}

SUMMARY=$OUT/summary.txt
[ -n "$summary_only" ] && SUMMARY=/dev/null
row() { # target measurement cpu ratio goal verdict
	printf '%-42s %-34s %-30s %6s %8s  %s\n' "$1" "$2" "$3" "$4" "$5" "$6"
}
# pair A B UNIT: "A / B UNIT", or "no result" when both are missing.
pair() {
	if [ -z "$1$2" ]; then echo "no result"; else echo "${1:-?} / ${2:-?}${3:+ $3}"; fi
}
{
	echo
	echo "# speed targets (issue 5): medians; ratio = modhost / peer; CPU = server CPU time per request from /proc"
	row target "modhost vs peer (throughput)" "CPU per request (modhost/peer)" ratio goal verdict

	f=$OUT/echo.txt
	for d in P1 P16; do
		r=$(cell "$f" "$d" "" ratio 1)
		row "lenprefix 64 B echo $d, msgs/s vs epoll" \
			"$(pair "$(cell "$f" "$d" "" modhost_msgs/s)" "$(cell "$f" "$d" "" epoll_msgs/s)")" \
			"$(pair "$(cell "$f" "$d" "" modhost_cpu_ns)" "$(cell "$f" "$d" "" epoll_cpu_ns)" ns)" \
			"${r:--}" "$([ "$d" = P16 ] && echo '>=0.85' || echo info)" \
			"$([ "$d" = P16 ] && verdict "$r" '>=' 0.85 || echo '-')"
	done

	f=$OUT/http.txt
	for d in P1 P16; do
		r=$(cell "$f" "$d" modhost ratio 2)
		row "HTTP hello $d, CPU/request vs nginx" \
			"$(pair "$(cell "$f" "$d" modhost req/s)" "$(cell "$f" "$d" nginx req/s)" req/s)" \
			"$(pair "$(cell "$f" "$d" modhost cpu_ms/1k)" "$(cell "$f" "$d" nginx cpu_ms/1k)" ms/1k)" \
			"${r:--}" "<=0.90" "$(verdict "$r" '<=' 0.90)"
		for floor in epoll uring levent; do
			r=$(cell "$f" "$d" "$floor" ratio 2)
			[ -n "$r" ] && row "  floor: $floor $d vs nginx" \
				"$(pair "$(cell "$f" "$d" "$floor" req/s)" "$(cell "$f" "$d" nginx req/s)" req/s)" \
				"$(pair "$(cell "$f" "$d" "$floor" cpu_ms/1k)" "$(cell "$f" "$d" nginx cpu_ms/1k)" ms/1k)" \
				"$r" info "-"
		done
	done

	for f in "$OUT/resp.txt" "$OUT/resp-off.txt"; do
		[ -f "$f" ] || continue
		how=""
		[ "${f##*/}" = resp-off.txt ] && how=" busy_poll off"
		medians "$f" | awk 'NR > 1 {print $1, $2}' | while read -r t d; do
			r=$(cell "$f" "$t" "$d" ratio 1)
			row "RESP $t $d$how, ops/s vs Redis" \
				"$(pair "$(cell "$f" "$t" "$d" modhost_ops/s)" "$(cell "$f" "$t" "$d" redis_ops/s)")" \
				"$(pair "$(cell "$f" "$t" "$d" modhost_ns/op)" "$(cell "$f" "$t" "$d" redis_ns/op)" ns)" \
				"${r:--}" ">=1.00" "$(verdict "$r" '>=' 1.00)"
		done
		[ -n "$(medians "$f")" ] || row "RESP$how ops/s vs Redis" "no result (bench/resp-bench.sh)" "" - ">=1.00" n/a
	done

	# tls-bench.sh: the "full" row of its medians table; the second
	# ratio column is the one per worker CPU-second.
	f=$OUT/tls.txt
	r=$(cell "$f" full "" ratio 2)
	row "TLS full handshakes per worker CPU-s" \
		"$(pair "$(cell "$f" full "" modhost)" "$(cell "$f" full "" nginx)" /s)" \
		"$(pair "$(cell "$f" full "" modhost_cpu)" "$(cell "$f" full "" nginx_cpu)" per-CPU-s)" \
		"${r:--}" ">=1.00" "$(verdict "$r" '>=' 1.00)"

	f=$OUT/idle.txt
	fresh=$(awk '/^modhost fresh:/ {print $3}' "$f" 2>/dev/null)
	used=$(awk '/^modhost after one echo:/ {print $5}' "$f" 2>/dev/null)
	ngx=$(awk '/^nginx fresh:/ {print $3}' "$f" 2>/dev/null)
	row "idle plain connection, bytes RSS" "fresh ${fresh:-?}, used ${used:-?}, nginx ${ngx:--}" "-" \
		"-" "<=512" "$(verdict "${used:-${fresh:-}}" '<=' 512) (used)"
	mtls=$(awk '/^modhost TLS idle:/ {print $4}' "$f" 2>/dev/null)
	ntls=$(awk '/^nginx TLS idle:/ {print $4}' "$f" 2>/dev/null)
	[ -n "$mtls" ] && row "idle TLS connection, bytes RSS" "$(pair "$mtls" "$ntls")" "-" \
		"$(awk -v m="$mtls" -v n="$ntls" 'BEGIN {if (n > 0) printf "%.2f", m / n; else print "-"}')" info "-"

	if [ -n "${C19_CONNECTED:-}" ]; then
		row "$CONNS19K connections on one worker" \
			"${C19_OK:-0} requests, ${C19_ERRORS:-?} errors" "${C19_CPU:-?} ns" "-" "0 errors" \
			"$([ "${C19_ERRORS:-1}" -eq 0 ] && echo meets || echo MISSES)"
	fi
	echo
	echo "# every script's medians table"
	for n in echo http resp resp-off tls; do
		[ -f "$OUT/$n.txt" ] || continue
		echo "## $n"
		medians "$OUT/$n.txt"
	done
	if [ -f "$OUT/idle.txt" ]; then
		echo "## idle"
		sed -n '/^# bytes of server RSS/,$p' "$OUT/idle.txt"
	fi
} | tee "$SUMMARY"

if [ -n "$failed" ]; then
	echo "compare: errors in:$failed (full outputs in $OUT)"
	exit 1
fi
exit 0
