#!/bin/bash
# bench/resp-bench.sh — modhost's resp codec and kv handler against
# redis-server 7 with redis-benchmark: PING, SET and GET, -c 50, pipeline
# depths 1 and 16, interleaved A/B rounds, both servers pinned to CPU 0 and
# redis-benchmark to CPU 1; medians of ops/s and of server CPU time per op
# (from /proc/PID/stat), and the ratio modhost / redis.
#
# usage: bench/resp-bench.sh            (from a build folder, or BUILD=DIR)
# env:   ROUNDS=5 CONNS=50 DEPTHS="1 16" TESTS="ping_mbulk set get"
#        N1=400000 N16=4000000 (requests per run at depth 1 / other depths)
#        WORKERS=1 (modhost workers; 0 = serve in the master process)
#        KEYSPACE=0 (-r N: N random keys; 0 = redis-benchmark's one key)
#        BUSY_POLL=auto (modhost's [server] busy_poll: auto, off or e.g. 200us)
#        BUSY_POLL_NAP=0 (its busy_poll_nap, e.g. 20us; 0 = auto's default,
#        or poll back to back)
# Needs redis-server and redis-benchmark (Debian: redis-server, redis-tools).
# Exits 1 if any run failed or redis-benchmark reported an error.
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-1 16}
TESTS=${TESTS:-ping_mbulk set get}
N1=${N1:-400000}
N16=${N16:-4000000}
WORKERS=${WORKERS:-1}
KEYSPACE=${KEYSPACE:-0}
BUSY_POLL=${BUSY_POLL:-auto}
BUSY_POLL_NAP=${BUSY_POLL_NAP:-0}
SERVER_CPU=0
CLIENT_CPU=1

lib_init
HZ=$(getconf CLK_TCK)
[ "$(nproc)" -ge 2 ] || lib_log "warning: one CPU only; server and client share it"
REDIS_SERVER=$(command -v redis-server) || lib_die "redis-server is missing (apt-get install redis-server)"
REDIS_BENCHMARK=$(command -v redis-benchmark) || lib_die "redis-benchmark is missing (apt-get install redis-tools)"
for so in resp kv; do
	[ -f "$BUILD/modules/.libs/$so.so" ] || lib_die "$so.so is not built in $BUILD"
done

dir=$LIB_TMP/modhost
lib_resp_conf "$dir" "$WORKERS" "busy_poll = $BUSY_POLL" "busy_poll_nap = $BUSY_POLL_NAP"
lib_start_modhost "$dir" "$SERVER_CPU"
MH_PORT=$LIB_PORT
MH_PID=$LIB_WORKER
lib_start_redis "$SERVER_CPU"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "# build $BUILD; modhostd workers = $WORKERS, busy_poll = $BUSY_POLL, busy_poll_nap = $BUSY_POLL_NAP; $("$REDIS_SERVER" --version | cut -d' ' -f1-3)"
echo "# server on CPU $SERVER_CPU, redis-benchmark on CPU $CLIENT_CPU; $ROUNDS rounds, -c $CONNS, -r $KEYSPACE, depths: $DEPTHS, tests: $TESTS"
printf '%-5s %-8s %-10s %5s %12s %10s %6s\n' round server test depth ops/s cpu_ns/op errors

RESULTS=$LIB_TMP/results
: >"$RESULTS"
failed=0

# run_one SERVER PORT PID TEST DEPTH ROUND: one redis-benchmark run,
# appended to RESULTS as "server test depth ops/s cpu_ns_per_op round".
run_one() {
	local server=$1 port=$2 pid=$3 test=$4 depth=$5 round=$6 n out t0 t1 rps cpu errs keys
	n=$N16
	[ "$depth" -eq 1 ] && n=$N1
	keys=""
	[ "$KEYSPACE" -gt 0 ] && keys="-r $KEYSPACE"
	out=$LIB_TMP/run.csv
	t0=$(lib_cpu_ticks "$pid")
	# shellcheck disable=SC2086  # $keys is two words or none
	$(lib_pin "$CLIENT_CPU") "$REDIS_BENCHMARK" -h 127.0.0.1 -p "$port" -c "$CONNS" \
		-P "$depth" -n "$n" $keys -t "$test" --csv >"$out" 2>"$out.err"
	t1=$(lib_cpu_ticks "$pid")
	rps=$(awk -F'"' 'NR > 1 && $4 != "" {print $4; exit}' "$out")
	errs=0
	if [ -z "$rps" ] || grep -qi 'error' "$out" "$out.err"; then
		errs=1
		failed=1
		lib_log "$server $test -P $depth failed: $(cat "$out" "$out.err" | tr '\r' '\n' | tail -n 3)"
		[ -n "$rps" ] || return
	fi
	cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$n" 'BEGIN {printf "%.0f", d / hz * 1e9 / n}')
	printf '%-5s %-8s %-10s %5s %12.0f %10s %6s\n' "$round" "$server" "$test" "$depth" "$rps" "$cpu" "$errs"
	echo "$server $test $depth $rps $cpu $round" >>"$RESULTS"
}

for round in $(seq "$ROUNDS"); do
	for depth in $DEPTHS; do
		for test in $TESTS; do
			# Alternate which server goes first, so drift over time
			# falls on both sides alike.
			if [ $((round % 2)) -eq 1 ]; then
				run_one modhost "$MH_PORT" "$MH_PID" "$test" "$depth" "$round"
				run_one redis "$RD_PORT" "$RD_PID" "$test" "$depth" "$round"
			else
				run_one redis "$RD_PORT" "$RD_PID" "$test" "$depth" "$round"
				run_one modhost "$MH_PORT" "$MH_PID" "$test" "$depth" "$round"
			fi
		done
	done
done

# median SERVER TEST DEPTH COLUMN
median() {
	awk -v s="$1" -v t="$2" -v d="$3" -v c="$4" '$1 == s && $2 == t && $3 == d {print $c}' "$RESULTS" | lib_median
}

# paired TEST DEPTH COLUMN: the median over rounds of modhost / redis in
# the same round (back to back), which cancels what the machine did
# between rounds better than a ratio of medians.
paired() {
	awk -v t="$1" -v d="$2" -v c="$3" '$2 == t && $3 == d { v[$1 " " $6] = $c }
		END { for (k in v) { split(k, a, " "); if (a[1] == "modhost" && v["redis " a[2]] > 0)
			print v[k] / v["redis " a[2]] } }' "$RESULTS" | lib_median
}

echo
echo "# medians over $ROUNDS rounds; ratio = median of the per-round modhost / redis ratios"
printf '%-10s %-6s %14s %14s %8s %14s %14s %8s\n' test depth modhost_ops/s redis_ops/s ratio \
	modhost_ns/op redis_ns/op ratio
for depth in $DEPTHS; do
	for test in $TESTS; do
		mr=$(median modhost "$test" "$depth" 4)
		rr=$(median redis "$test" "$depth" 4)
		mc=$(median modhost "$test" "$depth" 5)
		rc=$(median redis "$test" "$depth" 5)
		pr=$(paired "$test" "$depth" 4)
		pc=$(paired "$test" "$depth" 5)
		awk -v t="$test" -v d="$depth" -v mr="$mr" -v rr="$rr" -v mc="$mc" -v rc="$rc" \
			-v pr="$pr" -v pc="$pc" 'BEGIN {
			printf "%-10s %-6s %14.0f %14.0f %8.2f %14.0f %14.0f %8.2f\n",
				t, "P" d, mr, rr, pr, mc, rc, pc }'
	done
done
[ "$failed" -eq 0 ] || { lib_log "some runs failed (see the errors column)"; exit 1; }
exit 0
