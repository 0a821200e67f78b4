/* host/outbound.h — outbound connections for modules (ABI 1.1):
 * non-blocking connect on the worker's loop, plain or TLS. */
#ifndef MH_OUTBOUND_H
#define MH_OUTBOUND_H

#include "modhost.h"

mh_outbound *outbound_connect(const mh_outbound_opts *opts,
                              void (*on_event)(mh_outbound *ob, int event, void *arg), void *arg);
int outbound_write(mh_outbound *ob, const void *data, size_t len);
mh_buf *outbound_input(mh_outbound *ob);
const char *outbound_error(const mh_outbound *ob);
const mh_tls_info *outbound_tls(const mh_outbound *ob);
void outbound_close(mh_outbound *ob);

#endif
