# bench/lib.sh — shared helpers for the benchmark scripts (sourced, not run):
# find the build, start and stop servers pinned to a CPU, read /proc.
#
# Every process a script starts is recorded in LIB_PIDS and stopped by its
# id when the script exits; its files live in LIB_TMP, removed at exit.
# Servers are started in the calling shell (never inside $(...)), so that
# `wait` can reap them; their pid and port come back in LIB_PID / LIB_PORT.

# shellcheck disable=SC2034  # LIB_PID, LIB_PORT, LIB_WORKER are for the caller
LIB_PIDS=""
LIB_TMP=""

lib_die() {
	echo "${0##*/}: $*" >&2
	exit 2
}

lib_log() {
	echo "${0##*/}: $*" >&2
}

# Find the build (env BUILD, else the current folder if it holds
# host/modhostd), make the temp folder, raise the open-file limit and arrange
# the cleanup.  Sets BUILD, MODHOSTD, MH_BENCH, EPOLL_ECHO, LIB_TMP.
lib_init() {
	if [ -z "${BUILD:-}" ]; then
		[ -x ./host/modhostd ] || lib_die "set BUILD to a build folder (no ./host/modhostd here)"
		BUILD=$(pwd)
	fi
	BUILD=$(cd "$BUILD" && pwd) || lib_die "no build folder $BUILD"
	MODHOSTD=$BUILD/host/modhostd
	MH_BENCH=$BUILD/bench/mh-bench
	EPOLL_ECHO=$BUILD/bench/epoll-echo
	URING_HTTP=$BUILD/bench/uring-http # optional: built when liburing is installed
	LEVENT_HTTP=$BUILD/bench/levent-http
	for f in "$MODHOSTD" "$MH_BENCH" "$EPOLL_ECHO"; do
		[ -x "$f" ] || lib_die "$f is missing: run make in $BUILD"
	done
	[ -f "$BUILD/modules/.libs/lenprefix.so" ] || lib_die "modules are not built in $BUILD"
	export MODHOST_MODULE_PATH=$BUILD/modules/.libs
	# 10,000 connections need more descriptors than the usual 1024.
	ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	LIB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mh-bench.XXXXXX") || lib_die "mktemp failed"
	trap lib_cleanup EXIT
	trap 'exit 130' INT TERM
}

# Stop everything this script started, by pid, and remove the temp folder.
lib_cleanup() {
	local pid
	for pid in $LIB_PIDS; do
		lib_stop "$pid"
	done
	[ -n "$LIB_TMP" ] && rm -rf "$LIB_TMP"
}

# Stop one process we started: SIGTERM, then SIGKILL after 10 s.
lib_stop() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || { LIB_PIDS=$(lib_without "$pid"); return 0; }
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		# A child of ours lingers as a zombie until reaped.
		[ "$(lib_stat_field "$pid" 3)" = Z ] && break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && [ "$(lib_stat_field "$pid" 3)" != Z ] && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	LIB_PIDS=$(lib_without "$pid")
}

lib_without() {
	local p out=""
	for p in $LIB_PIDS; do
		[ "$p" = "$1" ] || out="$out $p"
	done
	echo "$out"
}

# Print "taskset -c CPU" when taskset exists and the machine has that CPU,
# else nothing (the command then runs unpinned).
lib_pin() {
	if command -v taskset >/dev/null 2>&1 && [ "$1" -lt "$(nproc)" ]; then
		echo "taskset -c $1"
	fi
}

# Wait until FILE has a line matching the extended regex RE (at most
# SECONDS, default 10) and print that line; fail if PID (optional) dies.
lib_wait_line() {
	local file=$1 re=$2 secs=${3:-10} pid=${4:-}
	for _ in $(seq $((secs * 20))); do
		if grep -Eq "$re" "$file" 2>/dev/null; then
			grep -E -m1 "$re" "$file"
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.05
	done
	return 1
}

