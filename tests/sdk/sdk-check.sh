#!/bin/bash
# tests/sdk/sdk-check.sh — the module SDK works from an installed tree alone:
# `make install DESTDIR=...`, then build the hello example and a
# `modhost-module new` skeleton out of tree with nothing but the installed
# headers, modhost.pc and module.map; check what they export, what
# `modhost-module info|install|enable|disable` do, and that the installed
# modhostd serves the hello module over lenprefix.
# Exit status: 0 pass, 1 fail, 77 skip (automake's convention).

set -u

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

skip() {
	printf 'SKIP: %s\n' "$*" >&2
	exit 77
}

pass() {
	printf 'ok: %s\n' "$*"
}

[ -n "${MH_BUILDDIR:-}" ] || skip "MH_BUILDDIR is not set; run this through make check"
for tool in make cc pkg-config readelf perl mkfifo; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mh-sdk.XXXXXX") || fail "mktemp"
daemon_pid=""
drain_pid=""
cleanup() {
	if [ -n "$daemon_pid" ]; then
		kill -KILL "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
	fi
	if [ -n "$drain_pid" ]; then
		kill "$drain_pid" 2>/dev/null
		wait "$drain_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# show FILE: print a log file into the test's log, for a failure's reader.
show() {
	printf -- '---- %s ----\n' "$1" >&2
	cat "$1" >&2
	printf -- '----\n' >&2
}

# exports SO: the dynamic symbols SO defines, sorted, space-separated.
exports() {
	readelf --dyn-syms -W "$1" |
		awk '$1 ~ /^[0-9]+:$/ && $7 != "UND" && $5 != "LOCAL" {
			sub(/@.*/, "", $8); print $8 }' |
		sort -u | tr '\n' ' '
}

check_exports() {
	local got
	got=$(exports "$1")
	[ "$got" = "mh_module_v1 " ] ||
		fail "$1 exports '$got'; a module must export only mh_module_v1"
	pass "$1 exports only mh_module_v1"
}

# ---- install into a scratch root ----------------------------------------------

dest=$tmp/dest
# A clean make: not the parent's jobserver or command-line variables.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	make -C "$MH_BUILDDIR" install DESTDIR="$dest" >"$tmp/install.log" 2>&1 ||
	{ show "$tmp/install.log"; fail "make install DESTDIR=$dest failed"; }

pcfile=$(find "$dest" -path '*/pkgconfig/modhost.pc' | head -n 1)
tool=$(find "$dest" -path '*/bin/modhost-module' -type f | head -n 1)
modhostd=$(find "$dest" -path '*/sbin/modhostd' -type f | head -n 1)
[ -n "$pcfile" ] || fail "modhost.pc was not installed"
[ -n "$tool" ] && [ -x "$tool" ] || fail "modhost-module was not installed as a program"
[ -n "$modhostd" ] || fail "modhostd was not installed"
pass "installed under $dest"

# The installed .pc names the configured prefix; point it into the scratch root.
export PKG_CONFIG_PATH="${pcfile%/*}"
unset PKG_CONFIG_LIBDIR MODHOSTD MODHOST_PKG_CONFIG_PATH MODHOST_SDKDIR \
	MODHOST_MODULEDIR MODHOST_CONFDIR DESTDIR
