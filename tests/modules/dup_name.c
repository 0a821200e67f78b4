/* tests/modules/dup_name.c — a valid handler whose descriptor is named
 * "echo", like the bundled module: both in one configuration is refused. */
#include "modhost.h"

static int dup_name_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static const mh_handler_ops dup_name_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = dup_name_handle,
};

MH_MODULE_DECLARE(.name = "echo", .version = "0.0-test", .license = "MIT",
                  .description = "a second module named echo (loader test)",
                  .roles = MH_ROLE_HANDLER, .handler = &dup_name_ops);
