/* tests/modules/req_a.c — a module that requires req_b: configured first,
 * it must still load after req_b. */
#include "modhost.h"

static int req_a_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static const mh_handler_ops req_a_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = req_a_handle,
};

static const char *const req_a_requires[] = {"req_b", NULL};

MH_MODULE_DECLARE(.name = "req_a", .version = "1.0", .license = "MIT", .roles = MH_ROLE_HANDLER,
                  .handler = &req_a_ops, .requires = req_a_requires);