prefix=$(pkg-config --variable=prefix modhost) || fail "pkg-config cannot read $pcfile"
pkgconf="pkg-config --define-variable=prefix=$dest$prefix"
# Folders configured outside the prefix (--libdir=/usr/lib/x86_64-linux-gnu)
# do not follow the prefix: redirect them one by one.
for var in exec_prefix libdir includedir datarootdir datadir sysconfdir; do
	value=$(pkg-config --variable="$var" modhost)
	case $value in
	"$prefix" | "$prefix"/*) ;;
	*) pkgconf="$pkgconf --define-variable=$var=$dest$value" ;;
	esac
done
pcvar() { $pkgconf --variable="$1" modhost; }

cflags=$($pkgconf --cflags modhost | xargs)
incdir=$dest$(pkg-config --variable=includedir modhost)/modhost
[ "$cflags" = "-I$incdir" ] || fail "pkg-config --cflags modhost gave '$cflags', expected -I$incdir"
[ -f "$incdir/modhost.h" ] && [ -f "$incdir/modhost-t.h" ] ||
	fail "the ABI headers are not in $incdir"
[ -z "$($pkgconf --libs modhost | xargs)" ] || fail "modhost.pc must not link modules against anything"

ldflags=$(pcvar module_ldflags)
map=${ldflags##*--version-script=}
map=${map%% *}
[ -f "$map" ] || fail "module_ldflags names version script '$map', which was not installed"
for flag in -shared -Wl,-z,defs -Wl,-z,now; do
	case " $ldflags " in
	*" $flag "*) ;;
	*) fail "module_ldflags '$ldflags' lacks $flag" ;;
	esac
done

hdr_major=$(sed -n 's/^#define MH_ABI_MAJOR \([0-9]*\).*/\1/p' "$incdir/modhost-t.h")
hdr_minor=$(sed -n 's/^#define MH_ABI_MINOR \([0-9]*\).*/\1/p' "$incdir/modhost-t.h")
[ -n "$hdr_major" ] && [ "$(pcvar abi_major)" = "$hdr_major" ] &&
	[ "$(pcvar abi_minor)" = "$hdr_minor" ] ||
	fail "modhost.pc says ABI $(pcvar abi_major).$(pcvar abi_minor), the headers say $hdr_major.$hdr_minor"
moduledir=$(pcvar moduledir)
sdkdir=$(pcvar sdkdir)
[ "$moduledir" = "$dest$(pkg-config --variable=moduledir modhost)" ] &&
	[ -f "$moduledir/lenprefix.so" ] || fail "moduledir '$moduledir' does not hold the bundled modules"
[ -d "$sdkdir/examples/hello" ] || fail "the hello example is not in $sdkdir/examples/hello"
pass "modhost.pc: cflags, module_ldflags, moduledir, ABI $hdr_major.$hdr_minor"

# ---- hello, built out of tree with its Makefile --------------------------------

work=$tmp/work
mkdir -p "$work"
cp -R "$sdkdir/examples/hello" "$work/hello"
make -C "$work/hello" PKG_CONFIG="$pkgconf" >"$tmp/hello-build.log" 2>&1 ||
	{ show "$tmp/hello-build.log"; fail "the installed hello example does not build"; }
hello_so=$work/hello/hello.so
[ -f "$hello_so" ] || fail "make did not produce hello.so"
check_exports "$hello_so"

# ---- modhost-module new, then make and modhost-module build ---------------------

(cd "$work" && "$tool" new demo) >"$tmp/new.log" 2>&1 ||
	{ show "$tmp/new.log"; fail "modhost-module new demo failed"; }
for f in demo.c demo.ini Makefile; do
	[ -f "$work/demo/$f" ] || fail "modhost-module new demo did not write demo/$f"
done
! grep -q NAME "$work/demo/demo.c" "$work/demo/demo.ini" ||
	fail "modhost-module new left NAME placeholders in demo/"
(cd "$work" && "$tool" new demo) >/dev/null 2>&1 &&
	fail "modhost-module new demo overwrote an existing module"
make -C "$work/demo" PKG_CONFIG="$pkgconf" >"$tmp/demo-make.log" 2>&1 ||
	{ show "$tmp/demo-make.log"; fail "make in a new module's folder failed"; }
check_exports "$work/demo/demo.so"
rm -f "$work/demo/demo.so"
(cd "$work/demo" && "$tool" build) >"$tmp/demo-build.log" 2>&1 ||
	{ show "$tmp/demo-build.log"; fail "modhost-module build failed"; }
[ -f "$work/demo/demo.so" ] || fail "modhost-module build did not make demo.so"
check_exports "$work/demo/demo.so"
grep -q -- "-I$incdir" "$tmp/demo-build.log" ||
	{ show "$tmp/demo-build.log"; fail "modhost-module build did not use the installed headers"; }

# ---- info -----------------------------------------------------------------------------

