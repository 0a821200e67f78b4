#!/bin/bash
# bench/idle-conns.sh — server memory per idle connection: the serving
# process's VmRSS before and after N idle connections are opened to it,
# divided by N.  Measures modhostd (workers = 1: the worker's RSS) with
# fresh connections and with connections that have echoed one message, and,
# if nginx is installed, an nginx worker holding the same N connections.
# With TLS=1 (the default when certtool is installed) both again over TLS:
# connections that finished a full handshake (ECDSA P-256 certificate) and
# then stay idle.
#
# usage: bench/idle-conns.sh            (from a build folder, or BUILD=DIR)
# env:   CONNS=10000 WORKERS=1 TARGET_BYTES=512 TLS=1
# RSS counts user-space memory only; the kernel's socket buffers are not in
# it (they are the same for every server).
set -u
. "$(dirname "$0")/lib.sh"

CONNS=${CONNS:-10000}
WORKERS=${WORKERS:-1}
TARGET_BYTES=${TARGET_BYTES:-512}
NGX_WC=20000 # nginx worker_connections
TLS=${TLS:-1}
SERVER_CPU=0
CLIENT_CPU=1

lib_init
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "# $CONNS idle connections; open-file limit $(ulimit -n)"
printf '%-28s %12s %12s %12s %14s\n' server rss_before_kB rss_after_kB delta_kB bytes_per_conn

# measure NAME PID PORT [mh-bench idle options]: open CONNS connections to
# PORT, wait until PID holds them all, print the RSS delta per connection.
# Sets LAST_BYTES and LAST_BEFORE (the baseline RSS in kB).
measure() {
	local name=$1 pid=$2 port=$3 fds0 before after out hpid
	shift 3
	out=$LIB_TMP/idle.out
	fds0=$(lib_fd_count "$pid")
	before=$(lib_settled_rss_kb "$pid")
	: >"$out" # not the last run's lines: the background start truncates it late
	$(lib_pin "$CLIENT_CPU") "$MH_BENCH" --port "$port" --idle "$CONNS" --hold 600 "$@" >"$out" 2>&1 &
	hpid=$!
	LIB_PIDS="$LIB_PIDS $hpid"
	if ! lib_wait_line "$out" "^idle: [0-9]+ connected" 120 "$hpid" >/dev/null; then
		cat "$out" >&2
		lib_die "$name: the idle connections could not be opened"
	fi
	grep -q "^idle: $CONNS connected, 0 failed" "$out" || { cat "$out" >&2; lib_die "$name: not every connection opened"; }
	# The connections are up on the client's side; wait until the server
	# has accepted every one before reading its memory.
	lib_wait_fds "$pid" $((fds0 + CONNS)) 60 || lib_die "$name: the server did not accept $CONNS connections"
	after=$(lib_settled_rss_kb "$pid")
	lib_stop "$hpid"
	grep -q "closed by the server meanwhile" "$out" && ! grep -q "(0 closed" "$out" &&
		lib_log "$name: the server closed some idle connections: $(tail -n1 "$out")"
	LAST_BEFORE=$before
	LAST_BYTES=$(awk -v a="$after" -v b="$before" -v n="$CONNS" 'BEGIN {printf "%.0f", (a - b) * 1024 / n}')
	printf '%-28s %12s %12s %12s %14s\n' "$name" "$before" "$after" $((after - before)) "$LAST_BYTES"
}

# modhost, twice: fresh connections, then connections that echoed once
# (their buffers have been used).  A new server each time, so the baseline
# is clean.
lib_modhost_conf "$LIB_TMP/modhost" "$WORKERS" "max_connections = $((CONNS + 1000))"
lib_start_modhost "$LIB_TMP/modhost" "$SERVER_CPU"
measure "modhost (fresh)" "$LIB_WORKER" "$LIB_PORT"
MH_FRESH=$LAST_BYTES
lib_stop "$LIB_PID"

lib_start_modhost "$LIB_TMP/modhost" "$SERVER_CPU"
measure "modhost (after one echo)" "$LIB_WORKER" "$LIB_PORT" --idle-ping
MH_USED=$LAST_BYTES
lib_stop "$LIB_PID"

# nginx: one worker, a `return 200` server, run from a temp prefix.
# start_nginx WORKER_CONNECTIONS [ssl]: sets NGX_PID (master), NGX_WORKER,
# NGX_PORT.  With ssl, the server speaks TLS with the bench certificate.
start_nginx() {
	local dir=$LIB_TMP/nginx-$1${2:-} ssl=""
	[ -n "${2:-}" ] && ssl="ssl; ssl_certificate $LIB_TMP/cert.pem; ssl_certificate_key $LIB_TMP/key.pem; ssl_session_tickets off"
	mkdir -p "$dir/logs"
	NGX_PORT=$(lib_free_port) || lib_die "no free port for nginx"
	cat >"$dir/nginx.conf" <<-EOF
	daemon off;
	master_process on;
	worker_processes 1;
	worker_rlimit_nofile $((CONNS + 1000));
	pid $dir/nginx.pid;
	error_log $dir/logs/error.log;
	events { worker_connections $1; }
	http {
		access_log off;
		client_body_temp_path $dir/body;
		proxy_temp_path $dir/proxy;
		fastcgi_temp_path $dir/fastcgi;
		uwsgi_temp_path $dir/uwsgi;
		scgi_temp_path $dir/scgi;
		server {
			listen 127.0.0.1:$NGX_PORT $ssl;
			location / { return 200 "ok\n"; }
		}
	}
	EOF
	lib_start_nginx "$dir" "$NGX_PORT" "$SERVER_CPU"
}

