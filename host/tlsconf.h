/* host/tlsconf.h — the TLS side of listeners: the tls_* keys of a
 * [listener NAME] section as configured (parsed by config.c through
 * tlsconf_key), and the credentials each generation builds from them
 * (certificates chosen by SNI, priority, ALPN map, client CA and CRL,
 * OCSP responses) plus the session-ticket key shared by every worker.
 * See doc/internals/tls.md. */
#ifndef MH_TLSCONF_H
#define MH_TLSCONF_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>

struct generation;
struct listener_settings;
struct mh_module;

enum tls_verify_client {
	TLS_VERIFY_OFF = 0,      /* no certificate is asked for */
	TLS_VERIFY_OPTIONAL = 1, /* asked for; one that is sent must verify */
	TLS_VERIFY_REQUIRE = 2,  /* must be sent and must verify */
};

/* Where a key was set, for "file:line: ..." when its files fail to load. */
struct tls_where {
	const char *file;
	int line;
};

/* One listener's tls_* keys (NULL in listener_settings when tls is off). */
struct tls_settings {
	int enabled;    /* tls = on */
	char **certs;   /* cert, key, cert, key, ...: absolute paths */
	size_t n_certs; /* entries (twice the pairs) */
	char **ocsp;    /* DER OCSP responses, each for one of the certs */
	size_t n_ocsp;
	char *priority;     /* GnuTLS priority string; NULL = TLS_DEFAULT_PRIORITY */
	char **alpn_ids;    /* tls_alpn: protocol ids, in preference order */
	char **alpn_codecs; /* the codec module of each id */
	size_t n_alpn;
	int alpn_required;             /* refuse a client without a matching id */
	int tickets;                   /* session resumption by tickets; default on */
	uint64_t ticket_rotate_ms;     /* ticket key period; default 1h */
	char *client_ca;               /* PEM CA file for client certificates */
	char *client_crl;              /* PEM CRL file */
	int verify_client;             /* enum tls_verify_client */
	uint64_t handshake_timeout_ms; /* default 10s */
	struct tls_where at_tls, at_certs, at_ocsp, at_priority, at_alpn, at_ca, at_crl;
};

/* Mozilla's "intermediate" profile in GnuTLS terms: TLS 1.2 and 1.3 only,
 * ECDHE key exchange, AEAD ciphers only, no SHA-1 signatures, the server's
 * order.  (GnuTLS 3.7's NORMAL still enables TLS 1.0 and 1.1.) */
#define TLS_DEFAULT_PRIORITY                                                                       \
	"NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:"                                  \
	"+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AEAD:"                                      \
	"+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"                                         \
	"+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SECP384R1-SHA384:"                               \
	"+SIGN-ECDSA-SECP521R1-SHA512:+SIGN-EdDSA-Ed25519:"                                        \
	"+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384:+SIGN-RSA-PSS-RSAE-SHA512:"           \
	"+SIGN-RSA-PSS-SHA256:+SIGN-RSA-PSS-SHA384:+SIGN-RSA-PSS-SHA512:"                          \
	"+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:+SIGN-RSA-SHA512:"                                      \
	"+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SHA384:+SIGN-ECDSA-SHA512:"                                \
	"+COMP-NULL:+CTYPE-X509:%SERVER_PRECEDENCE"

/* Whether key is one of the listener's tls_* keys (or "tls"). */
int tlsconf_is_key(const char *key);
/* Parse one tls key of a listener into *ts (made on first use).  value has
 * been ${VAR}-expanded; relative paths are taken against base_dir.
 * Returns 0, or -1 with the reason (no file:line) in reason. */
int tlsconf_key(struct tls_settings **ts, const char *key, const char *value, const char *file,
                int line, const char *base_dir, char *reason, size_t rlen);
/* After every key of the section: check the keys fit together (tls = on
 * needs a certificate, tls_* keys need tls = on, verification needs a CA).
 * Returns 0, or -1 with "file:line: listener 'x': ..." in err. */
int tlsconf_check(struct tls_settings *ts, const char *listener, const char *file, int line,
                  char *err, size_t errlen);
void tlsconf_free_settings(struct tls_settings *ts);

/* What a generation built for one TLS listener. */
struct tls_listener {
	const char *name; /* the listener's */
	const struct tls_settings *ts;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	gnutls_datum_t *alpn;          /* the ids, for gnutls_alpn_set_protocols */
	struct mh_module **alpn_codec; /* the codec of each id */
	size_t n_alpn;
	unsigned expire_s; /* ticket lifetime: a third of the rotation */
};

/* Build the credentials of every TLS listener of gen (gen->tls): read the
 * certificates, keys, CA, CRL and OCSP files, check that each key matches
 * its certificate, compile the priority string, resolve the ALPN codecs.
 * Runs in the master (start, reload, modhostd -t).  Creates the
 * session-ticket key the first time it is needed.  Returns 0, or -1 with
 * "file:line: listener 'x': ..." in err (nothing of gen->tls is left). */
int tlsconf_build(struct generation *gen, char *err, size_t errlen);
void tlsconf_free(struct generation *gen);

/* The session-ticket master key: made once in the master, before any
 * worker forks, so that every worker (of every generation) derives the
 * same rotating ticket keys from it.  NULL before the first TLS build. */
const gnutls_datum_t *tlsconf_ticket_key(void);

#endif
