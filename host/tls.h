/* host/tls.h — the TLS transport (GnuTLS) and the TLS side of listeners.
 * See doc/internals/tls.md. */
#ifndef MH_TLS_H
#define MH_TLS_H

#include "modhost.h"

struct mh_conn;

/* The TLS facts of c for modules (conn_tls), or NULL on a plain
 * connection. */
const mh_tls_info *tls_conn_info(const struct mh_conn *c);

#endif
