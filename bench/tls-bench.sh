#!/bin/bash
# bench/tls-bench.sh — modhost's TLS against nginx (OpenSSL) with the same
# ECDSA P-256 certificate, one worker each pinned to CPU 0, the load
# generator (bench/tls-load, GnuTLS) on CPU 1, interleaved rounds:
#
#   full     TLS 1.3 full handshakes (X25519, ECDSA P-256): handshakes/s and
#            handshakes per worker CPU-second
#   resumed  TLS 1.3 resumed handshakes (tickets): the same two figures
#   bulk     lenprefix echo of 64 KiB frames through TLS (4 connections,
#            4 in flight each): MB/s echoed and MB per worker CPU-second.
#            nginx terminates TLS in its stream module and proxies to
#            bench/epoll-echo; its figure counts the nginx worker's CPU
#            only (the echo backend's is reported beside it)
#   idle     user-space memory per idle TLS connection (worker RSS delta
#            over IDLE connections that finished their handshake, opened
#            with at most 16 handshakes in progress at a time)
#
# usage: bench/tls-bench.sh      (from a build folder, or BUILD=DIR)
# env:   ROUNDS=5 SECS=5 CONNS=16 IDLE=2000
# Needs nginx with its stream module (Debian: nginx libnginx-mod-stream),
# certtool, taskset; runs nginx as the current user from a temp prefix.
set -u
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
CONNS=${CONNS:-16}
IDLE=${IDLE:-2000}
SERVER_CPU=0
CLIENT_CPU=1
STREAM_MODULE=${STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}

lib_init
TLS_LOAD=$BUILD/bench/tls-load
[ -x "$TLS_LOAD" ] || lib_die "$TLS_LOAD is missing: run make in $BUILD"
command -v nginx >/dev/null || lib_die "nginx is not installed (apt-get install nginx libnginx-mod-stream)"
[ -f "$STREAM_MODULE" ] || lib_die "no nginx stream module at $STREAM_MODULE (apt-get install libnginx-mod-stream)"
HZ=$(getconf CLK_TCK)
SRC=$(cd "$(dirname "$0")/.." && pwd)
sh "$SRC/tests/tls/mkcerts.sh" "$LIB_TMP/certs" >/dev/null || lib_die "mkcerts.sh failed"
CRT=$LIB_TMP/certs/server-ecdsa.pem
KEY=$LIB_TMP/certs/server-ecdsa.key

# ---- servers ----------------------------------------------------------------

start_modhost() {
	lib_modhost_conf "$LIB_TMP/modhost" 1
	cat >>"$LIB_TMP/modhost/conf.d/50-listener-bench.ini" <<-EOF
	tls = on
	tls_certificate = $CRT $KEY
	EOF
	printf '[module lenprefix]\nmax_frame = 1MiB\n' >"$LIB_TMP/modhost/conf.d/10-lenprefix.ini"
	lib_start_modhost "$LIB_TMP/modhost" "$SERVER_CPU"
	MH_PORT=$LIB_PORT
	MH_WORKER=$LIB_WORKER
}

# nginx, one worker: an http server for handshakes and idle connections
# (no upstream), a stream server proxying to epoll-echo for bulk echo.
start_nginx() {
	local dir=$LIB_TMP/nginx
	mkdir -p "$dir/logs"
	NGX_HTTP=$(lib_free_port) || lib_die "no free port"
	NGX_STREAM=$(lib_free_port) || lib_die "no free port"
	cat >"$dir/nginx.conf" <<-EOF
	load_module $STREAM_MODULE;
	daemon off;
	master_process on;
	worker_processes 1;
	worker_rlimit_nofile $((IDLE + 1000));
	pid $dir/nginx.pid;
	error_log $dir/logs/error.log;
	events { worker_connections $((IDLE + 500)); }
	stream {
		server {
			listen 127.0.0.1:$NGX_STREAM ssl;
			ssl_certificate $CRT;
			ssl_certificate_key $KEY;
			ssl_protocols TLSv1.2 TLSv1.3;
			proxy_pass 127.0.0.1:$EP_PORT;
		}
	}
	http {
		access_log off;
		client_body_temp_path $dir/body;
		proxy_temp_path $dir/proxy;
		fastcgi_temp_path $dir/fastcgi;
		uwsgi_temp_path $dir/uwsgi;
		scgi_temp_path $dir/scgi;
		client_header_timeout 10m;
		server {
			listen 127.0.0.1:$NGX_HTTP ssl;
			ssl_certificate $CRT;
			ssl_certificate_key $KEY;
			ssl_protocols TLSv1.2 TLSv1.3;
			location / { return 200 "ok\n"; }
		}
	}
	EOF
	lib_start_nginx "$dir" "$NGX_HTTP" "$SERVER_CPU"
}

lib_start_epoll_echo "$SERVER_CPU"
EP_PORT=$LIB_PORT
EP_PID=$LIB_PID
start_modhost
start_nginx

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "# modhostd $("$MODHOSTD" -V | sed -n 3p); $(nginx -v 2>&1), $(openssl version)"
echo "# one worker each on CPU $SERVER_CPU, tls-load on CPU $CLIENT_CPU; $ROUNDS rounds x ${SECS}s, -c $CONNS"
printf '%-5s %-8s %-8s %10s %14s %10s %6s\n' round server test rate per_cpu_s backend errors

