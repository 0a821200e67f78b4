#!/bin/bash
# bench/resp-rate.sh — what busy_poll = auto costs where polling cannot
# help: mh-bench sends RESP PING open loop at fixed rates (the client does
# not wait for the server, so a faster server gets no more requests), to
# modhost with busy_poll = auto (the default), modhost with busy_poll = off
# and redis-server 7.  Interleaved rounds, servers pinned to CPU 0 and
# mh-bench to CPU 1; medians of the server's CPU use (per cent of its core,
# from /proc/PID/stat) and of latency p50 / p99 (µs, from the intended send
# time), and the ratio of auto's CPU to off's.
#
# usage: bench/resp-rate.sh            (from a build folder, or BUILD=DIR)
# env:   ROUNDS=3 SECS=5 CONNS=32 RATES="20000 60000 100000 130000"
# Needs redis-server (Debian: redis-server).
# Exits 1 if any run lost a request or saw an error.
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
CONNS=${CONNS:-32}
RATES=${RATES:-20000 60000 100000 130000}
SERVER_CPU=0
CLIENT_CPU=1

lib_init
HZ=$(getconf CLK_TCK)
REDIS_SERVER=$(command -v redis-server) || lib_die "redis-server is missing (apt-get install redis-server)"
for so in resp kv; do
	[ -f "$BUILD/modules/.libs/$so.so" ] || lib_die "$so.so is not built in $BUILD"
done

# start_modhost NAME BUSY_POLL: resp + kv as in resp-bench.sh; sets
# PORT_<NAME> and PID_<NAME> (the worker).
start_modhost() {
	lib_resp_conf "$LIB_TMP/$1" 1 "busy_poll = $2"
	lib_start_modhost "$LIB_TMP/$1" "$SERVER_CPU"
	printf -v "PORT_$1" '%s' "$LIB_PORT"
	printf -v "PID_$1" '%s' "$LIB_WORKER"
}
start_modhost auto auto
start_modhost off off
lib_start_redis "$SERVER_CPU"
PORT_redis=$RD_PORT
PID_redis=$RD_PID

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, kernel $(uname -r); build $BUILD"
echo "# servers on CPU $SERVER_CPU, mh-bench --proto resp-ping -c $CONNS --rate R -d $SECS on CPU $CLIENT_CPU; $ROUNDS rounds"
printf '%-5s %-8s %8s %10s %6s %8s %8s %6s\n' round server rate replies/s cpu% p50_us p99_us errors

RESULTS=$LIB_TMP/results
: >"$RESULTS"
failed=0

# run_one SERVER RATE ROUND: one open-loop run, appended to RESULTS as
# "server rate cpu% p50 p99 round".
run_one() {
	local server=$1 rate=$2 round=$3 port pid out t0 t1 cpu rps p50 p99 errs
	port=PORT_$server pid=PID_$server
	out=$LIB_TMP/run.json
	t0=$(lib_cpu_ticks "${!pid}")
	$(lib_pin "$CLIENT_CPU") "$MH_BENCH" --port "${!port}" --proto resp-ping -c "$CONNS" \
		--rate "$rate" -d "$SECS" --json >"$out" 2>"$out.err"
	t1=$(lib_cpu_ticks "${!pid}")
	rps=$(lib_json rps <"$out")
	p50=$(lib_json p50 <"$out")
	p99=$(lib_json p99 <"$out")
	errs=$(($(lib_json errors <"$out") + $(lib_json lost <"$out") + $(lib_json unanswered <"$out")))
	[ -n "$rps" ] && [ "$errs" -eq 0 ] || {
		failed=1
		lib_log "$server at $rate/s: $(cat "$out.err" "$out" | tail -n 3)"
		[ -n "$rps" ] || return
	}
	cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v s="$SECS" 'BEGIN {printf "%.1f", d / hz / s * 100}')
	printf '%-5s %-8s %8s %10.0f %6s %8s %8s %6s\n' "$round" "$server" "$rate" "$rps" "$cpu" "$p50" "$p99" "$errs"
	echo "$server $rate $cpu $p50 $p99 $round" >>"$RESULTS"
}

servers="auto off redis"
for round in $(seq "$ROUNDS"); do
	for rate in $RATES; do
		for server in $servers; do
			run_one "$server" "$rate" "$round"
		done
	done
	servers="${servers#* } ${servers%% *}" # rotate who goes first
done

# median SERVER RATE COLUMN
median() {
	awk -v s="$1" -v r="$2" -v c="$3" '$1 == s && $2 == r {print $c}' "$RESULTS" | lib_median
}

echo
echo "# medians over $ROUNDS rounds; cpu% is of one core, over the whole run"
printf '%-8s %-6s %8s %8s %8s %12s\n' rate server cpu% p50_us p99_us auto/off_cpu
for rate in $RATES; do
	for server in auto off redis; do
		ratio=""
		[ "$server" = auto ] && ratio=$(awk -v a="$(median auto "$rate" 3)" -v o="$(median off "$rate" 3)" \
			'BEGIN {if (o > 0) printf "%.2f", a / o; else print "-"}')
		printf '%-8s %-6s %8s %8s %8s %12s\n' "$rate" "$server" "$(median "$server" "$rate" 3)" \
			"$(median "$server" "$rate" 4)" "$(median "$server" "$rate" 5)" "$ratio"
	done
done
[ "$failed" -eq 0 ] || { lib_log "some runs failed (see the errors column)"; exit 1; }
exit 0
