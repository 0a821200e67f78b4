/* modules/echo.c — the echo handler: the reply's body is the request's
 * body, moved rather than copied.  Works behind any codec; has no keys. */
#include "modhost.h"

static int echo_load(mh_module *m, const mh_host_api *api);
static int echo_handle(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_handler_ops echo_handler = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = echo_handle,
};

MH_MODULE_DECLARE(.name = "echo", .version = "1.0", .license = "MIT",
                  .description = "replies with the request's body", .roles = MH_ROLE_HANDLER,
                  .load = echo_load, .handler = &echo_handler);

/* The host table, the same for every instance. */
static const mh_host_api *host;

static int echo_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	return 0;
}

/* Move the whole request body into the reply.  Returns DONE, or ERROR with
 * the reply's status set to INTERNAL when out of memory. */
static int echo_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	mh_buf *in = host->msg_body(req);
	mh_buf *out = host->msg_body(reply);
	if (!in || !out || host->buf_move(out, in, host->buf_length(in)) < 0) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	return MH_HANDLE_DONE;
}
