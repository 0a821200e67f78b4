/* tests/modules/load_fails.c — a module whose load hook logs why and
 * refuses: the whole new set must be unloaded. */
#include "modhost.h"

static int load_fails_load(mh_module *m, const mh_host_api *host)
{
	host->log(m, MH_LOG_ERROR, "load_fails: refusing to load, as this test module always does");
	return -1;
}

static int load_fails_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static const mh_handler_ops load_fails_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = load_fails_handle,
};

MH_MODULE_DECLARE(.name = "load_fails", .version = "1.0", .license = "MIT",
                  .roles = MH_ROLE_HANDLER, .handler = &load_fails_ops, .load = load_fails_load);
