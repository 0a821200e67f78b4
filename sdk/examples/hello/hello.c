/* sdk/examples/hello/hello.c — the smallest useful modhost module: a handler
 * that replies "<greeting>, <request body>" on any codec. */
#include <modhost.h>

static const mh_host_api *host; /* the host's function table, set at load */

static const mh_config_key hello_keys[] = {
    {"greeting", MH_CONFIG_STRING, "hello", "word put before the request body"},
    {NULL, 0, NULL, NULL},
};

static int hello_load(mh_module *m, const mh_host_api *h);
static int hello_handle(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_handler_ops hello_handler = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = hello_handle,
};

MH_MODULE_DECLARE(.name = "hello", .version = "1.0.0", .license = "MIT",
                  .description = "replies \"<greeting>, <request body>\"", .roles = MH_ROLE_HANDLER,
                  .config_keys = hello_keys, .load = hello_load, .handler = &hello_handler);

/* Runs once per configured instance, in the master, with the configuration
 * already validated against hello_keys. */
static int hello_load(mh_module *m, const mh_host_api *h)
{
	host = h;
	host->log(m, MH_LOG_DEBUG, "greeting is \"%s\"", host->config_string(m, "greeting"));
	return 0;
}

/* Runs in a worker for every request; the reply goes out when we return. */
static int hello_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	mh_buf *in = host->msg_body(req);
	mh_buf *out = host->msg_body(reply);

	if (!in || !out || host->buf_printf(out, "%s, ", host->config_string(m, "greeting")) < 0 ||
	    host->buf_move(out, in, host->buf_length(in)) < 0) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	return MH_HANDLE_DONE;
}