NGX_BYTES=""
if command -v nginx >/dev/null 2>&1; then
	start_nginx "$NGX_WC"
	measure "nginx 1 worker (fresh)" "$NGX_WORKER" "$NGX_PORT"
	NGX_BYTES=$LAST_BYTES
	NGX_BASE_FULL=$LAST_BEFORE
	lib_stop "$NGX_PID"
	# nginx allocates and touches its connection array for all
	# worker_connections at start, so part of its per-connection cost is
	# in the baseline: show it by the baseline's growth over 1024 slots.
	start_nginx 1024
	NGX_BASE_1024=$(lib_settled_rss_kb "$NGX_WORKER")
	lib_stop "$NGX_PID"
	NGX_SLOT=$(awk -v a="$NGX_BASE_FULL" -v b="$NGX_BASE_1024" -v wc="$NGX_WC" 'BEGIN {printf "%.0f", (a - b) * 1024 / (wc - 1024)}')
	echo "# nginx worker baseline RSS: $NGX_BASE_1024 kB with 1024 worker_connections, $NGX_BASE_FULL kB with $NGX_WC:"
	echo "# $NGX_SLOT bytes preallocated per worker_connections slot, used or not"
else
	echo "# nginx is not installed: skipping it (apt-get install nginx to compare)"
fi

# TLS: the same, with every connection through a full handshake first.
MH_TLS="" NGX_TLS=""
if [ "$TLS" = 1 ] && command -v certtool >/dev/null 2>&1; then
	printf 'cn = "localhost"\ndns_name = "localhost"\ntls_www_server\nexpiration_days = 2\n' \
		>"$LIB_TMP/cert.tmpl"
	certtool --generate-privkey --key-type=ecdsa --outfile "$LIB_TMP/key.pem" >/dev/null 2>&1 &&
		certtool --generate-self-signed --load-privkey "$LIB_TMP/key.pem" \
			--template "$LIB_TMP/cert.tmpl" --outfile "$LIB_TMP/cert.pem" >/dev/null 2>&1 ||
		lib_die "certtool could not make a certificate"
	lib_modhost_conf "$LIB_TMP/modhost-tls" "$WORKERS" "max_connections = $((CONNS + 1000))"
	printf 'tls = on\ntls_certificate = %s %s\n' "$LIB_TMP/cert.pem" "$LIB_TMP/key.pem" \
		>>"$LIB_TMP/modhost-tls/conf.d/50-listener-bench.ini"
	lib_start_modhost "$LIB_TMP/modhost-tls" "$SERVER_CPU"
	measure "modhost TLS (handshaken)" "$LIB_WORKER" "$LIB_PORT" --tls
	MH_TLS=$LAST_BYTES
	lib_stop "$LIB_PID"
	if command -v nginx >/dev/null 2>&1; then
		start_nginx "$NGX_WC" ssl
		measure "nginx TLS (handshaken)" "$NGX_WORKER" "$NGX_PORT" --tls
		NGX_TLS=$LAST_BYTES
		lib_stop "$NGX_PID"
	fi
elif [ "$TLS" = 1 ]; then
	echo "# certtool is not installed: skipping TLS (apt-get install gnutls-bin)"
fi

echo
echo "# bytes of server RSS per idle connection (target <= $TARGET_BYTES)"
verdict() {
	if [ "$1" -le "$TARGET_BYTES" ]; then
		echo "meets the target"
	else
		awk -v v="$1" -v t="$TARGET_BYTES" 'BEGIN {printf "misses the target by %d bytes (%.2fx)\n", v - t, v / t}'
	fi
}
echo "modhost fresh:          $MH_FRESH ($(verdict "$MH_FRESH"))"
echo "modhost after one echo: $MH_USED ($(verdict "$MH_USED"))"
if [ -n "$NGX_BYTES" ]; then
	echo "nginx fresh:            $NGX_BYTES (modhost/nginx $(awk -v m="$MH_FRESH" -v n="$NGX_BYTES" 'BEGIN {printf "%.2f", (n > 0 ? m / n : 0)}'))"
	echo "nginx fresh + its preallocated slot: $((NGX_BYTES + NGX_SLOT))"
fi
[ -n "$MH_TLS" ] && echo "modhost TLS idle:       $MH_TLS"
[ -n "$NGX_TLS" ] && echo "nginx TLS idle:         $NGX_TLS (modhost/nginx $(awk -v m="$MH_TLS" -v n="$NGX_TLS" 'BEGIN {printf "%.2f", (n > 0 ? m / n : 0)}'))"
exit 0
