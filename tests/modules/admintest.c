/* tests/modules/admintest.c — a module for the admin-plane suite
 * (tests/integration/check_admin.c):
 *
 *   - a gate: with gate_fifo set, worker gate_worker's worker_init logs
 *     "waiting at the gate", then blocks until a writer opens the FIFO and
 *     closes it, so that a test can hold the host in its starting state
 *     for exactly as long as it wants;
 *   - a handler: a request body "metric:VALUE" adds 1 to the series
 *     admintest_values_total{value="VALUE"} (dynamic label values, to fill
 *     the host's series table) and replies "ok"; anything else is echoed.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "modhost.h"

static int admintest_load(mh_module *m, const mh_host_api *api);
static int admintest_worker_init(mh_module *m);
static int admintest_handle(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_config_key admintest_keys[] = {
    {"gate_fifo", MH_CONFIG_STRING, "", "FIFO that worker gate_worker waits on in worker_init"},
    {"gate_worker", MH_CONFIG_INT, "1", "the worker that waits"},
    {NULL, 0, NULL, NULL},
};

static const mh_handler_ops admintest_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = admintest_handle,
};

MH_MODULE_DECLARE(.name = "admintest", .version = "1.0", .license = "MIT",
                  .description = "admin suite: a start gate and dynamic metric labels",
                  .roles = MH_ROLE_HANDLER, .config_keys = admintest_keys, .load = admintest_load,
                  .worker_init = admintest_worker_init, .handler = &admintest_ops);

static const mh_host_api *host;
static mh_metric *values;

static int admintest_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	values = host->metric_register(m, MH_METRIC_COUNTER, "admintest_values_total",
	                               "Requests by the value they named.", "value", NULL, 0);
	return values ? 0 : -1;
}

static int admintest_worker_init(mh_module *m)
{
	const char *fifo = host->config_string(m, "gate_fifo");
	char buf[64];
	if (!*fifo || host->worker_id() != host->config_int(m, "gate_worker"))
		return 0;
	host->log(m, MH_LOG_INFO, "waiting at the gate");
	int fd;
	while ((fd = open(fifo, O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (fd < 0) {
		host->log(m, MH_LOG_ERROR, "cannot open %s: %s", fifo, strerror(errno));
		return -1;
	}
	for (;;) { /* until the writer closes */
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	close(fd);
	host->log(m, MH_LOG_INFO, "gate open");
	return 0;
}

static int admintest_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	mh_buf *in = host->msg_body(req);
	mh_buf *out = host->msg_body(reply);
	char value[128];
	size_t n = in ? host->buf_peek(in, value, sizeof(value) - 1) : 0;
	if (!in || !out)
		goto fail;
	if (n > 7 && memcmp(value, "metric:", 7) == 0 && n == host->buf_length(in)) {
		value[n] = '\0';
		host->metric_add(values, (const char *const[]){value + 7}, 1);
		if (host->buf_add(out, "ok", 2) < 0)
			goto fail;
		return MH_HANDLE_DONE;
	}
	if (host->buf_move(out, in, host->buf_length(in)) < 0)
		goto fail;
	return MH_HANDLE_DONE;
fail:
	host->msg_set_status(reply, MH_STATUS_INTERNAL);
	return MH_HANDLE_ERROR;
}