# Write a modhost configuration into folder DIR: WORKERS workers, one
# listener 'bench' on 127.0.0.1:0 with the lenprefix codec and echo handler.
# More [server] lines may follow as extra arguments.
lib_modhost_conf() {
	local dir=$1 workers=$2
	shift 2
	mkdir -p "$dir/conf.d"
	{
		echo "[server]"
		echo "workers = $workers"
		echo "shutdown_timeout = 2s"
		for line in "$@"; do echo "$line"; done
		echo "[log]"
		echo "level = info"
	} >"$dir/modhost.ini"
	printf '[module lenprefix]\n' >"$dir/conf.d/10-lenprefix.ini"
	printf '[module echo]\n' >"$dir/conf.d/20-echo.ini"
	cat >"$dir/conf.d/50-listener-bench.ini" <<-EOF
	[listener bench]
	listen = 127.0.0.1:0
	codec = lenprefix
	handler = echo
	; idle connections are the point of the memory test
	idle_timeout = 10m
	EOF
}

# Start modhostd on configuration folder DIR pinned to CPU.  Sets LIB_PID
# (the master, which serves itself when workers = 0), LIB_PORT and
# LIB_WORKER (the first worker, or the master when workers = 0).
lib_start_modhost() {
	local dir=$1 cpu=$2 log=$1/modhostd.log line
	# Empty the log first: the background start truncates it only once it
	# runs, and a previous run's port must not be read meanwhile.
	: >"$log"
	$(lib_pin "$cpu") "$MODHOSTD" -f -c "$dir/modhost.ini" >"$log" 2>&1 &
	LIB_PID=$!
	LIB_PIDS="$LIB_PIDS $LIB_PID"
	line=$(lib_wait_line "$log" "listener 'bench' listening on 127\.0\.0\.1:[0-9]+" 10 "$LIB_PID") ||
		{ cat "$log" >&2; lib_die "modhostd did not start"; }
	LIB_PORT=${line##*:}
	lib_wait_line "$log" "generation 1 ready" 10 "$LIB_PID" >/dev/null ||
		{ cat "$log" >&2; lib_die "modhostd did not become ready"; }
	LIB_WORKER=$(lib_children "$LIB_PID" | awk '{print $1}')
	[ -n "$LIB_WORKER" ] || LIB_WORKER=$LIB_PID
}

# Start one of the bare servers (bench/epoll-echo, uring-http, levent-http) BIN
# pinned to CPU, with ARGS before its port (0: any free one); it prints
# "NAME listening on 127.0.0.1:PORT".  Sets LIB_PID and LIB_PORT.
lib_start_bare() {
	local cpu=$1 bin=$2 name out line
	shift 2
	name=${bin##*/}
	out=$LIB_TMP/$name.out
	: >"$out"
	$(lib_pin "$cpu") "$bin" "$@" 0 >"$out" 2>&1 &
	LIB_PID=$!
	LIB_PIDS="$LIB_PIDS $LIB_PID"
	line=$(lib_wait_line "$out" "listening on 127\.0\.0\.1:[0-9]+" 10 "$LIB_PID") ||
		{ cat "$out" >&2; lib_die "$name did not start"; }
	LIB_PORT=${line##*:}
}

# Start bench/epoll-echo pinned to CPU, with MODE (e.g. --http) if given.
lib_start_epoll_echo() {
	lib_start_bare "$1" "$EPOLL_ECHO" ${2:+"$2"}
}

# The child pids of PID, space-separated.
lib_children() {
	cat /proc/"$1"/task/*/children 2>/dev/null
}

# Field N (1-based, as in proc(5)) of /proc/PID/stat; the command name may
# hold spaces, so count from after its closing parenthesis.
lib_stat_field() {
	local s
	s=$(cat /proc/"$1"/stat 2>/dev/null) || return 1
	s=${s##*) }
	echo "$s" | awk -v n="$(($2 - 2))" '{print $n}'
}

# User plus system CPU time of PID in clock ticks.
lib_cpu_ticks() {
	echo $(($(lib_stat_field "$1" 14) + $(lib_stat_field "$1" 15)))
}

# Resident set size of PID in kB.
lib_rss_kb() {
	awk '/^VmRSS:/ {print $2}' /proc/"$1"/status
}

# Open descriptors of PID.
lib_fd_count() {
	find /proc/"$1"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# Wait until PID has at least N open descriptors (at most SECONDS).
lib_wait_fds() {
	local pid=$1 n=$2 secs=${3:-30}
	for _ in $(seq $((secs * 10))); do
		[ "$(lib_fd_count "$pid")" -ge "$n" ] && return 0
		sleep 0.1
	done
	return 1
}

# Wait until PID's RSS reads the same twice 0.3 s apart (at most 5 s) and
# print it in kB.
lib_settled_rss_kb() {
	local pid=$1 a b
	a=$(lib_rss_kb "$pid")
	for _ in $(seq 16); do
		sleep 0.3
		b=$(lib_rss_kb "$pid")
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$b"
}

# A TCP port on 127.0.0.1 that nothing uses now (below the ephemeral range).
lib_free_port() {
	local p hex
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		hex=$(printf '%04X' "$p")
		grep -q ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

# Wait until something listens on 127.0.0.1:PORT (at most SECONDS).
lib_wait_listen() {
	local hex
	hex=$(printf '0100007F:%04X' "$1")
	for _ in $(seq $((${2:-10} * 20))); do
		awk -v a="$hex" '$2 == a && $4 == "0A" {f = 1} END {exit !f}' /proc/net/tcp && return 0
		sleep 0.05
	done
	return 1
}

# The numeric value of KEY in the one-line JSON object on stdin (the first
# occurrence; nested keys are found too, e.g. p50 inside latency_us).
lib_json() {
	grep -o "\"$1\":[-0-9.e+]*" | head -n1 | cut -d: -f2
}

# The median of the numbers on stdin, one per line.
lib_median() {
	sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# lib_resp_conf DIR WORKERS [SERVER_LINE...]: as lib_modhost_conf, but
# with resp + kv on listener 'bench' as shipped in conf.d (args_body = no:
# kv reads the arguments) and room for a large key space.
lib_resp_conf() {
	local dir=$1 workers=$2
	shift 2
	lib_modhost_conf "$dir" "$workers" "$@"
	rm -f "$dir/conf.d/10-lenprefix.ini" "$dir/conf.d/20-echo.ini"
	printf '[module resp]\nargs_body = no\n' >"$dir/conf.d/30-resp.ini"
	printf '[module kv]\nmax_memory = 256MiB\n' >"$dir/conf.d/30-kv.ini"
	printf '[listener bench]\nlisten = 127.0.0.1:0\ncodec = resp\nhandler = kv\nidle_timeout = 10m\n' \
		>"$dir/conf.d/50-listener-bench.ini"
}

# lib_start_redis CPU: redis-server ($REDIS_SERVER) without persistence on a
# free port, pinned to CPU; sets RD_PID and RD_PORT.
lib_start_redis() {
	RD_PORT=$(lib_free_port) || lib_die "no free port"
	$(lib_pin "$1") "$REDIS_SERVER" --port "$RD_PORT" --bind 127.0.0.1 --save '' \
		--appendonly no --daemonize no --dir "$LIB_TMP" --logfile "$LIB_TMP/redis.log" &
	RD_PID=$!
	LIB_PIDS="$LIB_PIDS $RD_PID"
	lib_wait_listen "$RD_PORT" 10 || lib_die "redis-server did not start"
}

# lib_start_nginx DIR PORT CPU: start nginx with DIR/nginx.conf (prefix DIR,
# logs in DIR/logs) pinned to CPU, wait until it listens on PORT; sets
# NGX_PID (the master) and NGX_WORKER (its worker's pid).
lib_start_nginx() {
	local dir=$1 port=$2 cpu=$3
	$(lib_pin "$cpu") nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/logs/stderr" 2>&1 &
	NGX_PID=$!
	LIB_PIDS="$LIB_PIDS $NGX_PID"
	lib_wait_listen "$port" 10 || { cat "$dir/logs/stderr" "$dir/logs/error.log" >&2; lib_die "nginx did not start"; }
	NGX_WORKER=
	for _ in $(seq 100); do
		NGX_WORKER=$(lib_children "$NGX_PID" | awk '{print $1}')
		[ -n "$NGX_WORKER" ] && break
		sleep 0.05
	done
	[ -n "$NGX_WORKER" ] || lib_die "nginx started no worker"
}
