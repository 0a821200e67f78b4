/* tests/integration/check_tls.c — the TLS transport of the real modhostd:
 * handshake and echo over lenprefix and line, SNI and ECDSA/RSA side by
 * side, ALPN choosing the codec, TLS 1.1 and renegotiation refused,
 * resumption across workers, every mTLS case, OCSP stapling, and bad input
 * (garbage, truncated and stalled handshakes).  check_tls_ops.c has the
 * rest; tlsclient.c the certificates and the GnuTLS client, alongside
 * gnutls-cli and openssl s_client. */
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

#include "tlsclient.h"

/* ---- handshake and echo ------------------------------------------------------- */

START_TEST(test_echo_over_lenprefix_and_line_and_close_notify)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1")
	        MODULES TLS_LISTENER("frames", "lenprefix", "echo", "tls_certificate = %s %s\n")
	            TLS_LISTENER("lines", "line", "echo", "tls_certificate = %s %s\n"),
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"),
	    tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
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
	         tls_cert("ca.pem"), harness_port(d, "lines"));
	int st = tls_sh(cmd, &out);
	harness_assert(strstr(out, "ping from gnutls-cli") != NULL, "gnutls-cli (%d): %s", st, out);
	free(out);
	if (tls_have("openssl")) {
		snprintf(
		    cmd, sizeof(cmd),
		    "(printf 'ping from openssl\\n'; sleep 1) | timeout 20 openssl s_client -quiet "
		    "-verify_return_error -CAfile '%s' -connect 127.0.0.1:%d -servername localhost "
		    "2>&1",
		    tls_cert("ca.pem"), harness_port(d, "lines"));
		st = tls_sh(cmd, &out);
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
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"),
	    tls_cert("server-rsa.pem"), tls_cert("server-rsa.key"), tls_cert("server-other.pem"),
	    tls_cert("server-other.key"));
	int port = harness_port(d, "t");
	struct tcli t;
	char dn[512], who[1024], v[256];

	tcli_ok(&t, port, &(struct tcli_opts){.sni = "other.test", .verify = 1});
	tcli_server_dn(&t, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=other.test") != NULL, "SNI other.test got '%s'", dn);
	tcli_whoami(&t, who, sizeof(who));
	harness_assert(strcmp(tcli_field(who, "sni", v, sizeof(v)), "other.test") == 0, "whoami: %s",
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

	if (tls_have("openssl")) {
		char cmd[8192], *out;
		snprintf(
		    cmd, sizeof(cmd),
		    "timeout 20 openssl s_client -CAfile '%s' -connect 127.0.0.1:%d -servername "
		    "other.test </dev/null 2>&1",
		    tls_cert("ca.pem"), port);
		tls_sh(cmd, &out);
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
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"),
	    tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
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
	harness_assert(strcmp(tcli_field(who, "alpn", v, sizeof(v)), "x-lines") == 0, "whoami: %s", who);
	tcli_close(&t);

	/* No ALPN, or one the listener does not speak: the listener's codec. */
	tcli_ok(&t, port, NULL);
	tcli_whoami(&t, who, sizeof(who));
	harness_assert(strcmp(tcli_field(who, "alpn", v, sizeof(v)), "-") == 0, "whoami: %s", who);
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
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
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
	         tls_cert("ca.pem"), port);
	int st = tls_sh(cmd, &out);
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

	if (tls_have("openssl")) {
		snprintf(
		    cmd, sizeof(cmd),
		    "(printf 'R\\n'; sleep 2) | timeout 20 openssl s_client -tls1_2 -CAfile '%s' "
		    "-connect 127.0.0.1:%d 2>&1",
		    tls_cert("ca.pem"), port);
		tls_sh(cmd, &out);
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
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"),
	    tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
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
		tcli_field(who, "worker", w1, sizeof(w1));
		gnutls_datum_t data;
		harness_assert(gnutls_session_get_data2(a.s, &data) == 0, "no session data");
		/* Block a's worker: the next connection can only be accepted by
		 * the other one. */
		size_t at = harness_log_size(d);
		tcli_send(&a, "block:1500:x\n", 13);
		harness_wait_log(d, at, "blocking 1500ms");
		tcli_ok(&b, port, &(struct tcli_opts){.priority = prio, .resume = &data});
		tcli_whoami(&b, who, sizeof(who));
		tcli_field(who, "worker", w2, sizeof(w2));
		harness_assert(strcmp(w1, w2) != 0, "%s: both connections on worker %s", vers, w1);
		harness_assert(gnutls_session_is_resumed(b.s),
		               "%s: not resumed on worker %s (made on %s)", vers, w2, w1);
		gnutls_free(data.data);
		tcli_close(&b);
		/* a's worker answers once it is no longer blocked: the next
		 * round must not find both workers blocked. */
		tcli_read_line(&a, who, sizeof(who));
		harness_assert(strcmp(who, "x") == 0, "reply to block: '%s'", who);
		tcli_close(&a);
	}
	/* gnutls-cli --resume, the real client. */
	char cmd[8192], *out;
	snprintf(cmd, sizeof(cmd),
	         "timeout 20 gnutls-cli --resume --x509cafile '%s' -p %d localhost </dev/null 2>&1",
	         tls_cert("ca.pem"), port);
	tls_sh(cmd, &out);
	harness_assert(strstr(out, "This is a resumed session"), "gnutls-cli --resume: %s", out);
	free(out);
	/* tls_tickets = off: a full handshake every time. */
	snprintf(cmd, sizeof(cmd),
	         "timeout 20 gnutls-cli --resume --x509cafile '%s' -p %d localhost </dev/null 2>&1",
	         tls_cert("ca.pem"), harness_port(d, "off"));
	tls_sh(cmd, &out);
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
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"),
	    tls_cert("ca.pem"), tls_cert("crl.pem"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"),
	    tls_cert("ca.pem"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
	int req = harness_port(d, "req"), opt = harness_port(d, "opt"),
	    off = harness_port(d, "off");
	char who[2048], v[512];

	/* require: the good certificate, with its identity for modules and logs. */
	size_t at = harness_log_size(d);
	harness_assert(mtls_try(d, req, "client.pem", "client.key", who, sizeof(who)),
	               "good client certificate refused");
	harness_assert(strcmp(tcli_field(who, "verified", v, sizeof(v)), "1") == 0, "whoami: %s", who);
	harness_assert(strstr(tcli_field(who, "subject", v, sizeof(v)), "CN=client1"), "whoami: %s",
	               who);
	harness_assert(strlen(tcli_field(who, "sha256", v, sizeof(v))) == 64, "whoami: %s", who);
	harness_assert(strstr(tcli_field(who, "san", v, sizeof(v)), "email:client1@example.test"),
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

	if (tls_have("openssl")) {
		char cmd[9000], *out;
		at = harness_log_size(d);
		snprintf(
		    cmd, sizeof(cmd),
		    "(printf 'whoami\\n'; sleep 1) | timeout 20 openssl s_client -quiet -cert '%s' "
		    "-key '%s' -connect 127.0.0.1:%d 2>&1",
		    tls_cert("client-otherca.pem"), tls_cert("client-otherca.key"), req);
		tls_sh(cmd, &out);
		harness_assert(strstr(out, "worker=") == NULL, "other CA served: %s", out);
		free(out);
		harness_wait_log(d, at, "client-otherca' refused: .*(not trusted|issuer)");
	}

	/* optional: none is fine (anonymous), a good one verifies, a bad one
	 * is still refused. */
	harness_assert(mtls_try(d, opt, NULL, NULL, who, sizeof(who)),
	               "anonymous refused (optional)");
	harness_assert(strcmp(tcli_field(who, "verified", v, sizeof(v)), "0") == 0 &&
	                   strcmp(tcli_field(who, "subject", v, sizeof(v)), "-") == 0,
	               "whoami: %s", who);
	harness_assert(mtls_try(d, opt, "client.pem", "client.key", who, sizeof(who)),
	               "good certificate refused (optional)");
	harness_assert(strcmp(tcli_field(who, "verified", v, sizeof(v)), "1") == 0, "whoami: %s", who);
	harness_assert(
	    !mtls_try(d, opt, "client-expired.pem", "client-expired.key", who, sizeof(who)),
	    "expired certificate accepted (optional)");
	/* off: not asked for; a certificate is not even sent. */
	harness_assert(mtls_try(d, off, "client.pem", "client.key", who, sizeof(who)),
	               "off refused");
	harness_assert(strcmp(tcli_field(who, "subject", v, sizeof(v)), "-") == 0, "whoami: %s", who);
}
END_TEST

/* ---- OCSP stapling ------------------------------------------------------------------- */

START_TEST(test_ocsp_response_is_stapled)
{
	if (access(tls_cert("ocsp-ecdsa.der"), R_OK) != 0)
		return; /* no openssl to sign one: mkcerts.sh made none */
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER(
	        "t", "line", "echo", "tls_certificate = %s %s\ntls_ocsp_response = %s\n"),
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"),
	    tls_cert("ocsp-ecdsa.der"));
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
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
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

/* max_connections_per_ip on a TLS listener: the connection past the
 * limit is closed before the handshake, not one byte of it sent. */
START_TEST(test_connection_past_the_per_ip_limit_closed_before_the_handshake)
{
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER(
	        "t", "line", "echo", "tls_certificate = %s %s\nmax_connections_per_ip = 1\n"),
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"),
	    tls_cert("server-ecdsa.key"));
	int port = harness_port(d, "t");
	struct tcli t;
	tcli_ok(&t, port, NULL);
	tcli_expect_line(&t, "first");

	size_t at = harness_log_size(d);
	int fd = harness_connect_ok(port);
	static const unsigned char hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00};
	harness_send_all(fd, hello_start, sizeof(hello_start), IO_MS);
	harness_expect_clean_close(fd, "the connection past the limit");
	harness_wait_log(d, at,
	                 "listener 't': closing connection from 127\\.0\\.0\\.1:[0-9]+: "
	                 "too many connections from this address");
	tcli_expect_line(&t, "still");
	tcli_close(&t);
}
END_TEST

int main(void)
{
	const TTest *tests[] = {
	    test_echo_over_lenprefix_and_line_and_close_notify,
	    test_sni_and_ecdsa_rsa_side_by_side,
	    test_alpn_selects_the_codec,
	    test_tls11_and_renegotiation_refused,
	    test_resumption_across_workers,
	    test_mtls_require_and_optional,
	    test_ocsp_response_is_stapled,
	    test_garbage_truncated_and_stalled_handshakes,
	    test_connection_past_the_per_ip_limit_closed_before_the_handshake,
	};
	return tls_run_tests("tls", tests, sizeof(tests) / sizeof(tests[0]));
}
