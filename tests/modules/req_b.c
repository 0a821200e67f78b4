/* tests/modules/req_b.c — the module req_a requires.  It counts its hook
 * calls in req_b_counts (exported: test modules are not built with the
 * SDK's version script) so that tests can see what the host called. */
#include "modhost.h"

struct req_b_counts {
	int loads, reconfigures, worker_inits, worker_finis, unloads;
};

extern struct req_b_counts req_b_counts;
struct req_b_counts req_b_counts;

static const mh_host_api *req_b_host;

static int req_b_load(mh_module *m, const mh_host_api *host)
{
	req_b_host = host;
	req_b_counts.loads++;
	return 0;
}

static int req_b_reconfigure(mh_module *m, mh_module *previous)
{
	if (previous == m)
		return -1;
	req_b_counts.reconfigures++;
	return 0;
}

static int req_b_worker_init(mh_module *m)
{
	if (req_b_host->config_bool(m, "fail_worker_init"))
		return -1;
	req_b_counts.worker_inits++;
	return 0;
}

static void req_b_worker_fini(mh_module *m)
{
	req_b_counts.worker_finis++;
}

static void req_b_unload(mh_module *m)
{
	req_b_counts.unloads++;
}

static int req_b_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static const mh_handler_ops req_b_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = req_b_handle,
};

static const mh_config_key req_b_keys[] = {
    {"fail_worker_init", MH_CONFIG_BOOL, "no", "make worker_init fail (loader tests)"},
    {NULL, 0, NULL, NULL},
};

MH_MODULE_DECLARE(.name = "req_b", .version = "1.0", .license = "MIT", .roles = MH_ROLE_HANDLER,
                  .handler = &req_b_ops, .config_keys = req_b_keys, .load = req_b_load,
                  .reconfigure = req_b_reconfigure, .worker_init = req_b_worker_init,
                  .worker_fini = req_b_worker_fini, .unload = req_b_unload);
