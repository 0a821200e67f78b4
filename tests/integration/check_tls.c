/* tests/integration/check_tls.c — the TLS transport of the real modhostd:
 * handshake and echo over lenprefix and line, SNI and ECDSA/RSA side by
 * side, ALPN choosing the codec, TLS 1.1 and renegotiation refused,
 * resumption across workers, every mTLS case, OCSP stapling, bad input
 * (garbage, truncated and stalled handshakes), a 16 MiB echo with a slow
 * reader and bounded memory, certificate reload, `modhostd -t` on bad
 * files, and outbound TLS from a module.  Certificates are made by
 * tests/tls/mkcerts.sh (certtool) once per run; the clients are GnuTLS in
 * this file plus gnutls-cli and openssl s_client. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/ocsp.h>
#include <gnutls/x509.h>

#include "harness.h"

#define IO_MS 10000

/* The certificates of this run (made by the unchecked fixture). */
static char certs[4096];

#define CONF_HEAD(workers)                                                                         \
	"[server]\nworkers = " workers "\nshutdown_timeout = 5s\n"                                 \
	"[log]\nlevel = info\nformat = text\n"

#define MODULES                                                                                    \
	"[module lenprefix]\nmax_frame = 32MiB\n"                                                  \
	"[module line]\nmax_line = 4KiB\n"                                                         \
	"[module echo]\n"                                                                          \
	"[module testhandler]\nfile = %s\n"

/* A path in the certificate folder, in one of 16 rotating buffers. */
static const char *cert(const char *name)
{
	static char bufs[16][4200];
	static unsigned next;
	char *b = bufs[next++ % 16];
	snprintf(b, sizeof(bufs[0]), "%s/%s", certs, name);
	return b;
}

static void certs_make(void)
{
	const char *src = getenv("MH_SRCDIR");
	const char *build = getenv("MH_BUILDDIR");
	char script[4096], cmd[9000];
	snprintf(script, sizeof(script), "%s/tests/tls/mkcerts.sh", src ? src : ".");
	snprintf(certs, sizeof(certs), "%s/tests/tmp/tls-certs.XXXXXX", build ? build : "/tmp");
	if (build) {
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s/tests/tmp'", build);
		if (system(cmd) != 0)
			abort();
	}
	if (!mkdtemp(certs)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s'", script, certs);
	int st = system(cmd);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		exit(77); /* no certtool: skip the whole suite */
	if (st != 0) {
		fprintf(stderr, "mkcerts.sh failed (%d)\n", st);
		exit(1);
	}
}

static void certs_remove(void)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certs);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", certs);
}

/* ---- a GnuTLS client with deadlines --------------------------------------- */

struct tcli {
	int fd;
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	int hs; /* the handshake's result */
};

struct tcli_opts {
	const char *sni;
	const char *alpn;
	const char *cert, *key;       /* client certificate */
	const char *priority;         /* default: NORMAL */
	const gnutls_datum_t *resume; /* session data to resume */
	int ocsp;                     /* ask for a stapled OCSP response */
	int verify;                   /* verify the server's chain against ca.pem */
};

/* Connect to port and handshake; t->hs is 0 or the GnuTLS error. */
static void tcli_open(struct tcli *t, int port, const struct tcli_opts *o)
{
	static const struct tcli_opts none = {0};
	if (!o)
		o = &none;
	memset(t, 0, sizeof(*t));
	t->fd = harness_connect(port);
	harness_assert(t->fd >= 0, "connect to %d: %s", port, strerror(errno));
	gnutls_certificate_allocate_credentials(&t->cred);
	gnutls_certificate_set_x509_trust_file(t->cred, cert("ca.pem"), GNUTLS_X509_FMT_PEM);
	if (o->cert) {
		int r = gnutls_certificate_set_x509_key_file(t->cred, cert(o->cert), cert(o->key),
		                                             GNUTLS_X509_FMT_PEM);
		harness_assert(r >= 0, "client cert %s: %s", o->cert, gnutls_strerror(r));
	}
	gnutls_init(&t->s, GNUTLS_CLIENT);
	int r = gnutls_priority_set_direct(t->s, o->priority ? o->priority : "NORMAL", NULL);
	harness_assert(r >= 0, "priority %s: %s", o->priority, gnutls_strerror(r));
	gnutls_credentials_set(t->s, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (o->sni)
		gnutls_server_name_set(t->s, GNUTLS_NAME_DNS, o->sni, strlen(o->sni));
	if (o->alpn) {
		gnutls_datum_t p = {(unsigned char *)o->alpn, (unsigned)strlen(o->alpn)};
		gnutls_alpn_set_protocols(t->s, &p, 1, 0);
	}
	if (o->resume)
		gnutls_session_set_data(t->s, o->resume->data, o->resume->size);
	if (o->ocsp)
		gnutls_ocsp_status_request_enable_client(t->s, NULL, 0, NULL);
	if (o->verify)
		gnutls_session_set_verify_cert(t->s, NULL, 0);
	gnutls_transport_set_int(t->s, t->fd);
	gnutls_handshake_set_timeout(t->s, IO_MS);
	gnutls_record_set_timeout(t->s, IO_MS);
	do
		t->hs = gnutls_handshake(t->s);
	while (t->hs < 0 && !gnutls_error_is_fatal(t->hs));
}

static struct tcli *tcli_ok(struct tcli *t, int port, const struct tcli_opts *o)
{
	tcli_open(t, port, o);
	harness_assert(t->hs == 0, "handshake with port %d: %s", port, gnutls_strerror(t->hs));
	return t;
}

static void tcli_close(struct tcli *t)
{
	if (t->s)
		gnutls_deinit(t->s);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	if (t->fd >= 0)
		close(t->fd);
	t->s = NULL;
	t->cred = NULL;
	t->fd = -1;
}

static void tcli_send(struct tcli *t, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t r = gnutls_record_send(t->s, p, len);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		harness_assert(r > 0, "TLS send: %s", gnutls_strerror((int)r));
		p += r;
		len -= (size_t)r;
	}
}

