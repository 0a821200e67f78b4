/* host/tls.h — the TLS transport (GnuTLS on the connection's socket): the
 * handshake, records in and out, close_notify, the peer's identity for
 * modules (conn_tls) and the worker's TLS counters.  Listener settings and
 * credentials are in tlsconf.h.  See doc/internals/tls.md. */
#ifndef MH_TLS_H
#define MH_TLS_H

#include <stdint.h>

#include <gnutls/gnutls.h>

#include "modhost.h"

struct mh_conn;
struct arena;
struct transport_ops;

/* The transport of connections accepted on a listener with tls = on. */
extern const struct transport_ops transport_tls;

/* The TLS facts of c for modules (conn_tls), made on first use in c's
 * arena; NULL on a plain connection or before the handshake is done. */
const mh_tls_info *tls_conn_info(const struct mh_conn *c);

/* Fill a new mh_tls_info (in *arena) from an established session: the
 * version, cipher, ALPN id, server name (sni, or the session's own when
 * NULL) and the peer certificate's subject, issuer, SANs and SHA-256
 * fingerprint.  verified says whether the chain was verified.  Returns
 * NULL when out of memory.  Shared with outbound connections. */
mh_tls_info *tls_info_build(gnutls_session_t s, int verified, const char *sni,
                            struct arena **arena);

/* GnuTLS's certificate verification callback for listeners that ask for
 * client certificates (tls_verify_client): the chain must verify against
 * tls_client_ca (and its CRL) for TLS client use.  Returns 0 to go on, -1
 * to end the handshake (the reason is logged by the handshake). */
int tls_verify_client_cb(gnutls_session_t session);

/* What one worker's TLS listeners did, for metrics (read, never reset). */
struct tls_counters {
	uint64_t handshakes;            /* completed */
	uint64_t resumed;               /* of which by a session ticket */
	uint64_t failed;                /* handshakes that failed, timeouts included */
	uint64_t timeouts;              /* tls_handshake_timeout reached */
	uint64_t client_cert_refused;   /* a client certificate that did not verify, or none */
	uint64_t renegotiation_refused; /* client-initiated renegotiations refused */
};
const struct tls_counters *tls_counters(void);

#endif
