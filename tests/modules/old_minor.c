/* tests/modules/old_minor.c — a module that asks for the oldest minor of
 * ABI 1 (1.0): every 1.x host must load it. */
#define MH_MODULE_ABI_MINOR 0
#include "modhost.h"

static int old_minor_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static const mh_handler_ops old_minor_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = old_minor_handle,
};

MH_MODULE_DECLARE(.name = "old_minor", .version = "1.0", .license = "MIT", .roles = MH_ROLE_HANDLER,
                  .handler = &old_minor_ops);
