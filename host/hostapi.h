/* host/hostapi.h — the host function table given to modules.  Its layout
 * is the ABI (api/modhost.h); this file only names the instance. */
#ifndef MH_HOSTAPI_H
#define MH_HOSTAPI_H

#include "modhost.h"

extern const mh_host_api hostapi_table;

#endif