"$tool" info "$hello_so" >"$tmp/info.out" 2>"$tmp/info.err" ||
	{ show "$tmp/info.err"; fail "modhost-module info hello.so failed"; }
grep -q '^name: *hello$' "$tmp/info.out" || { show "$tmp/info.out"; fail "info does not name hello"; }
grep -q 'greeting *string *default "hello"' "$tmp/info.out" ||
	{ show "$tmp/info.out"; fail "info does not list the greeting key with its type and default"; }
grep -q 'roles: *handler' "$tmp/info.out" || { show "$tmp/info.out"; fail "info does not show the handler role"; }
pass "modhost-module info describes hello.so"

# A module that needs a newer host minor is refused with the loader's line.
mkdir -p "$work/newer"
cat >"$work/newer/newer.c" <<'EOF'
#define MH_MODULE_ABI_MINOR 99
#include <modhost.h>
static int newer_handle(mh_module *m, mh_msg *req, mh_msg *reply) { return MH_HANDLE_DONE; }
static const mh_handler_ops newer_ops = { .struct_size = sizeof(mh_handler_ops), .handle = newer_handle };
MH_MODULE_DECLARE(.name = "newer", .roles = MH_ROLE_HANDLER, .handler = &newer_ops);
EOF
(cd "$work/newer" && "$tool" build newer.c) >"$tmp/newer.log" 2>&1 ||
	{ show "$tmp/newer.log"; fail "modhost-module build newer.c failed"; }
"$tool" info "$work/newer/newer.so" >"$tmp/newer.out" 2>"$tmp/newer.err"
rc=$?
[ "$rc" -eq 1 ] || fail "info on a module needing ABI 1.99 exited $rc, expected 1"
[ "$(wc -l <"$tmp/newer.err")" -eq 1 ] && grep -q "needs ABI $hdr_major\.99" "$tmp/newer.err" ||
	{ show "$tmp/newer.err"; fail "info did not print the loader's one-line refusal"; }
pass "modhost-module info refuses a module that needs ABI $hdr_major.99"

# ---- install, enable, disable, usage --------------------------------------------------

"$tool" install "$hello_so" >"$tmp/install-mod.log" 2>&1 ||
	{ show "$tmp/install-mod.log"; fail "modhost-module install failed"; }
[ -f "$moduledir/hello.so" ] || fail "install did not put hello.so in $moduledir"
[ "$(stat -c %a "$moduledir/hello.so")" = 755 ] || fail "installed hello.so is not mode 0755"
cmp -s "$hello_so" "$moduledir/hello.so" || fail "installed hello.so differs from the built one"
[ -z "$(find "$moduledir" -name '.*')" ] || fail "install left a temporary file in $moduledir"
DESTDIR=$tmp/stage "$tool" install "$hello_so" >/dev/null 2>&1 &&
	[ -f "$tmp/stage$moduledir/hello.so" ] || fail "install does not honour DESTDIR"
pass "modhost-module install (and with DESTDIR)"

export MODHOST_CONFDIR=$tmp/etc
"$tool" enable hello >/dev/null 2>&1 || fail "enable hello failed"
grep -q '^\[module hello\]' "$tmp/etc/conf.d/hello.ini" || fail "enable hello wrote no [module hello]"
"$tool" enable hello >/dev/null 2>&1 || fail "enabling an enabled module is not a success"
"$tool" disable hello >/dev/null 2>&1 || fail "disable hello failed"
[ ! -e "$tmp/etc/conf.d/hello.ini" ] || fail "disable hello left conf.d/hello.ini"
"$tool" disable hello >/dev/null 2>"$tmp/disable.err" && fail "disabling a disabled module succeeded"
grep -q 'not enabled' "$tmp/disable.err" || { show "$tmp/disable.err"; fail "disable's error is unclear"; }
"$tool" enable "$hello_so" >/dev/null 2>&1 || fail "enable hello.so failed"
cmp -s "$work/hello/hello.ini" "$tmp/etc/conf.d/hello.ini" ||
	fail "enable FILE.so did not copy the module's own .ini beside it"
"$tool" disable hello >/dev/null 2>&1 || fail "disable hello failed"
unset MODHOST_CONFDIR
pass "modhost-module enable / disable"

