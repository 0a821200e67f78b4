/* modules/fixed.c — the fixed handler: every request gets the same reply, a
 * configured body (default "hello") with a status code and, for HTTP, a
 * Content-Type.  For benchmarks, health pages and placeholders. */
#include <stdlib.h>
#include <string.h>

#include "modhost.h"

static int fixed_load(mh_module *m, const mh_host_api *api);
static void fixed_unload(mh_module *m);
static int fixed_handle(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_config_key fixed_keys[] = {
    {"body", MH_CONFIG_STRING, "hello", "the reply's body"},
    {"code", MH_CONFIG_INT, "200", "protocol status code (HTTP), 100 to 999"},
    {"content_type", MH_CONFIG_STRING, "text/plain", "Content-Type header (HTTP); empty: none"},
    {NULL, 0, NULL, NULL},
};

static const mh_handler_ops fixed_handler = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = fixed_handle,
};

MH_MODULE_DECLARE(.name = "fixed", .version = "1.0", .license = "MIT",
                  .description = "replies with a fixed body", .roles = MH_ROLE_HANDLER,
                  .config_keys = fixed_keys, .load = fixed_load, .unload = fixed_unload,
                  .handler = &fixed_handler);

static const mh_host_api *host; /* the same for every instance */

struct fixed_instance {
	const char *body, *type; /* live as long as the instance */
	size_t body_len, type_len;
	int code;
};

static int fixed_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	int64_t code = host->config_int(m, "code");
	struct fixed_instance *fi = calloc(1, sizeof(*fi));
	if (!fi || code < 100 || code > 999) {
		host->log(m, MH_LOG_ERROR, fi ? "code must be 100 to 999" : "out of memory");
		free(fi);
		return -1;
	}
	fi->body = host->config_string(m, "body");
	fi->body_len = strlen(fi->body);
	fi->type = host->config_string(m, "content_type");
	fi->type_len = strlen(fi->type);
	fi->code = (int)code;
	host->module_set_data(m, fi);
	return 0;
}

static void fixed_unload(mh_module *m)
{
	free(host->module_data(m));
	host->module_set_data(m, NULL);
}

/* The request is not looked at.  Returns DONE, or ERROR when out of memory. */
static int fixed_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	const struct fixed_instance *fi = host->module_data(m);
	mh_buf *out = host->msg_body(reply);
	if (!out || host->buf_add(out, fi->body, fi->body_len) < 0 ||
	    (fi->type_len && host->msg_add_header(reply, "Content-Type", fi->type, fi->type_len) < 0)) {
		host->msg_set_status(reply, MH_STATUS_INTERNAL);
		return MH_HANDLE_ERROR;
	}
	if (fi->code != 200)
		host->msg_set_code(reply, fi->code);
	return MH_HANDLE_DONE;
}
