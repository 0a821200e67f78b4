/* tests/modules/testhandler.c — a handler for the integration suites: it
 * answers late, crashes or closes on request, so that the tests can drive
 * the host's asynchronous replies, ordering, drain and worker supervision.
 *
 * Request bodies:
 *   "sleep:MS:PAYLOAD"  reply PAYLOAD after MS milliseconds (a host timer
 *                        and MH_HANDLE_ASYNC; a closed connection cancels it)
 *   "block:MS:PAYLOAD"  block the worker's loop for MS milliseconds (a slow,
 *                        blocking handler), then reply PAYLOAD
 *   "crash"             raise(SIGSEGV) inside the handler
 *   "close:PAYLOAD"     reply PAYLOAD, then the host closes the connection
 *   "conndata"          count the request in the connection's conn_data
 *                        block and reply "conndata=N" (its release logs
 *                        "conn data of connection ID released after N")
 *   "whoami"            reply "worker=N plain", or for TLS "worker=N tls=VERSION
 *                        alpn=ID sni=NAME verified=0|1 subject=DN sha256=HEX
 *                        san=A|B" (conn_tls; "-" for what is absent)
 *   anything else       echo
 * It logs "sleeping MSms" / "blocking MSms" when such a request arrives,
 * "cancelled a pending reply" when the host cancels one, and, with
 * log_connections = yes, "connection open from PEER" and "connection
 * closed from PEER" as an observer, so
 * that tests can wait for these events in the log instead of sleeping (the
 * log line also names the worker that holds the connection). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modhost.h"

static int testhandler_load(mh_module *m, const mh_host_api *api);
static int testhandler_handle(mh_module *m, mh_msg *req, mh_msg *reply);
static void testhandler_cancel(mh_module *m, mh_msg *req, mh_msg *reply);
static void testhandler_event(mh_module *m, const mh_event *ev);

static const mh_config_key testhandler_keys[] = {
    {"log_connections", MH_CONFIG_BOOL, "no", "log each connection opened on a listener"},
    {NULL, 0, NULL, NULL},
};

static const mh_handler_ops testhandler_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = testhandler_handle,
    .cancel = testhandler_cancel,
};

static const mh_observer_ops testhandler_observer = {
    .struct_size = sizeof(mh_observer_ops),
    .event = testhandler_event,
};

MH_MODULE_DECLARE(.name = "testhandler", .version = "1.0", .license = "MIT",
                  .description = "test handler: sleep:MS:X, block:MS:X, crash, close:X, else echo",
                  .roles = MH_ROLE_HANDLER | MH_ROLE_OBSERVER, .config_keys = testhandler_keys,
                  .load = testhandler_load, .handler = &testhandler_ops,
                  .observer = &testhandler_observer);

/* The host table, the same for every instance. */
static const mh_host_api *host;

/* A reply waiting for its timer.  The list is per worker process (one
 * loop, one thread), so it needs no lock. */
struct pending {
	mh_msg *reply;
	mh_timer *timer;
	struct pending *prev, *next;
};

static struct pending *pending_head;

/* The instance's one setting rides in the module data pointer itself. */
static int testhandler_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	host->module_set_data(m, host->config_bool(m, "log_connections") ? (void *)m : NULL);
	return 0;
}

static void testhandler_event(mh_module *m, const mh_event *ev)
{
	if (!ev->conn || !host->module_data(m))
		return;
	if (ev->type == MH_EVENT_CONN_OPEN)
		host->log(m, MH_LOG_INFO, "connection open from %s", host->conn_peer(ev->conn));
	else if (ev->type == MH_EVENT_CONN_CLOSE)
		host->log(m, MH_LOG_INFO, "connection closed from %s", host->conn_peer(ev->conn));
}

static void testhandler_unlink(struct pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		pending_head = p->next;
	if (p->next)
		p->next->prev = p->prev;
}

/* The timer fired (the host already freed the timer): the reply, whose
 * body was filled when the request came, is complete. */
static void testhandler_wake(void *arg)
{
	struct pending *p = arg;
	mh_msg *reply = p->reply;
	testhandler_unlink(p);
	free(p);
	host->msg_complete(reply);
}

/* The connection closed while a reply was pending: stop its timer. */
static void testhandler_cancel(mh_module *m, mh_msg *req, mh_msg *reply)
{
	for (struct pending *p = pending_head; p; p = p->next) {
		if (p->reply != reply)
			continue;
		host->timer_cancel(p->timer);
		testhandler_unlink(p);
		free(p);
		host->log(m, MH_LOG_INFO, "cancelled a pending reply");
		return;
	}
}

/* Whether body starts with prefix (at most 63 bytes). */
static int testhandler_starts_with(const mh_buf *body, const char *prefix)
{
	char head[64];
	size_t n = strlen(prefix);
	return host->buf_peek(body, head, n) == n && memcmp(head, prefix, n) == 0;
}

/* Parse "VERB:MS:" (verb being "sleep:" or "block:") at the front of
 * body.  Returns the prefix length and the milliseconds in *ms, or 0 when
 * the body does not start so. */
