/* tests/integration/check_tls_ops.c — TLS under operation: a 16 MiB echo
 * with a slow reader and bounded memory, a certificate reload that keeps
 * established connections, `modhostd -t` on bad TLS files, and outbound
 * TLS from a module.  check_tls.c has the handshakes; tlsclient.c the
 * certificates and the GnuTLS client. */
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
	    harness_test_module("testhandler"), tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
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
	harness_assert(tls_sh(cmd, &out) == 0, "copy %s: %s", from, out);
	free(out);
}

START_TEST(test_reload_new_certificate_keeps_established)
{
	char *crt = harness_tmpfile("server.pem"), *key = harness_tmpfile("server.key");
	copy_file(tls_cert("server-ecdsa.pem"), crt);
	copy_file(tls_cert("server-ecdsa.key"), key);
	struct harness_daemon *d = harness_start_ready(
	    CONF_HEAD("1") MODULES TLS_LISTENER("t", "line", "echo", "tls_certificate = %s %s\n"),
	    harness_test_module("testhandler"), crt, key);
	int port = harness_port(d, "t");
	struct tcli old, t;
	char dn[512];
	tcli_ok(&old, port, NULL);
	tcli_server_dn(&old, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=localhost,") || strcmp(dn, "CN=localhost") == 0, "dn %s", dn);

	copy_file(tls_cert("server-new.pem"), crt);
	copy_file(tls_cert("server-new.key"), key);
	size_t at = harness_log_size(d);
	harness_signal(d, SIGHUP);
	harness_wait_log(d, at, "generation 2 ready");
	/* The old worker takes new connections until it starts draining. */
	harness_wait_log(d, at, "draining 1 connections");
	tcli_ok(&t, port, NULL);
	tcli_server_dn(&t, dn, sizeof(dn));
	harness_assert(strstr(dn, "CN=localhost-renewed"), "after reload the server sent '%s'", dn);
	tcli_expect_line(&t, "new");
	tcli_close(&t);
	/* The connection made before the reload goes on, on its old session. */
	tcli_expect_line(&old, "established before the reload");

	/* A key that does not match: the reload fails and generation 2 serves. */
	harness_expect_errors(d, "reload failed: .*the private key does not match the certificate");
	copy_file(tls_cert("server-other.key"), key);
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
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\n", tls_cert("server-ecdsa.pem"),
	         tls_cert("server-other.key"));
	check_t_fails(lines, "the private key does not match the certificate");
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\n", tls_cert("missing.pem"),
	         tls_cert("server-ecdsa.key"));
	check_t_fails(lines, "missing.pem: No such file or directory");
	snprintf(lines, sizeof(lines),
	         "tls_certificate = %s %s\ntls_client_ca = %s\ntls_client_crl = %s\n"
	         "tls_verify_client = require\n",
	         tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"), tls_cert("ca.pem"),
	         tls_cert("nocrl.pem"));
	check_t_fails(lines, "tls_client_crl: cannot load");
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\ntls_priority = NORMAL:+BOGUS\n",
	         tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
	check_t_fails(lines, "bad tls_priority");
	check_t_fails("", "tls = on needs tls_certificate");
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\ntls_alpn = x:nosuch\n",
	         tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
	check_t_fails(lines, "tls_alpn 'nosuch' is not a configured module");
	snprintf(lines, sizeof(lines), "tls_certificate = %s %s\ntls_verify_client = require\n",
	         tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"));
	check_t_fails(lines, "tls_verify_client needs tls_client_ca");
	if (access(tls_cert("ocsp-ecdsa.der"), R_OK) == 0) {
		snprintf(lines, sizeof(lines), "tls_certificate = %s %s\ntls_ocsp_response = %s\n",
		         tls_cert("server-other.pem"), tls_cert("server-other.key"),
		         tls_cert("ocsp-ecdsa.der"));
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
	    tls_cert("server-ecdsa.pem"), tls_cert("server-ecdsa.key"), tls_cert("server-ecdsa.pem"),
	    tls_cert("server-ecdsa.key"), tls_cert("ca.pem"));
	int probe = harness_port(d, "probe"), target = harness_port(d, "target"),
	    mtls = harness_port(d, "mtls"), plain = harness_port(d, "plain");
	int fd = harness_connect(probe);
	char req[9000], line[2048];
	struct {
		int port;
		const char *name, *ca, *cert, *key, *want;
	} cases[] = {
	    {target, "localhost", tls_cert("ca.pem"), NULL, NULL, "ok ping subject=CN=localhost"},
	    {target, "127.0.0.1", tls_cert("ca.pem"), NULL, NULL, "ok ping subject=CN=localhost"},
	    {target, "other.test", tls_cert("ca.pem"), NULL, NULL,
	     "error TLS: the certificate of other.test did not verify: "},
	    {target, "localhost", tls_cert("ca2.pem"), NULL, NULL,
	     "error TLS: the certificate of localhost "
	     "did not verify: "},
	    {mtls, "localhost", tls_cert("ca.pem"), tls_cert("client.pem"), tls_cert("client.key"),
	     "ok ping subject=CN=localhost"},
	    {mtls, "localhost", tls_cert("ca.pem"), NULL, NULL, "error "},
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

int main(void)
{
	const TTest *tests[] = {
	    test_16mib_echo_slow_reader_bounded_memory,
	    test_reload_new_certificate_keeps_established,
	    test_check_reports_bad_tls_files,
	    test_outbound_tls_verifies_chain_and_name,
	};
	return tls_run_tests("tls_ops", tests, sizeof(tests) / sizeof(tests[0]));
}
