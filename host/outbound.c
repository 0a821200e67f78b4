/* host/outbound.c — outbound connections.  Not yet built: connecting out
 * fails with a clear reason. */
#include "build-config.h"

#include <stddef.h>

#include "outbound.h"

mh_outbound *outbound_connect(const mh_outbound_opts *opts,
                              void (*on_event)(mh_outbound *ob, int event, void *arg), void *arg)
{
	(void)opts;
	(void)on_event;
	(void)arg;
	return NULL;
}

int outbound_write(mh_outbound *ob, const void *data, size_t len)
{
	(void)ob;
	(void)data;
	(void)len;
	return -1;
}

mh_buf *outbound_input(mh_outbound *ob)
{
	(void)ob;
	return NULL;
}

const char *outbound_error(const mh_outbound *ob)
{
	(void)ob;
	return "outbound connections are not available in this build";
}

const mh_tls_info *outbound_tls(const mh_outbound *ob)
{
	(void)ob;
	return NULL;
}

void outbound_close(mh_outbound *ob)
{
	(void)ob;
}
