/* tests/integration/tlsclient.c — see tlsclient.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/ocsp.h>
#include <gnutls/x509.h>

#include "tlsclient.h"

/* The certificates of this run (tls_certs_make). */
static char certs[4096];

/* A path in the certificate folder, in one of 16 rotating buffers. */
const char *tls_cert(const char *name)
{
	static char bufs[16][4200];
	static unsigned next;
	char *b = bufs[next++ % 16];
	snprintf(b, sizeof(bufs[0]), "%s/%s", certs, name);
	return b;
}

/* Make the run's certificates in a fresh folder (exit 77, a skip of the
 * whole program, without certtool). */
static void tls_certs_make(void)
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

static void tls_certs_remove(void)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certs);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", certs);
}

/* Connect to port and handshake; t->hs is 0 or the GnuTLS error. */
void tcli_open(struct tcli *t, int port, const struct tcli_opts *o)
{
	static const struct tcli_opts none = {0};
	if (!o)
		o = &none;
	memset(t, 0, sizeof(*t));
	t->fd = harness_connect(port);
	harness_assert(t->fd >= 0, "connect to %d: %s", port, strerror(errno));
	gnutls_certificate_allocate_credentials(&t->cred);
	gnutls_certificate_set_x509_trust_file(t->cred, tls_cert("ca.pem"), GNUTLS_X509_FMT_PEM);
	if (o->cert) {
		int r = gnutls_certificate_set_x509_key_file(t->cred, tls_cert(o->cert), tls_cert(o->key),
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

struct tcli *tcli_ok(struct tcli *t, int port, const struct tcli_opts *o)
{
	tcli_open(t, port, o);
	harness_assert(t->hs == 0, "handshake with port %d: %s", port, gnutls_strerror(t->hs));
	return t;
}

void tcli_close(struct tcli *t)
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

void tcli_send(struct tcli *t, const void *data, size_t len)
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
int tcli_recv_exact(struct tcli *t, void *buf, size_t len)
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

void tcli_read_line(struct tcli *t, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char ch;
		int r = tcli_recv_exact(t, &ch, 1);
		harness_assert(r == 0, "reading a line: %s", r == 1 ? "EOF" : gnutls_strerror(r));
		if (ch == '\n')
			break;
		if (n + 1 < cap)
			buf[n++] = ch;
	}
	buf[n] = '\0';
}

void tcli_line(struct tcli *t, const char *send, char *buf, size_t cap)
{
	tcli_send(t, send, strlen(send));
	tcli_read_line(t, buf, cap);
}

void tcli_expect_line(struct tcli *t, const char *line)
{
	char got[4096], send[4096];
	snprintf(send, sizeof(send), "%s\n", line);
	tcli_line(t, send, got, sizeof(got));
	harness_assert(strcmp(got, line) == 0, "echo of '%s' came back as '%s'", line, got);
}

void tcli_echo_frame(struct tcli *t, const void *payload, uint32_t len)
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
void tcli_server_dn(struct tcli *t, char *dn, size_t len)
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
void tcli_whoami(struct tcli *t, char *buf, size_t cap)
{
	tcli_line(t, "whoami\n", buf, cap);
}

/* The value of "key=" in a whoami reply, into out. */
const char *tcli_field(const char *reply, const char *key, char *out, size_t cap)
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

int tls_sh(const char *cmd, char **out)
{
	int st;
	*out = harness_sh(&st, "%s", cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int tls_have(const char *tool)
{
	char cmd[256], *out;
	snprintf(cmd, sizeof(cmd), "command -v %s", tool);
	int r = tls_sh(cmd, &out);
	free(out);
	return r == 0;
}

int tls_run_tests(const char *name, const TTest *const *tests, size_t n)
{
	const char *only = getenv("MH_TEST_ONLY");
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 100);
	for (size_t i = 0; i < n; i++)
		if (!only || strcmp(only, tests[i]->name) == 0)
			tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);

	gnutls_global_init();
	tls_certs_make();
	int status = harness_run_suite(s, CK_NORMAL);
	tls_certs_remove();
	return status;
}