/* Receive exactly len bytes; returns 0, or the GnuTLS error (or 1 at EOF). */
static int tcli_recv_exact(struct tcli *t, void *buf, size_t len)
{
	char *p = buf;
	while (len > 0) {
		ssize_t r = gnutls_record_recv(t->s, p, len);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r == 0)
			return 1;
		if (r < 0)
			return (int)r;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* One line (without its '\n') into buf. */
static void tcli_line(struct tcli *t, const char *send, char *buf, size_t cap)
{
	tcli_send(t, send, strlen(send));
	size_t n = 0;
	for (;;) {
		char ch;
		int r = tcli_recv_exact(t, &ch, 1);
		harness_assert(r == 0, "reply to '%s': %s", send,
		               r == 1 ? "EOF" : gnutls_strerror(r));
		if (ch == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = ch;
	}
	buf[n] = '\0';
}

static void tcli_expect_line(struct tcli *t, const char *line)
{
	char got[4096], send[4096];
	snprintf(send, sizeof(send), "%s\n", line);
	tcli_line(t, send, got, sizeof(got));
	harness_assert(strcmp(got, line) == 0, "echo of '%s' came back as '%s'", line, got);
}

static void tcli_echo_frame(struct tcli *t, const void *payload, uint32_t len)
{
	unsigned char hdr[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
	                        (unsigned char)(len >> 8), (unsigned char)len};
	tcli_send(t, hdr, 4);
	tcli_send(t, payload, len);
	unsigned char rh[4];
	int r = tcli_recv_exact(t, rh, 4);
	harness_assert(r == 0, "frame header: %s", r == 1 ? "EOF" : gnutls_strerror(r));
	uint32_t n = (uint32_t)rh[0] << 24 | rh[1] << 16 | rh[2] << 8 | rh[3];
	harness_assert(n == len, "frame of %u bytes, expected %u", n, len);
	char *got = malloc(n + 1);
	r = tcli_recv_exact(t, got, n);
	harness_assert(r == 0 && memcmp(got, payload, n) == 0, "frame payload differs");
	free(got);
}

/* The subject DN of the server's certificate. */
static void tcli_server_dn(struct tcli *t, char *dn, size_t len)
{
	unsigned n = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(t->s, &n);
	gnutls_x509_crt_t crt;
	harness_assert(chain && n > 0, "the server sent no certificate");
	gnutls_x509_crt_init(&crt);
	gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER);
	size_t size = len;
	gnutls_x509_crt_get_dn(crt, dn, &size);
	gnutls_x509_crt_deinit(crt);
}

/* "whoami" to the testhandler (line codec). */
static void tcli_whoami(struct tcli *t, char *buf, size_t cap)
{
	tcli_line(t, "whoami\n", buf, cap);
}

/* The value of "key=" in a whoami reply, into out. */
static const char *field(const char *reply, const char *key, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "%s=", key);
	const char *p = strstr(reply, pat);
	out[0] = '\0';
	if (!p)
		return out;
	p += strlen(pat);
	size_t n = strcspn(p, " ");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return out;
}

/* Run a command line through sh with stdin from a string; returns the exit
 * status and the combined output in *out (free it). */
static int run_sh(const char *cmd, char **out)
{
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	int st = harness_run(argv, out, 30000);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int have(const char *tool)
{
	char cmd[256], *out;
	snprintf(cmd, sizeof(cmd), "command -v %s", tool);
	int r = run_sh(cmd, &out);
	free(out);
	return r == 0;
}

/* A TLS listener's lines: name, codec, handler, then more key lines. */
#define TLS_LISTENER(name, codec, handler, more)                                                   \
	"[listener " name "]\nlisten = 127.0.0.1:0\ncodec = " codec "\nhandler = " handler         \
	"\ntls = on\n" more

/* ---- handshake and echo ------------------------------------------------------- */

START_TEST(test_echo_over_lenprefix_and_line_and_close_notify)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1")
	        MODULES TLS_LISTENER("frames", "lenprefix", "echo", "tls_certificate = %s %s\n")
	            TLS_LISTENER("lines", "line", "echo", "tls_certificate = %s %s\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"),
	    cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	struct tcli t;
	tcli_ok(&t, harness_port(d, "frames"), &(struct tcli_opts){.verify = 1});
	tcli_echo_frame(&t, "hello", 5);
	tcli_echo_frame(&t, "", 0);
	unsigned char big[100000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 7 + i / 1000);
	tcli_echo_frame(&t, big, sizeof(big));
	/* A TLS 1.3 KeyUpdate asking the server to update too: the server
	 * answers with its own KeyUpdate (a write caused by a read) and the
	 * echo goes on under the new keys. */
	int ku = gnutls_session_key_update(t.s, GNUTLS_KU_PEER);
	harness_assert(ku == 0, "key update: %s", gnutls_strerror(ku));
	tcli_echo_frame(&t, "after key update", 16);
	tcli_echo_frame(&t, big, sizeof(big));
	/* Our close_notify is answered with the server's, not a bare close. */
	harness_assert(gnutls_bye(t.s, GNUTLS_SHUT_WR) == 0, "bye");
	char c;
	int r = tcli_recv_exact(&t, &c, 1);
	harness_assert(r == 1, "after close_notify: %s (expected the server's close_notify)",
	               r < 0 ? gnutls_strerror(r) : "data");
	tcli_close(&t);

	tcli_ok(&t, harness_port(d, "lines"), NULL);
	tcli_expect_line(&t, "hello over TLS");
	/* Pipelined lines in one record come back in order. */
	tcli_send(&t, "one\ntwo\nthree\n", 14);
	char line[64];
	for (int i = 0; i < 3; i++) {
		static const char *const want[] = {"one", "two", "three"};
		size_t n = 0;
		char ch;
		while (tcli_recv_exact(&t, &ch, 1) == 0 && ch != '\n' && n < sizeof(line) - 1)
			line[n++] = ch;
		line[n] = '\0';
		harness_assert(strcmp(line, want[i]) == 0, "pipelined line %d: '%s'", i, line);
	}
	tcli_close(&t);

	/* gnutls-cli as a real client, verifying the chain and the name. */
	char cmd[8192], *out;
	snprintf(cmd, sizeof(cmd),
	         "printf 'ping from gnutls-cli\\n' | timeout 20 gnutls-cli --x509cafile '%s' -p %d "
	         "localhost 2>&1",
	         cert("ca.pem"), harness_port(d, "lines"));
	int st = run_sh(cmd, &out);
	harness_assert(strstr(out, "ping from gnutls-cli") != NULL, "gnutls-cli (%d): %s", st, out);
	free(out);
	if (have("openssl")) {
		snprintf(
		    cmd, sizeof(cmd),
		    "(printf 'ping from openssl\\n'; sleep 1) | timeout 20 openssl s_client -quiet "
		    "-verify_return_error -CAfile '%s' -connect 127.0.0.1:%d -servername localhost "
		    "2>&1",
		    cert("ca.pem"), harness_port(d, "lines"));
		st = run_sh(cmd, &out);
		harness_assert(strstr(out, "ping from openssl") != NULL, "openssl (%d): %s", st,
		               out);
		free(out);
	}
}
END_TEST

