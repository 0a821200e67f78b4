/* tests/modules/abi_v2.c — a module built for a future ABI 2.3: it exports
 * mh_module_v2, which a 1.x host must name in its refusal ("built for ABI
 * 2.3") instead of saying "symbol not found". */
#include "modhost.h"

static int abi_v2_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	return MH_HANDLE_DONE;
}

static const mh_handler_ops abi_v2_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = abi_v2_handle,
};

/* Written by hand: MH_MODULE_DECLARE always names the symbol for the
 * headers' own major. */
extern const mh_module_desc mh_module_v2;
const mh_module_desc mh_module_v2 = {
    .magic = MH_MODULE_MAGIC,
    .abi_major = 2,
    .abi_minor = 3,
    .struct_size = sizeof(mh_module_desc),
    .name = "abi_v2",
    .version = "1.0",
    .license = "MIT",
    .roles = MH_ROLE_HANDLER,
    .handler = &abi_v2_ops,
};
