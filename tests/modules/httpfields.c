/* tests/modules/httpfields.c — a handler for the http1 suite: its reply
 * body lists what the codec decoded, one "key=value" line each: protocol,
 * method, path, query, version, trace (absent fields print "-"), the
 * header count, then "h:NAME=VALUE" per header, then "body=LENGTH".  With
 * the query "close" it ends the connection after the reply
 * (MH_HANDLE_CLOSE). */
#include <string.h>

#include "modhost.h"

static int httpfields_load(mh_module *m, const mh_host_api *api);
static int httpfields_handle(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_handler_ops httpfields_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = httpfields_handle,
};

MH_MODULE_DECLARE(.name = "httpfields", .version = "1.0", .license = "MIT",
                  .description = "test handler: replies with the request's fields",
                  .roles = MH_ROLE_HANDLER, .load = httpfields_load, .handler = &httpfields_ops);

static const mh_host_api *host;

static int httpfields_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	return 0;
}

static void field(mh_buf *out, const mh_msg *req, const char *key, int f)
{
	size_t len;
	const char *v = host->msg_field(req, f, &len);
	host->buf_printf(out, "%s=%.*s\n", key, v ? (int)len : 1, v ? v : "-");
}

static int httpfields_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	mh_buf *out = host->msg_body(reply);
	field(out, req, "protocol", MH_FIELD_PROTOCOL);
	field(out, req, "method", MH_FIELD_METHOD);
	field(out, req, "path", MH_FIELD_PATH);
	field(out, req, "query", MH_FIELD_QUERY);
	field(out, req, "version", MH_FIELD_VERSION);
	field(out, req, "trace", MH_FIELD_TRACE_ID);
	size_t n = host->msg_header_count(req);
	host->buf_printf(out, "headers=%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		const char *name, *value;
		size_t nl, vl;
		host->msg_header_at(req, i, &name, &nl, &value, &vl);
		host->buf_printf(out, "h:%.*s=%.*s\n", (int)nl, name, (int)vl, value);
	}
	host->buf_printf(out, "body=%zu\n", host->buf_length(host->msg_body(req)));
	/* "?close": the connection ends with this reply. */
	size_t qlen;
	const char *q = host->msg_field(req, MH_FIELD_QUERY, &qlen);
	if (q && qlen == 5 && memcmp(q, "close", 5) == 0)
		return MH_HANDLE_CLOSE;
	return MH_HANDLE_DONE;
}