START_TEST(test_sni_and_ecdsa_rsa_side_by_side)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER("t", "line", "testhandler",
	                                        "tls_certificate = %s %s, %s %s, %s %s\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"),
	    cert("server-rsa.pem"), cert("server-rsa.key"), cert("server-other.pem"),
	    cert("server-other.key"));
	int port = harness_port(d, "t");
	struct tcli t;
	char dn[512], who[1024], v[256];

	tcli_ok(&t, port, &(struct tcli_opts){.sni = "other.test", .verify = 1});
	tcli_server_dn(&t, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=other.test") != NULL, "SNI other.test got '%s'", dn);
	tcli_whoami(&t, who, sizeof(who));
	harness_assert(strcmp(field(who, "sni", v, sizeof(v)), "other.test") == 0, "whoami: %s",
	               who);
	tcli_close(&t);

	tcli_ok(&t, port, &(struct tcli_opts){.sni = "localhost"});
	tcli_server_dn(&t, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=localhost") != NULL, "SNI localhost got '%s'", dn);
	tcli_close(&t);

	/* No SNI, or a name no certificate has: the first (default) one. */
	tcli_ok(&t, port, NULL);
	tcli_server_dn(&t, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=localhost") != NULL, "no SNI got '%s'", dn);
	tcli_close(&t);
	tcli_ok(&t, port, &(struct tcli_opts){.sni = "unknown.test"});
	tcli_server_dn(&t, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=localhost") != NULL, "unknown SNI got '%s'", dn);
	tcli_close(&t);

	/* A client that only takes RSA signatures gets the RSA certificate,
	 * one that takes ECDSA gets the ECDSA one, for the same name. */
	const char *rsa_only = "NORMAL:-SIGN-ALL:+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-SHA256";
	tcli_ok(&t, port,
	        &(struct tcli_opts){.sni = "localhost", .priority = rsa_only, .verify = 1});
	unsigned n;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(t.s, &n);
	gnutls_x509_crt_t crt;
	gnutls_x509_crt_init(&crt);
	gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER);
	int pk = gnutls_x509_crt_get_pk_algorithm(crt, NULL);
	gnutls_x509_crt_deinit(crt);
	harness_assert(pk == GNUTLS_PK_RSA, "RSA-only client got a %s certificate",
	               gnutls_pk_get_name(pk));
	tcli_close(&t);
	tcli_ok(&t, port, &(struct tcli_opts){.sni = "localhost"});
	chain = gnutls_certificate_get_peers(t.s, &n);
	gnutls_x509_crt_init(&crt);
	gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER);
	pk = gnutls_x509_crt_get_pk_algorithm(crt, NULL);
	gnutls_x509_crt_deinit(crt);
	harness_assert(pk == GNUTLS_PK_ECDSA, "default client got a %s certificate",
	               gnutls_pk_get_name(pk));
	tcli_close(&t);

	if (have("openssl")) {
		char cmd[8192], *out;
		snprintf(
		    cmd, sizeof(cmd),
		    "timeout 20 openssl s_client -CAfile '%s' -connect 127.0.0.1:%d -servername "
		    "other.test </dev/null 2>&1",
		    cert("ca.pem"), port);
		run_sh(cmd, &out);
		harness_assert(strstr(out, "CN = other.test") != NULL, "openssl SNI: %s", out);
		free(out);
	}
}
END_TEST

START_TEST(test_alpn_selects_the_codec)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER(
	        "t", "line", "testhandler",
	        "tls_certificate = %s %s\ntls_alpn = x-frames:lenprefix, x-lines:line\n")
	        TLS_LISTENER(
	            "strict", "line", "testhandler",
	            "tls_certificate = %s %s\ntls_alpn = x-lines:line\ntls_alpn_required = yes\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"),
	    cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	int port = harness_port(d, "t");
	struct tcli t;
	char who[1024], v[128];

	/* x-frames: lenprefix framing on a listener whose own codec is line. */
	tcli_ok(&t, port, &(struct tcli_opts){.alpn = "x-frames"});
	tcli_echo_frame(&t, "framed", 6);
	tcli_echo_frame(&t, "whoami-not", 10);
	tcli_close(&t);

	tcli_ok(&t, port, &(struct tcli_opts){.alpn = "x-lines"});
	tcli_whoami(&t, who, sizeof(who));
	harness_assert(strcmp(field(who, "alpn", v, sizeof(v)), "x-lines") == 0, "whoami: %s", who);
	tcli_close(&t);

	/* No ALPN, or one the listener does not speak: the listener's codec. */
	tcli_ok(&t, port, NULL);
	tcli_whoami(&t, who, sizeof(who));
	harness_assert(strcmp(field(who, "alpn", v, sizeof(v)), "-") == 0, "whoami: %s", who);
	tcli_close(&t);
	tcli_ok(&t, port, &(struct tcli_opts){.alpn = "h2"});
	tcli_expect_line(&t, "line codec");
	tcli_close(&t);

	/* tls_alpn_required: no ALPN, or no id in common, is refused. */
	int strict = harness_port(d, "strict");
	size_t at = harness_log_size(d);
	tcli_open(&t, strict, NULL);
	int ok = t.hs == 0;
	if (ok) { /* GnuTLS clients see the alert at their first read */
		char c;
		gnutls_record_send(t.s, "x\n", 2);
		ok = tcli_recv_exact(&t, &c, 1) == 0;
	}
	harness_assert(!ok, "a client without ALPN was served on an alpn_required listener");
	tcli_close(&t);
	harness_wait_log(d, at,
	                 "listener 'strict': TLS handshake with .* failed: no ALPN protocol");
	at = harness_log_size(d);
	tcli_open(&t, strict, &(struct tcli_opts){.alpn = "h2"});
	ok = t.hs == 0;
	if (ok) {
		char c;
		gnutls_record_send(t.s, "x\n", 2);
		ok = tcli_recv_exact(&t, &c, 1) == 0;
	}
	harness_assert(!ok, "an unknown ALPN id was served on an alpn_required listener");
	tcli_close(&t);
	harness_wait_log(d, at,
	                 "listener 'strict': TLS handshake with .* failed: no ALPN protocol");
	tcli_ok(&t, strict, &(struct tcli_opts){.alpn = "x-lines"});
	tcli_expect_line(&t, "strict ok");
	tcli_close(&t);
}
END_TEST

