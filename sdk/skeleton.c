/* NAME.c — the NAME modhost module, made from sdk/skeleton.c by
 * `modhost-module new NAME`.  It builds and runs as it is: a handler that
 * answers each request with its body, prefixed by the configured `prefix`.
 * Replace NAME_handle with your own logic; the module guide
 * (module-guide.md) explains every hook.
 *
 * To load into hosts older than the headers you build with, define
 * MH_MODULE_ABI_MINOR to the oldest minor you support before including
 * modhost.h, and probe newer host calls with MH_HOST_HAS(host, fn). */
#include <stdlib.h>

#include <modhost.h>

/* The host's function table: the module's only way into the host. */
static const mh_host_api *host;

/* One per instance: a [module NAME] section in one configuration
 * generation.  A reload makes a new instance with its own copy. */
struct NAME_instance {
	const char *prefix; /* owned by the host; lives as long as the instance */
	uint64_t max_body;
};

static const mh_config_key NAME_keys[] = {
    {"prefix", MH_CONFIG_STRING, "", "text put before each reply"},
    {"max_body", MH_CONFIG_SIZE, "64KiB", "larger request bodies are refused"},
    {NULL, 0, NULL, NULL},
};

static int NAME_load(mh_module *m, const mh_host_api *h);
static int NAME_worker_init(mh_module *m);
static void NAME_unload(mh_module *m);
static int NAME_handle(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_handler_ops NAME_handler = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = NAME_handle,
};

MH_MODULE_DECLARE(.name = "NAME", .version = "0.1.0", .license = "MIT",
                  .description = "TODO: say in one line what NAME does", .roles = MH_ROLE_HANDLER,
                  .config_keys = NAME_keys, .load = NAME_load, .worker_init = NAME_worker_init,
                  .unload = NAME_unload, .handler = &NAME_handler);

/* In the master, once per instance, after the host has checked the
 * [module NAME] section against NAME_keys and applied the defaults.
 * Returns 0, or -1 after logging why (the configuration is refused). */
static int NAME_load(mh_module *m, const mh_host_api *h)
{
	host = h;
	struct NAME_instance *inst = calloc(1, sizeof(*inst));
	if (!inst) {
		host->log(m, MH_LOG_ERROR, "out of memory");
		return -1;
	}
	inst->prefix = host->config_string(m, "prefix");
	inst->max_body = host->config_size(m, "max_body");
	host->module_set_data(m, inst);
	return 0;
}

/* In every worker after fork, before it serves: open per-process
 * resources (sockets, files, caches) here, not in load. */
static int NAME_worker_init(mh_module *m)
{
	host->log(m, MH_LOG_DEBUG, "worker %d ready", host->worker_id());
	return 0;
}

/* When the instance's generation is retired: free what load made. */
static void NAME_unload(mh_module *m)
{
	free(host->module_data(m));
}

/* For each request, on a worker's loop.  Fill the reply and return
 * MH_HANDLE_DONE, or set a status and return MH_HANDLE_ERROR; never block
 * (return MH_HANDLE_ASYNC and call host->msg_complete(reply) later). */
static int NAME_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	const struct NAME_instance *inst = host->module_data(m);
	mh_buf *in = host->msg_body(req);
	mh_buf *out = host->msg_body(reply);

	if (!in || !out) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	if (host->buf_length(in) > inst->max_body) {
		host->msg_set_status(reply, MH_STATUS_TOO_LARGE);
		return MH_HANDLE_ERROR;
	}
	if (host->buf_printf(out, "%s", inst->prefix) < 0 ||
	    host->buf_move(out, in, host->buf_length(in)) < 0) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	return MH_HANDLE_DONE;
}
