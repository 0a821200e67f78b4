/* host/status.c — host state and status.  Not yet built: the state is
 * derived from this worker alone and the report is minimal. */
#include "build-config.h"

#include <event2/buffer.h>

#include "modhost.h"
#include "status.h"
#include "worker.h"

int status_host_state(void)
{
	return worker_draining() ? MH_HOST_DRAINING : MH_HOST_READY;
}

int status_render(struct evbuffer *out)
{
	return evbuffer_add_printf(out, "{\"version\":\"%s\",\"abi\":\"%d.%d\"}", PACKAGE_VERSION,
	                           MH_ABI_MAJOR, MH_ABI_MINOR) < 0
	           ? -1
	           : 0;
}
