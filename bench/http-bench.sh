#!/bin/bash
# bench/http-bench.sh — modhost's http1 codec serving a fixed "hello" against
# nginx (`return 200 "hello"`) and, when installed, HAProxy (`http-request
# return`), each with one worker, and the floor under them all,
# bench/epoll-echo --http (no framework: it answers every request head with
# the same bytes), the same over io_uring (bench/uring-http, when built),
# and the floor on modhost's own two libraries, libevent and http-parser
# (bench/levent-http; lscan: libevent only): wrk with keep-alive
# connections, plain and
# pipelined (a Lua script sends DEPTH requests per write).  Interleaved
# rounds (the order rotates every round), server pinned to CPU 0 and wrk to
# CPU 1; medians of requests/s, p99 latency and server CPU time per 1000
# requests (from /proc/PID/stat), and ratios against nginx.
#
# usage: bench/http-bench.sh            (from a build folder, or BUILD=DIR)
# env:   ROUNDS=5 SECS=5 WARMUP=1 CONNS=50 DEPTHS="1 16"
#        SERVERS="modhost nginx haproxy epoll uring levent" (lscan on request)
#        BUSY_POLL=auto BUSY_POLL_NAP=0 (modhost's [server] settings of those names)
#        ACCESS_LOG=off|line|buffered: modhost and nginx log every request to a
#        file, one write per line (modhost accesslog; nginx access_log), or
#        gathered in 64 KiB flushed every second (buffer = 64KiB; buffer=64k
#        flush=1s).  HAProxy and the floors never log.
#        METRICS=off|on: on enables modhost's prometheus module, whose observer
#        records every request's latency and code (the bundled conf.d does).
# Exits 1 if any run saw a socket error or a non-2xx response.
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-50}
DEPTHS=${DEPTHS:-1 16}
SERVERS=${SERVERS:-modhost nginx haproxy epoll uring levent}
BUSY_POLL=${BUSY_POLL:-auto}
BUSY_POLL_NAP=${BUSY_POLL_NAP:-0}
ACCESS_LOG=${ACCESS_LOG:-off}
case $ACCESS_LOG in off | line | buffered) ;; *) lib_die "ACCESS_LOG must be off, line or buffered" ;; esac
METRICS=${METRICS:-off}
case $METRICS in off | on) ;; *) lib_die "METRICS must be off or on" ;; esac
SERVER_CPU=0
CLIENT_CPU=1

lib_init
HZ=$(getconf CLK_TCK)
command -v wrk >/dev/null 2>&1 || lib_die "wrk is not installed (apt-get install wrk)"
[ -f "$BUILD/modules/.libs/http1.so" ] || lib_die "http1.so is not built in $BUILD"
[ "$(nproc)" -ge 2 ] || lib_log "warning: one CPU only; server and client share it"

# ---- servers ------------------------------------------------------------------
# Each start_X sets PID_X (the process that serves, whose CPU is measured)
# and PORT_X.

start_modhost() {
	local dir=$LIB_TMP/modhost
	mkdir -p "$dir/conf.d"
	printf '[server]\nworkers = 1\nshutdown_timeout = 2s\nbusy_poll = %s\nbusy_poll_nap = %s\n[log]\nlevel = warn\n' \
		"$BUSY_POLL" "$BUSY_POLL_NAP" >"$dir/modhost.ini"
	cat >"$dir/conf.d/bench.ini" <<-EOF
	[module http1]
	[module fixed]
	body = hello
	[listener bench]
	listen = 127.0.0.1:0
	codec = http1
	handler = fixed
	EOF
	if [ "$ACCESS_LOG" != off ]; then
		printf '[module accesslog]\noutput = %s/access.log\npropagate = no\n' "$dir" \
			>"$dir/conf.d/accesslog.ini"
		[ "$ACCESS_LOG" = buffered ] && printf 'buffer = 64KiB\nflush = 1s\n' >>"$dir/conf.d/accesslog.ini"
	fi
	[ "$METRICS" = on ] && printf '[module prometheus]\n' >"$dir/conf.d/prometheus.ini"
	# lib_start_modhost waits for info-level lines: log at info for it.
	sed -i 's/level = warn/level = info/' "$dir/modhost.ini"
	lib_start_modhost "$dir" "$SERVER_CPU"
	PID_modhost=$LIB_WORKER
	PORT_modhost=$LIB_PORT
}

