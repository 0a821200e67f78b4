/* host/tls.c — the TLS transport.  Not yet built: plain connections only. */
#include "build-config.h"

#include <stddef.h>

#include "tls.h"

const mh_tls_info *tls_conn_info(const struct mh_conn *c)
{
	(void)c;
	return NULL;
}