static size_t testhandler_parse_timed(const mh_buf *body, const char *verb, uint64_t *ms)
{
	char head[32];
	size_t vlen = strlen(verb);
	size_t n = host->buf_peek(body, head, sizeof(head));
	if (n < vlen + 2 || memcmp(head, verb, vlen) != 0)
		return 0;
	uint64_t v = 0;
	size_t i = vlen;
	for (; i < n && head[i] >= '0' && head[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(head[i] - '0');
	if (i == vlen || i >= n || head[i] != ':')
		return 0;
	*ms = v;
	return i + 1;
}

/* Move what follows the first skip bytes of the request into the reply. */
static int testhandler_reply_rest(mh_msg *req, mh_msg *reply, size_t skip)
{
	mh_buf *in = host->msg_body(req);
	mh_buf *out = host->msg_body(reply);
	if (!in || !out || host->buf_drain(in, skip) < 0 ||
	    host->buf_move(out, in, host->buf_length(in)) < 0)
		return -1;
	return 0;
}

static int testhandler_sleep(mh_module *m, mh_msg *req, mh_msg *reply, size_t skip, uint64_t ms)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p || testhandler_reply_rest(req, reply, skip) < 0)
		goto fail;
	p->reply = reply;
	p->timer = host->timer_add(ms, testhandler_wake, p);
	if (!p->timer)
		goto fail;
	p->next = pending_head;
	if (pending_head)
		pending_head->prev = p;
	pending_head = p;
	host->log(m, MH_LOG_INFO, "sleeping %llums", (unsigned long long)ms);
	return MH_HANDLE_ASYNC;
fail:
	free(p);
	host->msg_set_status(reply, MH_STATUS_INTERNAL);
	return MH_HANDLE_ERROR;
}

/* "whoami": the worker and the connection's TLS identity (conn_tls). */
static int testhandler_whoami(mh_msg *req, mh_msg *reply)
{
	const mh_tls_info *t = host->conn_tls(host->msg_conn(req));
	mh_buf *out = host->msg_body(reply);
	if (!t)
		return host->buf_printf(out, "worker=%d plain", host->worker_id()) < 0 ? -1 : 0;
#define TH_S(s) ((s) ? (s) : "-")
	if (host->buf_printf(out, "worker=%d tls=%s alpn=%s sni=%s verified=%d subject=%s sha256=%s san=",
	                     host->worker_id(), TH_S(t->version), TH_S(t->alpn), TH_S(t->sni), t->verified,
	                     TH_S(t->subject_dn), TH_S(t->fingerprint_sha256)) < 0)
		return -1;
	for (size_t i = 0; t->san && t->san[i]; i++)
		if (host->buf_printf(out, "%s%s", i ? "|" : "", t->san[i]) < 0)
			return -1;
	return host->buf_printf(out, "%s", t->san && t->san[0] ? "" : "-") < 0 ? -1 : 0;
#undef TH_S
}

/* What the handler keeps per connection (conn_data, ABI 1.4). */
struct testhandler_conn {
	uint64_t conn_id;
	uint64_t requests;
};

static void testhandler_conn_release(mh_module *m, void *data)
{
	const struct testhandler_conn *tc = data;
	host->log(m, MH_LOG_INFO, "conn data of connection %llu released after %llu",
	          (unsigned long long)tc->conn_id, (unsigned long long)tc->requests);
}

/* "conndata": the block is made once, found again by a size-0 look, and
 * a larger size than the first is refused. */
static int testhandler_conndata(mh_module *m, mh_msg *req, mh_msg *reply)
{
	mh_conn *c = host->msg_conn(req);
	struct testhandler_conn *tc = host->conn_data(c, m, 0, NULL);
	if (!tc) {
		tc = host->conn_data(c, m, sizeof(*tc), testhandler_conn_release);
		if (!tc || host->conn_data(c, m, 0, NULL) != tc)
			return -1;
		tc->conn_id = host->conn_id(c);
	}
	if (host->conn_data(c, m, 2 * sizeof(*tc), NULL) != NULL)
		return -1;
	tc->requests++;
	return host->buf_printf(host->msg_body(reply), "conndata=%llu",
	                        (unsigned long long)tc->requests);
}

static int testhandler_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	mh_buf *body = host->msg_body(req);
	uint64_t ms;
	size_t skip;

	if (!body)
		goto fail;
	if ((skip = testhandler_parse_timed(body, "sleep:", &ms)) > 0)
		return testhandler_sleep(m, req, reply, skip, ms);
	if ((skip = testhandler_parse_timed(body, "block:", &ms)) > 0) {
		host->log(m, MH_LOG_INFO, "blocking %llums", (unsigned long long)ms);
		struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		if (testhandler_reply_rest(req, reply, skip) < 0)
			goto fail;
		return MH_HANDLE_DONE;
	}
	if (host->buf_length(body) == 5 && testhandler_starts_with(body, "crash")) {
		host->log(m, MH_LOG_INFO, "crashing on request");
		raise(SIGSEGV);
		return MH_HANDLE_DONE; /* not reached unless SIGSEGV is ignored */
	}
	if (host->buf_length(body) == 6 && testhandler_starts_with(body, "whoami"))
		return testhandler_whoami(req, reply) < 0 ? (host->msg_set_status(reply, MH_STATUS_INTERNAL),
		                                             MH_HANDLE_ERROR)
		                                          : MH_HANDLE_DONE;
	if (host->buf_length(body) == 8 && testhandler_starts_with(body, "conndata")) {
		if (testhandler_conndata(m, req, reply) < 0)
			goto fail;
		return MH_HANDLE_DONE;
	}
	if (testhandler_starts_with(body, "close:")) {
		if (testhandler_reply_rest(req, reply, 6) < 0)
			goto fail;
		return MH_HANDLE_CLOSE;
	}
	if (testhandler_reply_rest(req, reply, 0) < 0)
		goto fail;
	return MH_HANDLE_DONE;
fail:
	host->msg_set_status(reply, MH_STATUS_INTERNAL);
	return MH_HANDLE_ERROR;
}
