/* tests/modules/outprobe.c — a handler that connects out (outbound_connect,
 * ABI 1.1) for the TLS integration suite, so that the host's outbound TLS
 * (chain and name verification, SNI, client certificates) is driven by a
 * real module.
 *
 * Request (one line): "HOST PORT NAME CA [CERT KEY]" where NAME is the
 * server name to send and verify ("-": HOST) and CA the CA file ("-": the
 * system's; "plain": no TLS).  The probe sends "ping\n", waits for one line
 * back and replies "ok LINE subject=SERVER-DN" or "error REASON". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modhost.h"

static int outprobe_load(mh_module *m, const mh_host_api *api);
static int outprobe_handle(mh_module *m, mh_msg *req, mh_msg *reply);
static void outprobe_cancel(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_handler_ops outprobe_ops = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = outprobe_handle,
    .cancel = outprobe_cancel,
};

MH_MODULE_DECLARE(.name = "outprobe", .version = "1.0", .license = "MIT",
                  .description = "test handler: connect out, send ping, report",
                  .roles = MH_ROLE_HANDLER, .load = outprobe_load, .handler = &outprobe_ops);

static const mh_host_api *host;

struct probe {
	mh_msg *reply;
	mh_outbound *ob;
	struct probe *next;
};

/* Probes in flight in this worker (for cancel). */
static struct probe *probes;

static int outprobe_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	return 0;
}

static void outprobe_forget(struct probe *p)
{
	for (struct probe **pp = &probes; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
}

/* Finish the probe: reply text, close the outbound, complete the reply. */
static void outprobe_finish(struct probe *p, const char *text)
{
	mh_msg *reply = p->reply;
	host->buf_add(host->msg_body(reply), text, strlen(text));
	host->outbound_close(p->ob);
	outprobe_forget(p);
	free(p);
	host->msg_complete(reply);
}

static void outprobe_event(mh_outbound *ob, int event, void *arg)
{
	struct probe *p = arg;
	char text[1024];
	switch (event) {
	case MH_OUTBOUND_CONNECTED:
		if (host->outbound_write(ob, "ping\n", 5) < 0)
			outprobe_finish(p, "error write failed");
		return;
	case MH_OUTBOUND_READABLE: {
		mh_buf *in = host->outbound_input(ob);
		int64_t nl = host->buf_find(in, "\n", 1, 0);
		if (nl < 0)
			return;
		char line[256] = "";
		size_t n = host->buf_peek(
		    in, line, (size_t)nl < sizeof(line) - 1 ? (size_t)nl : sizeof(line) - 1);
		line[n] = '\0';
		const mh_tls_info *t = host->outbound_tls(ob);
		snprintf(text, sizeof(text), "ok %s subject=%s", line,
		         t && t->subject_dn ? t->subject_dn : "-");
		outprobe_finish(p, text);
		return;
	}
	case MH_OUTBOUND_CLOSED: outprobe_finish(p, "error closed by the server"); return;
	case MH_OUTBOUND_ERROR:
	default:
		snprintf(text, sizeof(text), "error %s", host->outbound_error(ob));
		outprobe_finish(p, text);
		return;
	}
}

static int outprobe_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	char line[1024] = "", hostname[256], name[256], ca[512], cert[512] = "", key[512] = "";
	unsigned port;
	mh_buf *body = host->msg_body(req);
	size_t n = host->buf_peek(body, line, sizeof(line) - 1);
	line[n] = '\0';
	int got =
	    sscanf(line, "%255s %u %255s %511s %511s %511s", hostname, &port, name, ca, cert, key);
	if (got != 4 && got != 6) {
		host->buf_printf(host->msg_body(reply),
		                 "error usage: HOST PORT NAME CA [CERT KEY]");
		return MH_HANDLE_DONE;
	}
	mh_outbound_opts o = {
	    .struct_size = sizeof(o),
	    .host = hostname,
	    .port = (uint16_t)port,
	    .tls = strcmp(ca, "plain") != 0,
	    .ca_file = strcmp(ca, "-") == 0 || strcmp(ca, "plain") == 0 ? NULL : ca,
	    .server_name = strcmp(name, "-") == 0 ? NULL : name,
	    .cert_file = got == 6 ? cert : NULL,
	    .key_file = got == 6 ? key : NULL,
	    .connect_timeout_ms = 5000,
	};
	struct probe *p = calloc(1, sizeof(*p));
	if (!p)
		return MH_HANDLE_ERROR;
	p->reply = reply;
	p->ob = host->outbound_connect(&o, outprobe_event, p);
	if (!p->ob) {
		free(p);
		host->buf_printf(host->msg_body(reply), "error outbound_connect returned NULL");
		return MH_HANDLE_DONE;
	}
	p->next = probes;
	probes = p;
	host->log(m, MH_LOG_INFO, "probing %s port %u", hostname, port);
	return MH_HANDLE_ASYNC;
}

static void outprobe_cancel(mh_module *m, mh_msg *req, mh_msg *reply)
{
	for (struct probe *p = probes; p; p = p->next) {
		if (p->reply == reply) {
			host->outbound_close(p->ob);
			outprobe_forget(p);
			free(p);
			return;
		}
	}
}
