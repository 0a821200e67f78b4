/* tests/modules/small_desc.c — exports mh_module_v1 by hand with a valid
 * header but only 16 bytes: smaller than any 1.x descriptor, so the host
 * must refuse it without reading past its end. */
#include "modhost.h"

struct small_desc {
	uint32_t magic;
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t struct_size;
	uint32_t flags;
};

extern const struct small_desc mh_module_v1;
const struct small_desc mh_module_v1 = {
    .magic = MH_MODULE_MAGIC,
    .abi_major = MH_ABI_MAJOR,
    .abi_minor = 0,
    .struct_size = sizeof(struct small_desc),
    .flags = 0,
};