start_nginx() {
	local dir=$LIB_TMP/nginx
	mkdir -p "$dir/logs"
	PORT_nginx=$(lib_free_port) || lib_die "no free port for nginx"
	# keepalive_requests: nginx closes a keep-alive connection after 1000
	# requests by default; modhost does not, so neither does nginx here.
	local access="access_log off;"
	[ "$ACCESS_LOG" = line ] && access="access_log $dir/logs/access.log;"
	[ "$ACCESS_LOG" = buffered ] && access="access_log $dir/logs/access.log combined buffer=64k flush=1s;"
	cat >"$dir/nginx.conf" <<-EOF
	daemon off;
	master_process on;
	worker_processes 1;
	pid $dir/nginx.pid;
	error_log $dir/logs/error.log;
	events { worker_connections 4096; }
	http {
		$access
		default_type text/plain;
		keepalive_requests 100000000;
		client_body_temp_path $dir/body;
		proxy_temp_path $dir/proxy;
		fastcgi_temp_path $dir/fastcgi;
		uwsgi_temp_path $dir/uwsgi;
		scgi_temp_path $dir/scgi;
		server {
			listen 127.0.0.1:$PORT_nginx;
			location / { return 200 "hello"; }
		}
	}
	EOF
	lib_start_nginx "$dir" "$PORT_nginx" "$SERVER_CPU"
	PID_nginx=$NGX_WORKER
}

start_haproxy() {
	local dir=$LIB_TMP/haproxy
	mkdir -p "$dir"
	PORT_haproxy=$(lib_free_port) || lib_die "no free port for haproxy"
	cat >"$dir/haproxy.cfg" <<-EOF
	global
		nbthread 1
		maxconn 4096
	defaults
		mode http
		timeout client 60s
		timeout server 60s
		timeout connect 5s
	frontend bench
		bind 127.0.0.1:$PORT_haproxy
		http-request return status 200 content-type text/plain string hello
	EOF
	$(lib_pin "$SERVER_CPU") haproxy -db -f "$dir/haproxy.cfg" >"$dir/stderr" 2>&1 &
	PID_haproxy=$!
	LIB_PIDS="$LIB_PIDS $PID_haproxy"
	lib_wait_listen "$PORT_haproxy" 10 || { cat "$dir/stderr" >&2; lib_die "haproxy did not start"; }
}

# bench/epoll-echo --http: no framework at all, the least a server can do
# per request (see epoll-echo.c); the floor under every other row.
start_epoll() {
	lib_start_epoll_echo "$SERVER_CPU" --http
	PID_epoll=$LIB_PID
	PORT_epoll=$LIB_PORT
}

# bench/levent-http: the floor on modhost's two HTTP libraries, libevent's
# loop and http-parser; with --scan (lscan) libevent's loop only.
start_levent() {
	lib_start_bare "$SERVER_CPU" "$LEVENT_HTTP"
	PID_levent=$LIB_PID
	PORT_levent=$LIB_PORT
}

start_lscan() {
	lib_start_bare "$SERVER_CPU" "$LEVENT_HTTP" --scan
	PID_lscan=$LIB_PID
	PORT_lscan=$LIB_PORT
}

# bench/uring-http: the same floor over io_uring (built with liburing).
start_uring() {
	lib_start_bare "$SERVER_CPU" "$URING_HTTP"
	PID_uring=$LIB_PID
	PORT_uring=$LIB_PORT
}

RUN=""
for s in $SERVERS; do
	case $s in
	modhost | epoll | levent | lscan) "start_$s" ;;
	uring)
		if [ ! -x "$URING_HTTP" ]; then
			echo "# uring: bench/uring-http is not built (apt-get install liburing-dev, rerun configure): skipped"
			continue
		fi
		start_uring
		;;
	nginx | haproxy)
		if ! command -v "$s" >/dev/null 2>&1; then
			echo "# $s is not installed: skipped (apt-get install $s)"
			continue
		fi
		"start_$s"
		;;
	*) lib_die "unknown server $s" ;;
	esac
	RUN="$RUN $s"
done
RUN=${RUN# }

# wrk sends DEPTH requests in one write per connection (pipelining).
cat >"$LIB_TMP/pipeline.lua" <<-'EOF'
init = function(args)
	local depth = tonumber(args[1]) or 1
	local r = {}
	for i = 1, depth do r[i] = wrk.format(nil, "/") end
	req = table.concat(r)
end
request = function() return req end
EOF

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "# build $BUILD; $(nginx -v 2>&1 | tr -d '\n')$(command -v haproxy >/dev/null && echo ", $(haproxy -v | head -1 | cut -d' ' -f1-3)"); wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
echo "# servers: $RUN; one worker each on CPU $SERVER_CPU; wrk -t1 -c$CONNS on CPU $CLIENT_CPU; modhost busy_poll = $BUSY_POLL, busy_poll_nap = $BUSY_POLL_NAP; access log: $ACCESS_LOG; metrics: $METRICS"
echo "# $ROUNDS rounds x ${SECS}s (+${WARMUP}s warmup per server), GET / -> 200 \"hello\", depths: $DEPTHS"
printf '%-5s %-8s %5s %12s %10s %9s %9s %6s\n' round server depth req/s cpu_ms/1k p50_us p99_us errors

RESULTS=$LIB_TMP/results
: >"$RESULTS"
failed=0

# wrk latency ("123.45us", "1.23ms", "2.00s") in microseconds.
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
		printf "%.0f", n }'
}