"$tool" frobnicate >/dev/null 2>"$tmp/usage.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q '^usage:' "$tmp/usage.err" || fail "an unknown command gave $rc, not usage and 2"
"$tool" --help | grep -q '^usage:' || fail "--help prints no usage"
pass "modhost-module usage"

# ---- the installed daemon serves hello --------------------------------------------

run=$tmp/run
mkdir -p "$run/conf.d"
cat >"$run/modhost.ini" <<EOF
[server]
workers = 0
shutdown_timeout = 5s
module_path = $moduledir

[module hello]
file = $hello_so

[module lenprefix]

[listener h]
listen = 127.0.0.1:0
codec = lenprefix
handler = hello
EOF

"$modhostd" -t -c "$run/modhost.ini" >"$tmp/t.log" 2>&1 ||
	{ show "$tmp/t.log"; fail "modhostd -t rejects the hello configuration"; }
sed 's/^\[module hello\]$/&\nno_such_key = 1/' "$run/modhost.ini" >"$run/bad.ini"
grep -q '^no_such_key' "$run/bad.ini" || fail "could not write $run/bad.ini"
"$modhostd" -t -c "$run/bad.ini" >"$tmp/bad.log" 2>&1 &&
	fail "modhostd -t accepted a key hello does not declare"
grep -q 'no_such_key' "$tmp/bad.log" || { show "$tmp/bad.log"; fail "modhostd -t did not name the unknown key"; }
pass "modhostd -t checks hello's keys"

mkfifo "$tmp/log.fifo" || fail "mkfifo"
"$modhostd" -f -c "$run/modhost.ini" </dev/null >"$tmp/daemon.out" 2>"$tmp/log.fifo" &
daemon_pid=$!
exec 3<"$tmp/log.fifo"
port=""
while IFS= read -r -t 30 line <&3; do
	printf '%s\n' "$line" >>"$tmp/daemon.log"
	if [[ $line =~ listener\ \'h\'\ listening\ on\ 127\.0\.0\.1:([0-9]+) ]]; then
		port=${BASH_REMATCH[1]}
		break
	fi
done
# Keep reading the log so that the daemon never blocks on a full pipe.
cat <&3 >>"$tmp/daemon.log" &
drain_pid=$!
exec 3<&-
[ -n "$port" ] || { show "$tmp/daemon.log"; fail "modhostd did not report listener 'h' listening"; }

reply=$(perl -MIO::Socket::INET -e '
	my ($port, $body) = @ARGV;
	$SIG{ALRM} = sub { die "no reply within 10s\n" };
	alarm 10;
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port,
	                              Proto => "tcp") or die "connect: $@\n";
	binmode $s;
	syswrite($s, pack("N", length $body) . $body) == 4 + length $body
		or die "short write\n";
	sub readn {
		my ($n) = @_;
		my $buf = "";
		while (length $buf < $n) {
			my $r = sysread($s, $buf, $n - length $buf, length $buf);
			die "connection closed after " . length($buf) . " of $n bytes\n" unless $r;
		}
		return $buf;
	}
	my $len = unpack("N", readn(4));
	print readn($len);
' "$port" world) || { show "$tmp/daemon.log"; fail "no lenprefix reply from hello"; }
[ "$reply" = "hello, world" ] || { show "$tmp/daemon.log"; fail "hello replied '$reply', expected 'hello, world'"; }
pass "the installed modhostd runs hello: 'hello, world'"

kill -TERM "$daemon_pid"
# A watchdog, in case the drain never ends; its sleep dies with it.
(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep 30 &
	sleeper=$!
	wait "$sleeper" && kill -KILL "$daemon_pid" 2>/dev/null
) &
watchdog=$!
wait "$daemon_pid"
rc=$?
daemon_pid=""
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
wait "$drain_pid"
drain_pid=""
[ "$rc" -eq 0 ] || { show "$tmp/daemon.log"; fail "modhostd exited $rc after SIGTERM, expected 0"; }
pass "modhostd stopped cleanly on SIGTERM"
exit 0