RESULTS=$LIB_TMP/results
: >"$RESULTS"
failed=0

# run_one SERVER TEST: one measured run; appends "server test rate per_cpu_s".
run_one() {
	local server=$1 test=$2 port pid t0 t1 e0 e1 out rate per args n backend=-
	if [ "$server" = modhost ]; then
		port=$MH_PORT pid=$MH_WORKER
	else
		pid=$NGX_WORKER
		if [ "$test" = bulk ]; then port=$NGX_STREAM; else port=$NGX_HTTP; fi
	fi
	case $test in
	full) args="--handshakes -c $CONNS" ;;
	resumed) args="--handshakes --resume -c $CONNS" ;;
	bulk) args="--bulk -c 4 -P 4 -s 65536" ;;
	esac
	t0=$(lib_cpu_ticks "$pid")
	e0=$(lib_cpu_ticks "$EP_PID")
	# shellcheck disable=SC2086
	out=$($(lib_pin "$CLIENT_CPU") "$TLS_LOAD" --port "$port" $args -d "$SECS")
	t1=$(lib_cpu_ticks "$pid")
	e1=$(lib_cpu_ticks "$EP_PID")
	[ "$(echo "$out" | lib_json errors)" = 0 ] || { failed=1; lib_log "$server $test: $out"; }
	if [ "$test" = bulk ]; then
		rate=$(echo "$out" | lib_json mb_per_s)
		n=$(echo "$out" | lib_json bytes_echoed)
		per=$(awk -v n="$n" -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN {printf "%.0f", (d > 0 ? n / 1e6 / (d / hz) : 0)}')
		[ "$server" = nginx ] && backend=$(awk -v d=$((e1 - e0)) -v hz="$HZ" 'BEGIN {printf "%.2fs", d / hz}')
	else
		rate=$(echo "$out" | lib_json hs_per_s)
		n=$(echo "$out" | lib_json handshakes)
		[ "$test" = resumed ] && n=$(echo "$out" | lib_json resumed)
		per=$(awk -v n="$n" -v d=$((t1 - t0)) -v hz="$HZ" 'BEGIN {printf "%.0f", (d > 0 ? n / (d / hz) : 0)}')
	fi
	printf '%-5s %-8s %-8s %10s %14s %10s %6s\n' "$round" "$server" "$test" "$rate" "$per" "$backend" \
		"$(echo "$out" | lib_json errors)"
	echo "$server $test $rate $per" >>"$RESULTS"
}

for round in $(seq "$ROUNDS"); do
	for test in full resumed bulk; do
		if [ $((round % 2)) -eq 1 ]; then
			run_one modhost "$test"
			run_one nginx "$test"
		else
			run_one nginx "$test"
			run_one modhost "$test"
		fi
	done
done

# idle SERVER: worker RSS per idle TLS connection, in bytes.
idle() {
	local server=$1 port pid before after out
	if [ "$server" = modhost ]; then port=$MH_PORT pid=$MH_WORKER; else port=$NGX_HTTP pid=$NGX_WORKER; fi
	before=$(lib_settled_rss_kb "$pid")
	$(lib_pin "$CLIENT_CPU") "$TLS_LOAD" --port "$port" --idle "$IDLE" --hold 120 >"$LIB_TMP/idle.out" &
	local cpid=$!
	for _ in $(seq 600); do
		grep -q '"ready":true' "$LIB_TMP/idle.out" 2>/dev/null && break
		sleep 0.1
	done
	after=$(lib_settled_rss_kb "$pid")
	kill "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null
	awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN {printf "%.0f", (a - b) * 1024 / n}'
}

median() {
	awk -v s="$1" -v t="$2" -v c="$3" '$1 == s && $2 == t {print $c}' "$RESULTS" | lib_median
}

echo
echo "# medians over $ROUNDS rounds (per_cpu_s: per worker CPU-second; bulk in MB)"
printf '%-8s %12s %12s %8s %14s %14s %8s\n' test modhost nginx ratio modhost_cpu nginx_cpu ratio
for test in full resumed bulk; do
	awk -v t="$test" -v mr="$(median modhost "$test" 3)" -v nr="$(median nginx "$test" 3)" \
		-v mc="$(median modhost "$test" 4)" -v nc="$(median nginx "$test" 4)" 'BEGIN {
		printf "%-8s %12.0f %12.0f %8.2f %14.0f %14.0f %8.2f\n", t, mr, nr, (nr > 0 ? mr / nr : 0),
			mc, nc, (nc > 0 ? mc / nc : 0) }'
done
echo
echo "# idle TLS connections ($IDLE, handshake done, nothing sent): worker RSS per connection"
echo "modhost: $(idle modhost) bytes"
echo "nginx:   $(idle nginx) bytes"
[ "$failed" -eq 0 ] || { lib_log "some runs had errors"; exit 1; }
exit 0
