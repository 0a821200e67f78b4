#!/bin/bash
# bench/echo-bench.sh — modhost's lenprefix echo against a bare epoll echo
# server (bench/epoll-echo): interleaved A/B rounds, server pinned to CPU 0
# and load generator to CPU 1, medians of msgs/s and of server CPU time per
# message (from /proc/PID/stat), and the ratio modhost / epoll.
#
# usage: bench/echo-bench.sh            (from a build folder, or BUILD=DIR)
# env:   ROUNDS=5 SECS=5 WARMUP=1 CONNS=50 DEPTHS="1 16" SIZE=64 WORKERS=0
#        WORKERS=1 measures a worker process instead of the single process.
# Exits 1 if any run saw an error (mismatched, lost or unanswered message).
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-1 16}
SIZE=${SIZE:-64}
WORKERS=${WORKERS:-0}
SERVER_CPU=0
CLIENT_CPU=1

lib_init
HZ=$(getconf CLK_TCK)
[ "$(nproc)" -ge 2 ] || lib_log "warning: one CPU only; server and client share it"

lib_modhost_conf "$LIB_TMP/modhost" "$WORKERS"
lib_start_modhost "$LIB_TMP/modhost" "$SERVER_CPU"
MH_PORT=$LIB_PORT
MH_PID=$LIB_WORKER
lib_start_epoll_echo "$SERVER_CPU"
EP_PORT=$LIB_PORT
EP_PID=$LIB_PID

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "# build $BUILD; modhostd workers = $WORKERS; server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
echo "# $ROUNDS rounds x ${SECS}s (+${WARMUP}s warmup), -c $CONNS, ${SIZE}-byte lenprefix echo, depths: $DEPTHS"
printf '%-5s %-8s %5s %12s %10s %9s %9s %6s\n' round server depth msgs/s cpu_ns/msg p50_us p99_us errors

RESULTS=$LIB_TMP/results
: >"$RESULTS"
failed=0

# run_one SERVER PORT PID DEPTH ROUND: one measured run, appended to RESULTS
# as "server depth msgs/s cpu_ns_per_msg p50 p99".
run_one() {
	local server=$1 port=$2 pid=$3 depth=$4 round=$5 out t0 t1 json rps total errs cpu p50 p99
	out=$LIB_TMP/run.json
	t0=$(lib_cpu_ticks "$pid")
	$(lib_pin "$CLIENT_CPU") "$MH_BENCH" --port "$port" --proto lenprefix -c "$CONNS" \
		-P "$depth" -s "$SIZE" -d "$SECS" --warmup "$WARMUP" --json >"$out"
	t1=$(lib_cpu_ticks "$pid")
	json=$(cat "$out")
	rps=$(echo "$json" | lib_json rps)
	total=$(echo "$json" | lib_json total_replies)
	errs=$(($(echo "$json" | lib_json errors) + $(echo "$json" | lib_json connect_errors)))
	p50=$(echo "$json" | lib_json p50)
	p99=$(echo "$json" | lib_json p99)
	if [ -z "$rps" ] || [ "${total:-0}" -eq 0 ]; then
		lib_log "$server run failed: $json"
		failed=1
		return
	fi
	[ "$errs" -eq 0 ] || failed=1
	# Server CPU over the whole run (warmup included) per reply sent.
	cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$total" 'BEGIN {printf "%.0f", d / hz * 1e9 / n}')
	printf '%-5s %-8s %5s %12.0f %10s %9s %9s %6s\n' "$round" "$server" "$depth" "$rps" "$cpu" "$p50" "$p99" "$errs"
	echo "$server $depth $rps $cpu $p50 $p99" >>"$RESULTS"
}

for round in $(seq "$ROUNDS"); do
	for depth in $DEPTHS; do
		# Alternate which server goes first, so drift over time (other
		# load, thermal state) falls on both sides alike.
		if [ $((round % 2)) -eq 1 ]; then
			run_one modhost "$MH_PORT" "$MH_PID" "$depth" "$round"
			run_one epoll "$EP_PORT" "$EP_PID" "$depth" "$round"
		else
			run_one epoll "$EP_PORT" "$EP_PID" "$depth" "$round"
			run_one modhost "$MH_PORT" "$MH_PID" "$depth" "$round"
		fi
	done
done

# median SERVER DEPTH COLUMN
median() {
	awk -v s="$1" -v d="$2" -v c="$3" '$1 == s && $2 == d {print $c}' "$RESULTS" | lib_median
}

echo
echo "# medians over $ROUNDS rounds"
printf '%-6s %14s %14s %8s %16s %16s %8s %12s %12s\n' depth modhost_msgs/s epoll_msgs/s ratio \
	modhost_cpu_ns epoll_cpu_ns ratio modhost_p99 epoll_p99
for depth in $DEPTHS; do
	mr=$(median modhost "$depth" 3)
	er=$(median epoll "$depth" 3)
	mc=$(median modhost "$depth" 4)
	ec=$(median epoll "$depth" 4)
	mp=$(median modhost "$depth" 6)
	ep=$(median epoll "$depth" 6)
	awk -v d="$depth" -v mr="$mr" -v er="$er" -v mc="$mc" -v ec="$ec" -v mp="$mp" -v ep="$ep" 'BEGIN {
		printf "%-6s %14.0f %14.0f %8.2f %16.0f %16.0f %8.2f %12s %12s\n",
			"P" d, mr, er, (er > 0 ? mr / er : 0), mc, ec, (ec > 0 ? mc / ec : 0), mp, ep }'
done
[ "$failed" -eq 0 ] || { lib_log "some runs had errors (see the errors column)"; exit 1; }
exit 0