/* ---- refused versions and renegotiation ------------------------------------------ */

START_TEST(test_tls11_and_renegotiation_refused)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER("t", "line", "echo", "tls_certificate = %s %s\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	int port = harness_port(d, "t");
	struct tcli t;

	size_t at = harness_log_size(d);
	tcli_open(&t, port,
	          &(struct tcli_opts){.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0"});
	harness_assert(t.hs != 0, "a TLS 1.1 client was accepted");
	tcli_close(&t);
	harness_wait_log(d, at,
	                 "TLS handshake with 127\\.0\\.0\\.1:[0-9]+ failed: the client offers no "
	                 "TLS version this listener accepts");

	char cmd[8192], *out;
	snprintf(cmd, sizeof(cmd),
	         "timeout 20 gnutls-cli --priority NORMAL:-VERS-ALL:+VERS-TLS1.1 --x509cafile '%s' "
	         "-p %d localhost </dev/null 2>&1",
	         cert("ca.pem"), port);
	int st = run_sh(cmd, &out);
	harness_assert(st != 0 &&
	                   (strstr(out, "protocol version") || strstr(out, "Handshake has failed")),
	               "gnutls-cli TLS 1.1 (%d): %s", st, out);
	free(out);

	/* TLS 1.2 then a client-initiated renegotiation: refused, closed. */
	at = harness_log_size(d);
	tcli_ok(&t, port, &(struct tcli_opts){.priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2"});
	tcli_expect_line(&t, "before renegotiation");
	int r;
	do
		r = gnutls_handshake(t.s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	harness_assert(r < 0, "the server renegotiated");
	tcli_close(&t);
	harness_wait_log(d, at, "asked to renegotiate: refused, closing");

	if (have("openssl")) {
		snprintf(
		    cmd, sizeof(cmd),
		    "(printf 'R\\n'; sleep 2) | timeout 20 openssl s_client -tls1_2 -CAfile '%s' "
		    "-connect 127.0.0.1:%d 2>&1",
		    cert("ca.pem"), port);
		run_sh(cmd, &out);
		harness_assert(strstr(out, "RENEGOTIATING") && strstr(out, "no renegotiation"),
		               "openssl renegotiation: %s", out);
		free(out);
	}
	/* The worker still serves. */
	tcli_ok(&t, port, NULL);
	tcli_expect_line(&t, "still here");
	tcli_close(&t);
}
END_TEST

/* ---- resumption ------------------------------------------------------------------- */

START_TEST(test_resumption_across_workers)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("2")
	        MODULES TLS_LISTENER("t", "line", "testhandler", "tls_certificate = %s %s\n")
	            TLS_LISTENER("off", "line", "testhandler",
	                         "tls_certificate = %s %s\ntls_tickets = off\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"),
	    cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	pid_t workers[2];
	harness_wait_workers(d, 2, workers);
	int port = harness_port(d, "t");
	char who[1024], w1[16], w2[16];
	for (const char *vers = "TLS1.3"; vers;
	     vers = strcmp(vers, "TLS1.3") == 0 ? "TLS1.2" : NULL) {
		char prio[128];
		snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-%s", vers);
		struct tcli a, b;
		tcli_ok(&a, port, &(struct tcli_opts){.priority = prio});
		tcli_whoami(&a, who, sizeof(who)); /* also receives the TLS 1.3 tickets */
		field(who, "worker", w1, sizeof(w1));
		gnutls_datum_t data;
		harness_assert(gnutls_session_get_data2(a.s, &data) == 0, "no session data");
		/* Block a's worker: the next connection can only be accepted by
		 * the other one. */
		size_t at = harness_log_size(d);
		tcli_send(&a, "block:1500:x\n", 13);
		harness_wait_log(d, at, "blocking 1500ms");
		tcli_ok(&b, port, &(struct tcli_opts){.priority = prio, .resume = &data});
		tcli_whoami(&b, who, sizeof(who));
		field(who, "worker", w2, sizeof(w2));
		harness_assert(strcmp(w1, w2) != 0, "%s: both connections on worker %s", vers, w1);
		harness_assert(gnutls_session_is_resumed(b.s),
		               "%s: not resumed on worker %s (made on %s)", vers, w2, w1);
		gnutls_free(data.data);
		tcli_close(&b);
		tcli_close(&a);
	}
	/* gnutls-cli --resume, the real client. */
	char cmd[8192], *out;
	snprintf(cmd, sizeof(cmd),
	         "timeout 20 gnutls-cli --resume --x509cafile '%s' -p %d localhost </dev/null 2>&1",
	         cert("ca.pem"), port);
	run_sh(cmd, &out);
	harness_assert(strstr(out, "This is a resumed session"), "gnutls-cli --resume: %s", out);
	free(out);
	/* tls_tickets = off: a full handshake every time. */
	snprintf(cmd, sizeof(cmd),
	         "timeout 20 gnutls-cli --resume --x509cafile '%s' -p %d localhost </dev/null 2>&1",
	         cert("ca.pem"), harness_port(d, "off"));
	run_sh(cmd, &out);
	harness_assert(strstr(out, "This is a resumed session") == NULL &&
	                   strstr(out, "Handshake was completed"),
	               "tickets off: %s", out);
	free(out);
}
END_TEST

/* ---- mTLS ----------------------------------------------------------------------------- */

/* Connect with a client certificate (NULL: none) and say whether the
 * server served us; whoami goes into who. */
static int mtls_try(struct harness_daemon *d, int port, const char *crt, const char *key, char *who,
                    size_t cap)
{
	struct tcli t;
	tcli_open(&t, port, &(struct tcli_opts){.cert = crt, .key = key});
	int ok = 0;
	if (t.hs == 0) {
		/* TLS 1.3: the server checks the certificate after our Finished;
		 * a refusal shows at the first read, or already at this send
		 * when the server's alert and close arrive first. */
		ssize_t r;
		do
			r = gnutls_record_send(t.s, "whoami\n", 7);
		while (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
		if (r != 7) {
			tcli_close(&t);
			return 0;
		}
		size_t n = 0;
		char ch;
		while (n + 1 < cap && tcli_recv_exact(&t, &ch, 1) == 0 && ch != '\n')
			who[n++] = ch;
		who[n] = '\0';
		ok = ch == '\n' && n > 0;
	}
	(void)d;
	tcli_close(&t);
	return ok;
}

START_TEST(test_mtls_require_and_optional)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER(
	        "req", "line", "testhandler",
	        "tls_certificate = %s %s\ntls_client_ca = %s\ntls_client_crl = %s\n"
	        "tls_verify_client = require\n")
	        TLS_LISTENER(
	            "opt", "line", "testhandler",
	            "tls_certificate = %s %s\ntls_client_ca = %s\ntls_verify_client = optional\n")
	            TLS_LISTENER("off", "line", "testhandler", "tls_certificate = %s %s\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"),
	    cert("ca.pem"), cert("crl.pem"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"),
	    cert("ca.pem"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	int req = harness_port(d, "req"), opt = harness_port(d, "opt"),
	    off = harness_port(d, "off");
	char who[2048], v[512];

	/* require: the good certificate, with its identity for modules and logs. */
	size_t at = harness_log_size(d);
	harness_assert(mtls_try(d, req, "client.pem", "client.key", who, sizeof(who)),
	               "good client certificate refused");
	harness_assert(strcmp(field(who, "verified", v, sizeof(v)), "1") == 0, "whoami: %s", who);
	harness_assert(strstr(field(who, "subject", v, sizeof(v)), "CN=client1"), "whoami: %s",
	               who);
	harness_assert(strlen(field(who, "sha256", v, sizeof(v))) == 64, "whoami: %s", who);
	harness_assert(strstr(field(who, "san", v, sizeof(v)), "email:client1@example.test"),
	               "whoami: %s", who);
	harness_wait_log(d, at,
	                 "listener 'req': 127\\.0\\.0\\.1:[0-9]+ authenticated by client "
	                 "certificate '.*CN=client1.*' \\(sha256 [0-9a-f]{64}\\)");

	struct {
		const char *crt, *key, *log;
	} refused[] = {
	    {NULL, NULL, "no client certificate"},
	    {"client-expired.pem", "client-expired.key", "client-expired' refused: .*expired"},
	    /* A GnuTLS client sends no certificate the server's CA list does
	     * not name: the server sees none (openssl sends it, below). */
	    {"client-otherca.pem", "client-otherca.key", "no client certificate"},
	    {"client-revoked.pem", "client-revoked.key", "client-revoked' refused: .*revoked"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		at = harness_log_size(d);
		harness_assert(!mtls_try(d, req, refused[i].crt, refused[i].key, who, sizeof(who)),
		               "%s accepted with tls_verify_client = require (%s)",
		               refused[i].crt ? refused[i].crt : "no certificate", who);
		char re[256];
		snprintf(re, sizeof(re), "listener 'req': TLS handshake with .* failed: .*%s",
		         refused[i].log);
		harness_wait_log(d, at, re);
	}

	if (have("openssl")) {
		char cmd[9000], *out;
		at = harness_log_size(d);
		snprintf(
		    cmd, sizeof(cmd),
		    "(printf 'whoami\\n'; sleep 1) | timeout 20 openssl s_client -quiet -cert '%s' "
		    "-key '%s' -connect 127.0.0.1:%d 2>&1",
		    cert("client-otherca.pem"), cert("client-otherca.key"), req);
		run_sh(cmd, &out);
		harness_assert(strstr(out, "worker=") == NULL, "other CA served: %s", out);
		free(out);
		harness_wait_log(d, at, "client-otherca' refused: .*(not trusted|issuer)");
	}

	/* optional: none is fine (anonymous), a good one verifies, a bad one
	 * is still refused. */
	harness_assert(mtls_try(d, opt, NULL, NULL, who, sizeof(who)),
	               "anonymous refused (optional)");
	harness_assert(strcmp(field(who, "verified", v, sizeof(v)), "0") == 0 &&
	                   strcmp(field(who, "subject", v, sizeof(v)), "-") == 0,
	               "whoami: %s", who);
	harness_assert(mtls_try(d, opt, "client.pem", "client.key", who, sizeof(who)),
	               "good certificate refused (optional)");
	harness_assert(strcmp(field(who, "verified", v, sizeof(v)), "1") == 0, "whoami: %s", who);
	harness_assert(
	    !mtls_try(d, opt, "client-expired.pem", "client-expired.key", who, sizeof(who)),
	    "expired certificate accepted (optional)");
	/* off: not asked for; a certificate is not even sent. */
	harness_assert(mtls_try(d, off, "client.pem", "client.key", who, sizeof(who)),
	               "off refused");
	harness_assert(strcmp(field(who, "subject", v, sizeof(v)), "-") == 0, "whoami: %s", who);
}
END_TEST

/* ---- OCSP stapling ------------------------------------------------------------------- */

START_TEST(test_ocsp_response_is_stapled)
{
	if (access(cert("ocsp-ecdsa.der"), R_OK) != 0)
		return; /* no openssl to sign one: mkcerts.sh made none */
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER(
	        "t", "line", "echo", "tls_certificate = %s %s\ntls_ocsp_response = %s\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"),
	    cert("ocsp-ecdsa.der"));
	struct tcli t;
	tcli_ok(&t, harness_port(d, "t"), &(struct tcli_opts){.ocsp = 1, .verify = 1});
	gnutls_datum_t resp;
	int r = gnutls_ocsp_status_request_get(t.s, &resp);
	harness_assert(r == 0 && resp.size > 0, "no stapled OCSP response: %s", gnutls_strerror(r));
	harness_assert(gnutls_ocsp_status_request_is_checked(t.s, 0),
	               "the OCSP response did not verify");
	tcli_close(&t);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------ */

START_TEST(test_garbage_truncated_and_stalled_handshakes)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER(
	        "t", "line", "echo", "tls_certificate = %s %s\ntls_handshake_timeout = 500ms\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	int port = harness_port(d, "t");

	/* Plaintext instead of a ClientHello. */
	size_t at = harness_log_size(d);
	int fd = harness_connect(port);
	harness_send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, IO_MS);
	int r = harness_wait_closed(fd, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "garbage: %s", harness_io_name(r));
	close(fd);
	harness_wait_log(d, at, "failed: not a TLS ClientHello \\(first byte 0x47 'G'");

	/* A ClientHello cut short, then the client leaves. */
	at = harness_log_size(d);
	fd = harness_connect(port);
	static const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00,
	                                        0x01, 0xfc, 0x03, 0x03, 0xaa, 0xbb};
	harness_send_all(fd, partial, sizeof(partial), IO_MS);
	harness_close_reset(fd);
	harness_wait_log(d, at, "failed: the client closed the connection mid-handshake");

	/* A client that stalls mid-handshake is closed at the timeout. */
	at = harness_log_size(d);
	uint64_t t0 = harness_now_ms();
	fd = harness_connect(port);
	harness_send_all(fd, partial, sizeof(partial), IO_MS);
	r = harness_wait_closed(fd, IO_MS, NULL);
	uint64_t took = harness_now_ms() - t0;
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "stalled: %s", harness_io_name(r));
	harness_assert(took >= 450 && took < 5000, "stalled client closed after %llums",
	               (unsigned long long)took);
	close(fd);
	harness_wait_log(d, at, "TLS handshake with .* timed out after 500ms");
	/* And one that sends nothing at all. */
	at = harness_log_size(d);
	fd = harness_connect(port);
	r = harness_wait_closed(fd, IO_MS, NULL);
	harness_assert(r == HARNESS_EOF || r == HARNESS_RESET, "silent: %s", harness_io_name(r));
	close(fd);
	harness_wait_log(d, at, "timed out after 500ms \\(0 bytes received\\)");

	/* Nothing of this stuck the worker. */
	struct tcli t;
	tcli_ok(&t, port, NULL);
	tcli_expect_line(&t, "fine");
	tcli_close(&t);
}
END_TEST

/* ---- big payloads and backpressure --------------------------------------------------- */

static long worker_rss(struct harness_daemon *d)
{
	pid_t w;
	harness_wait_workers(d, 1, &w);
	return harness_rss_kib(w);
}

START_TEST(test_16mib_echo_slow_reader_bounded_memory)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1")
	        MODULES TLS_LISTENER("t", "lenprefix", "echo", "tls_certificate = %s %s\n"),
	    harness_test_module("testhandler"), cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	int port = harness_port(d, "t");
	const uint32_t big = 16u << 20;
	unsigned char *payload = malloc(big), *got = malloc(big);
	for (uint32_t i = 0; i < big; i++)
		payload[i] = (unsigned char)(i * 131 + (i >> 12));
	struct tcli t;

	/* 16 MiB of pipelined 16 KiB frames from a client that does not read:
	 * the server stops reading above output_high_water, so its memory
	 * stays near the water mark (plus a record), not near 16 MiB.  What
	 * it did not read waits in the kernel's socket buffers. */
	tcli_ok(&t, port, NULL);
	long before = worker_rss(d);
	int fl = fcntl(t.fd, F_GETFL);
	fcntl(t.fd, F_SETFL, fl | O_NONBLOCK);
	size_t frame = 16384, sent = 0, total = 16u << 20;
	unsigned char *fr = malloc(frame + 4);
	fr[0] = 0, fr[1] = 0, fr[2] = (unsigned char)(frame >> 8), fr[3] = (unsigned char)frame;
	memcpy(fr + 4, payload, frame);
	uint64_t deadline = harness_now_ms() + 3000;
	int pending = 0; /* GnuTLS holds a record after E_AGAIN: retry with NULL */
	size_t off = 0;  /* into the frame: a record takes at most 16 KiB */
	while (sent < total && harness_now_ms() < deadline) {
		ssize_t r = pending ? gnutls_record_send(t.s, NULL, 0)
		                    : gnutls_record_send(t.s, fr + off, frame + 4 - off);
		if (r == GNUTLS_E_AGAIN) {
			pending = 1;
			poll(&(struct pollfd){.fd = t.fd, .events = POLLOUT}, 1, 50);
			continue;
		}
		harness_assert(r > 0, "pipelined send: %s", gnutls_strerror((int)r));
		pending = 0;
		sent += (size_t)r;
		off = (off + (size_t)r) % (frame + 4);
	}
	long stuck = worker_rss(d);
	harness_assert(sent < total, "the server took all 16 MiB from a client that never read");
	if (!harness_sanitized())
		harness_assert(
		    stuck - before < 4 * 1024,
		    "worker RSS grew by %ld KiB with a non-reading client (%zu bytes sent)",
		    stuck - before, sent);
	free(fr);
	tcli_close(&t);

	/* One 16 MiB frame, read back slowly (16 KiB at a time, pausing). */
	tcli_ok(&t, port, NULL);
	long base = worker_rss(d);
	unsigned char hdr[4] = {(unsigned char)(big >> 24), (unsigned char)(big >> 16),
	                        (unsigned char)(big >> 8), (unsigned char)big};
	tcli_send(&t, hdr, 4);
	tcli_send(&t, payload, big);
	unsigned char rh[4];
	harness_assert(tcli_recv_exact(&t, rh, 4) == 0, "reply header");
	harness_assert(
	    ((uint32_t)rh[0] << 24 | (uint32_t)rh[1] << 16 | (uint32_t)rh[2] << 8 | rh[3]) == big,
	    "reply length");
	long peak = 0;
	for (uint32_t at = 0; at < big;) {
		uint32_t n = big - at < 16384 ? big - at : 16384;
		harness_assert(tcli_recv_exact(&t, got + at, n) == 0, "payload at %u", at);
		at += n;
		if (at % (256u << 10) == 0) {
			long rss = worker_rss(d);
			peak = rss > peak ? rss : peak;
			poll(NULL, 0, 2); /* a slow reader, not a synchronisation */
		}
	}
	harness_assert(memcmp(got, payload, big) == 0, "16 MiB came back different");
	/* The frame is buffered whole on the way in and out: allow 3x. */
	if (!harness_sanitized())
		harness_assert(peak - base < 3 * 16 * 1024,
		               "worker RSS grew by %ld KiB for a 16 MiB echo", peak - base);
	free(payload);
	free(got);
	tcli_close(&t);
}
END_TEST

/* ---- reload ---------------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
	char cmd[9000], *out;
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.tmp' && mv '%s.tmp' '%s'", from, to, to, to);
	harness_assert(run_sh(cmd, &out) == 0, "copy %s: %s", from, out);
	free(out);
}

START_TEST(test_reload_new_certificate_keeps_established)
{
	char *crt = harness_tmpfile("server.pem"), *key = harness_tmpfile("server.key");
	copy_file(cert("server-ecdsa.pem"), crt);
	copy_file(cert("server-ecdsa.key"), key);
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER("t", "line", "echo", "tls_certificate = %s %s\n"),
	    harness_test_module("testhandler"), crt, key);
	int port = harness_port(d, "t");
	struct tcli old, t;
	char dn[512];
	tcli_ok(&old, port, NULL);
	tcli_server_dn(&old, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=localhost,") || strcmp(dn, "CN=localhost") == 0, "dn %s", dn);

	copy_file(cert("server-new.pem"), crt);
	copy_file(cert("server-new.key"), key);
	size_t at = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, at, "generation 2 ready");
	tcli_ok(&t, port, NULL);
	tcli_server_dn(&t, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=localhost-renewed"), "after reload the server sent '%s'", dn);
	tcli_expect_line(&t, "new");
	tcli_close(&t);
	/* The connection made before the reload goes on, on its old session. */
	tcli_expect_line(&old, "established before the reload");

	/* A key that does not match: the reload fails and generation 2 serves. */
	harness_expect_errors(d, "reload failed: .*the private key does not match the certificate");
	copy_file(cert("server-other.key"), key);
	at = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, at,
	                 "reload failed: .*tls_certificate: cannot load .* the private key does "
	                 "not match the certificate; generation 2 keeps serving");
	tcli_ok(&t, port, NULL);
	tcli_server_dn(&t, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=localhost-renewed"), "after a failed reload: '%s'", dn);
	tcli_close(&t);
	tcli_close(&old);
	free(crt);
	free(key);
}
END_TEST

/* modhostd -t on a configuration whose TLS files are bad. */
static void check_t_fails(const char *listener_lines, const char *want)
{
	char *conf = harness_tmpfile("check.ini"), *out;
	harness_write_file(conf,
	                   CONF_HEAD("1") MODULES "[listener t]\nlisten = 127.0.0.1:0\n"
	                                          "codec = line\nhandler = echo\ntls = on\n%s",
	                   harness_test_module("testhandler"), listener_lines);
	char *argv[] = {(char *)harness_env("MODHOSTD"), "-t", "-c", conf, NULL};
	int st = harness_run(argv, &out, 20000);
	harness_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "modhostd -t: %d: %s", st,
	               out);
	harness_assert(strstr(out, want), "modhostd -t said '%s', expected '%s'", out, want);
	free(out);
	free(conf);
}

START_TEST(test_check_reports_bad_tls_files)
{
	char lines[9000];
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\n", cert("server-ecdsa.pem"),
	         cert("server-other.key"));
	check_t_fails(lines, "the private key does not match the certificate");
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\n", cert("missing.pem"),
	         cert("server-ecdsa.key"));
	check_t_fails(lines, "missing.pem: No such file or directory");
	snprintf(lines, sizeof(lines),
	         "tls_certificate = %s %s\ntls_client_ca = %s\ntls_client_crl = %s\n"
	         "tls_verify_client = require\n",
	         cert("server-ecdsa.pem"), cert("server-ecdsa.key"), cert("ca.pem"),
	         cert("nocrl.pem"));
	check_t_fails(lines, "tls_client_crl: cannot load");
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\ntls_priority = NORMAL:+BOGUS\n",
	         cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	check_t_fails(lines, "bad tls_priority");
	check_t_fails("", "tls = on needs tls_certificate");
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\ntls_alpn = x:nosuch\n",
	         cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	check_t_fails(lines, "tls_alpn 'nosuch' is not a configured module");
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\ntls_verify_client = require\n",
	         cert("server-ecdsa.pem"), cert("server-ecdsa.key"));
	check_t_fails(lines, "tls_verify_client needs tls_client_ca");
	if (access(cert("ocsp-ecdsa.der"), R_OK) == 0) {
		snprintf(lines, sizeof(lines), "tls_certificate = %s %s\ntls_ocsp_response = %s\n",
		         cert("server-other.pem"), cert("server-other.key"),
		         cert("ocsp-ecdsa.der"));
		check_t_fails(lines, "is for none of the certificates");
	}
}
END_TEST

