/* tests/integration/tlsclient.h — what the TLS integration suites
 * (check_tls, check_tls_ops) share: the run's certificates, made by
 * tests/tls/mkcerts.sh (certtool) once per program; a GnuTLS client with
 * deadlines; the configuration pieces of their daemons; and the main that
 * runs a suite between making and removing the certificates. */
#ifndef MH_TEST_TLSCLIENT_H
#define MH_TEST_TLSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

#include "harness.h"

#define IO_MS 10000

#define CONF_HEAD(workers)                                                                         \
	"[server]\nworkers = " workers "\nshutdown_timeout = 5s\n"                                 \
	"[log]\nlevel = info\nformat = text\n"

#define MODULES                                                                                    \
	"[module lenprefix]\nmax_frame = 32MiB\n"                                                  \
	"[module line]\nmax_line = 4KiB\n"                                                         \
	"[module echo]\n"                                                                          \
	"[module testhandler]\nfile = %s\n"

/* A TLS listener's lines: name, codec, handler, then more key lines. */
#define TLS_LISTENER(name, codec, handler, more)                                                   \
	"[listener " name "]\nlisten = 127.0.0.1:0\ncodec = " codec "\nhandler = " handler         \
	"\ntls = on\n" more


/* A path in the certificate folder, in one of 16 rotating buffers. */
const char *tls_cert(const char *name);

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
void tcli_open(struct tcli *t, int port, const struct tcli_opts *o);
/* The same, failing the test unless the handshake succeeds. */
struct tcli *tcli_ok(struct tcli *t, int port, const struct tcli_opts *o);
void tcli_close(struct tcli *t);
void tcli_send(struct tcli *t, const void *data, size_t len);
/* Receive exactly len bytes; returns 0, or the GnuTLS error (or 1 at EOF). */
int tcli_recv_exact(struct tcli *t, void *buf, size_t len);
/* Read one line (without its '\n') into buf. */
void tcli_read_line(struct tcli *t, char *buf, size_t cap);
/* Send send, then read one line into buf. */
void tcli_line(struct tcli *t, const char *send, char *buf, size_t cap);
/* A line through the line codec's echo, checked. */
void tcli_expect_line(struct tcli *t, const char *line);
/* A lenprefix frame through echo, checked. */
void tcli_echo_frame(struct tcli *t, const void *payload, uint32_t len);
/* The subject DN of the server's certificate. */
void tcli_server_dn(struct tcli *t, char *dn, size_t len);
/* "whoami" to the testhandler (line codec). */
void tcli_whoami(struct tcli *t, char *buf, size_t cap);
/* The value of "key=" in a whoami reply, into out (returned). */
const char *tcli_field(const char *reply, const char *key, char *out, size_t cap);

/* harness_sh for cmd, returning its exit code (-1: killed by a signal)
 * and its output in *out (free it). */
int tls_sh(const char *cmd, char **out);
/* Whether tool is on the PATH. */
int tls_have(const char *tool);

/* main of a TLS program: make the certificates (exit 77, a skip, without
 * certtool), run the n tests as the suite name, remove them.  Check's
 * CK_RUN_CASE / CK_RUN_SUITE select as usual, and MH_TEST_ONLY=test_name
 * runs one test. */
int tls_run_tests(const char *name, const TTest *const *tests, size_t n);

#endif
