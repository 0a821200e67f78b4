/* tests/modules/newer_minor.c — a module that needs host ABI 1.99, newer
 * than any host: it must be refused with "needs ABI 1.99". */
#define MH_MODULE_ABI_MINOR 99
#include "modhost.h"

static int newer_minor_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static const mh_handler_ops newer_minor_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = newer_minor_handle,
};

MH_MODULE_DECLARE(.name = "newer_minor", .version = "1.0", .license = "MIT",
                  .roles = MH_ROLE_HANDLER, .handler = &newer_minor_ops);