/* ---- outbound TLS from a module ----------------------------------------------------- */

START_TEST(test_outbound_tls_verifies_chain_and_name)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES
	    "[module outprobe]\nfile = %s\n"
	    "[listener probe]\nlisten = 127.0.0.1:0\ncodec = line\nhandler = outprobe\n"
	    "[listener plain]\nlisten = 127.0.0.1:0\ncodec = line\nhandler = echo\n" TLS_LISTENER(
	        "target", "line", "echo", "tls_certificate = %s %s\n")
	        TLS_LISTENER("mtls", "line", "echo",
	                     "tls_certificate = %s %s\ntls_client_ca = %s\n"
	                     "tls_verify_client = require\n"),
	    harness_test_module("testhandler"), harness_test_module("outprobe"),
	    cert("server-ecdsa.pem"), cert("server-ecdsa.key"), cert("server-ecdsa.pem"),
	    cert("server-ecdsa.key"), cert("ca.pem"));
	int probe = harness_port(d, "probe"), target = harness_port(d, "target"),
	    mtls = harness_port(d, "mtls"), plain = harness_port(d, "plain");
	int fd = harness_connect(probe);
	char req[9000], line[2048];
	struct {
		int port;
		const char *name, *ca, *cert, *key, *want;
	} cases[] = {
	    {target, "localhost", cert("ca.pem"), NULL, NULL, "ok ping subject=CN=localhost"},
	    {target, "127.0.0.1", cert("ca.pem"), NULL, NULL, "ok ping subject=CN=localhost"},
	    {target, "other.test", cert("ca.pem"), NULL, NULL,
	     "error TLS: the certificate of other.test did not verify: "},
	    {target, "localhost", cert("ca2.pem"), NULL, NULL,
	     "error TLS: the certificate of localhost "
	     "did not verify: "},
	    {mtls, "localhost", cert("ca.pem"), cert("client.pem"), cert("client.key"),
	     "ok ping subject=CN=localhost"},
	    {mtls, "localhost", cert("ca.pem"), NULL, NULL, "error "},
	    {plain, "-", "plain", NULL, NULL, "ok ping subject=-"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), "127.0.0.1 %d %s %s%s%s%s%s\n", cases[i].port,
		         cases[i].name, cases[i].ca, cases[i].cert ? " " : "",
		         cases[i].cert ? cases[i].cert : "", cases[i].key ? " " : "",
		         cases[i].key ? cases[i].key : "");
		harness_send_all(fd, req, strlen(req), IO_MS);
		int r = harness_recv_line(fd, line, sizeof(line), IO_MS);
		harness_assert(r == HARNESS_OK, "probe %zu: %s", i, harness_io_name(r));
		harness_assert(strncmp(line, cases[i].want, strlen(cases[i].want)) == 0,
		               "probe %zu (%s): '%s', expected '%s...'", i, req, line,
		               cases[i].want);
	}
	close(fd);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 100);
	const char *only = getenv("MH_TEST_ONLY");
#define ADD(t)                                                                                     \
	if (!only || strcmp(only, #t) == 0)                                                        \
	tcase_add_test(tc, t)
	ADD(test_echo_over_lenprefix_and_line_and_close_notify);
	ADD(test_sni_and_ecdsa_rsa_side_by_side);
	ADD(test_alpn_selects_the_codec);
	ADD(test_tls11_and_renegotiation_refused);
	ADD(test_resumption_across_workers);
	ADD(test_mtls_require_and_optional);
	ADD(test_ocsp_response_is_stapled);
	ADD(test_garbage_truncated_and_stalled_handshakes);
	ADD(test_16mib_echo_slow_reader_bounded_memory);
	ADD(test_reload_new_certificate_keeps_established);
	ADD(test_check_reports_bad_tls_files);
	ADD(test_outbound_tls_verifies_chain_and_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	gnutls_global_init();
	certs_make();
	/* CK_RUN_CASE / CK_RUN_SUITE select as usual; MH_TEST_ONLY=test_name
	 * (Check's own CK_INCLUDE_TAGS needs tags) is read by tls_suite. */
	int status = harness_run_suite(tls_suite(), CK_NORMAL);
	certs_remove();
	return status;
}