# wrk_run PORT DEPTH SECS OUT
wrk_run() {
	$(lib_pin "$CLIENT_CPU") wrk -t1 -c"$CONNS" -d"$3"s --latency -s "$LIB_TMP/pipeline.lua" \
		"http://127.0.0.1:$1/" -- "$2" >"$4" 2>&1
}

# run_one SERVER DEPTH ROUND: one measured run, appended to RESULTS as
# "server depth req/s cpu_ms_per_1k p50 p99".
run_one() {
	local server=$1 depth=$2 round=$3 port pid out t0 t1 rps total errs cpu p50 p99
	eval "port=\$PORT_$server pid=\$PID_$server"
	out=$LIB_TMP/wrk.out
	t0=$(lib_cpu_ticks "$pid")
	wrk_run "$port" "$depth" "$SECS" "$out"
	t1=$(lib_cpu_ticks "$pid")
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	total=$(awk '/requests in/ {print $1}' "$out")
	p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
	p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
	errs=$(awk '/Socket errors/ {gsub(",", ""); s = $4 + $6 + $8 + $10} /Non-2xx/ {s += $5} END {print s + 0}' "$out")
	if [ -z "$rps" ] || [ "${total:-0}" -eq 0 ]; then
		lib_log "$server run failed:"
		cat "$out" >&2
		failed=1
		return
	fi
	[ "$errs" -eq 0 ] || failed=1
	cpu=$(awk -v d=$((t1 - t0)) -v hz="$HZ" -v n="$total" 'BEGIN {printf "%.3f", d / hz * 1e6 / n}')
	printf '%-5s %-8s %5s %12.0f %10s %9s %9s %6s\n' "$round" "$server" "$depth" "$rps" "$cpu" "$p50" "$p99" "$errs"
	echo "$server $depth $rps $cpu $p50 $p99" >>"$RESULTS"
}

for s in $RUN; do
	for depth in $DEPTHS; do
		eval "wrk_run \$PORT_$s $depth $WARMUP $LIB_TMP/warmup.out"
	done
done

n_servers=$(echo "$RUN" | wc -w)
for round in $(seq "$ROUNDS"); do
	for depth in $DEPTHS; do
		# Rotate the order each round, so that drift over time falls
		# on every server alike.
		set -- $RUN
		shift $(((round - 1) % n_servers))
		order="$* $(echo "$RUN" | cut -d' ' -f1-$(((round - 1) % n_servers)) 2>/dev/null)"
		[ $(((round - 1) % n_servers)) -eq 0 ] && order=$RUN
		for s in $order; do
			run_one "$s" "$depth" "$round"
		done
	done
done

# median SERVER DEPTH COLUMN
median() {
	awk -v s="$1" -v d="$2" -v c="$3" '$1 == s && $2 == d {print $c}' "$RESULTS" | lib_median
}

echo
echo "# medians over $ROUNDS rounds (ratio = server / nginx)"
printf '%-6s %-8s %12s %8s %10s %8s %9s\n' depth server req/s ratio cpu_ms/1k ratio p99_us
for depth in $DEPTHS; do
	nr=$(median nginx "$depth" 3)
	nc=$(median nginx "$depth" 4)
	for s in $RUN; do
		r=$(median "$s" "$depth" 3)
		c=$(median "$s" "$depth" 4)
		p=$(median "$s" "$depth" 6)
		awk -v d="$depth" -v s="$s" -v r="$r" -v c="$c" -v p="$p" -v nr="$nr" -v nc="$nc" 'BEGIN {
			printf "%-6s %-8s %12.0f %8s %10.3f %8s %9.0f\n", "P" d, s, r,
				(nr > 0 ? sprintf("%.2f", r / nr) : "-"), c,
				(nc > 0 ? sprintf("%.2f", c / nc) : "-"), p }'
	done
done
[ "$failed" -eq 0 ] || { lib_log "some runs had errors (see the errors column)"; exit 1; }
exit 0
