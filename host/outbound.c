/* host/outbound.c — outbound connections for modules (ABI 1.1): name
 * resolution with evdns, a non-blocking connect on the worker's loop, and
 * TLS with the server's chain and name verified, SNI, optional ALPN and an
 * optional client certificate.  Events reach the module through on_event;
 * an outbound closed from inside its own callback is freed when the
 * callback returns. */
#include "build-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <gnutls/gnutls.h>

#include "arena.h"
#include "buf.h"
#include "log.h"
#include "outbound.h"
#include "tls.h"
#include "tlsconf.h"
#include "worker.h"

#define OUTBOUND_DEFAULT_TIMEOUT_MS 10000
#define OUTBOUND_READ_CHUNK         16384

enum outbound_state {
	OB_RESOLVING = 1,
	OB_CONNECTING,
	OB_HANDSHAKE,
	OB_OPEN,
	OB_FAILED, /* ERROR or CLOSED delivered: only outbound_close is left */
};

struct mh_outbound {
	int state; /* enum outbound_state */
	int fd;
	struct event ev;    /* the socket */
	struct event timer; /* connect timeout, or a failure to report later */
	short events;       /* what ev is registered for */
	struct mh_buf *in, *out;
	gnutls_session_t session; /* NULL without TLS */
	const struct outbound_cred *cred;
	uint32_t send_pending; /* plaintext bytes GnuTLS holds after E_AGAIN */
	int read_wants_write;
	int in_callback, close_requested;
	int in_connect; /* inside outbound_connect: failures are reported later */
	struct evdns_getaddrinfo_request *dns;
	uint16_t port;
	uint64_t timeout_ms;
	char *server_name; /* SNI and the name verified */
	char *alpn;
	mh_tls_info *info;
	struct arena *arena;
	void (*on_event)(mh_outbound *ob, int event, void *arg);
	void *arg;
	char error[512];
};

/* Client credentials, one per (CA file, certificate, key) in each worker,
 * kept for the worker's life: loading a CA bundle per connection would
 * cost more than the handshake. */
struct outbound_cred {
	char *ca_file, *cert_file, *key_file; /* NULL = system CAs / no client cert */
	gnutls_certificate_credentials_t cred;
	struct outbound_cred *next;
};

static struct outbound_cred *outbound_creds;
static struct evdns_base *outbound_dns;
static gnutls_priority_t outbound_prio;

static void outbound_update(mh_outbound *ob);
static void outbound_free(mh_outbound *ob);

/* ---- failing and reporting ------------------------------------------------ */

/* Deliver ev to the module; an outbound closed inside is freed after. */
static void outbound_notify(mh_outbound *ob, int ev)
{
	ob->in_callback++;
	ob->on_event(ob, ev, ob->arg);
	ob->in_callback--;
}

/* Record why the connection failed and tell the module (ERROR).  Returns
 * 1 when the module closed it (ob is gone). */
static int outbound_fail(mh_outbound *ob, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int outbound_fail(mh_outbound *ob, const char *fmt, ...)
{
	char text[sizeof(ob->error)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	memcpy(ob->error, text, sizeof(text));
	if (ob->in_connect) {
		/* The module does not hold the handle yet: tell it from the loop. */
		struct timeval now = {0, 0};
		evtimer_add(&ob->timer, &now);
		return 0;
	}
	ob->state = OB_FAILED;
	event_del(&ob->ev);
	event_del(&ob->timer);
	ob->events = 0;
	outbound_notify(ob, MH_OUTBOUND_ERROR);
	if (ob->close_requested && !ob->in_callback) {
		outbound_free(ob);
		return 1;
	}
	return 0;
}

/* ---- credentials ---------------------------------------------------------- */

static int outbound_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static const struct outbound_cred *outbound_get_cred(const mh_outbound_opts *o, char *err,
                                                     size_t errlen)
{
	for (struct outbound_cred *oc = outbound_creds; oc; oc = oc->next)
		if (outbound_same(oc->ca_file, o->ca_file) &&
		    outbound_same(oc->cert_file, o->cert_file) &&
		    outbound_same(oc->key_file, o->key_file))
			return oc;
	struct outbound_cred *oc = calloc(1, sizeof(*oc));
	int r;
	if (!oc || gnutls_certificate_allocate_credentials(&oc->cred) < 0) {
		free(oc);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (o->ca_file)
		r = gnutls_certificate_set_x509_trust_file(oc->cred, o->ca_file,
		                                           GNUTLS_X509_FMT_PEM);
	else
		r = gnutls_certificate_set_x509_system_trust(oc->cred);
	if (r <= 0) {
		snprintf(err, errlen, "cannot load CA certificates from %s: %s",
		         o->ca_file ? o->ca_file : "the system store",
		         r == 0 ? "no certificate found" : gnutls_strerror(r));
		goto fail;
	}
	if (o->cert_file || o->key_file) {
		r = gnutls_certificate_set_x509_key_file(oc->cred, o->cert_file ? o->cert_file : "",
		                                         o->key_file ? o->key_file : o->cert_file,
		                                         GNUTLS_X509_FMT_PEM);
		if (r < 0) {
			snprintf(err, errlen, "cannot load client certificate %s with key %s: %s",
			         o->cert_file ? o->cert_file : "(none)",
			         o->key_file ? o->key_file : "(none)", gnutls_strerror(r));
			goto fail;
		}
	}
	if ((o->ca_file && !(oc->ca_file = strdup(o->ca_file))) ||
	    (o->cert_file && !(oc->cert_file = strdup(o->cert_file))) ||
	    (o->key_file && !(oc->key_file = strdup(o->key_file)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	oc->next = outbound_creds;
	outbound_creds = oc;
	return oc;
fail:
	gnutls_certificate_free_credentials(oc->cred);
	free(oc->ca_file);
	free(oc->cert_file);
	free(oc->key_file);
	free(oc);
	return NULL;
}

/* ---- TLS ------------------------------------------------------------------ */

static int outbound_is_ip(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static int outbound_tls_start(mh_outbound *ob)
{
	gnutls_session_t s;
	if (!outbound_prio &&
	    gnutls_priority_init(&outbound_prio, TLS_DEFAULT_PRIORITY, NULL) < 0) {
		outbound_prio = NULL;
		return outbound_fail(ob, "cannot set up TLS: bad priority string"), -1;
	}
	if (gnutls_init(&ob->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0) {
		ob->session = NULL;
		return outbound_fail(ob, "cannot set up TLS: out of memory"), -1;
	}
	s = ob->session;
	gnutls_priority_set(s, outbound_prio);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, ob->cred->cred);
	/* SNI carries names only, never addresses (RFC 6066 §3). */
	if (!outbound_is_ip(ob->server_name))
		gnutls_server_name_set(s, GNUTLS_NAME_DNS, ob->server_name,
		                       strlen(ob->server_name));
	/* The chain against the CA and the name against the certificate
	 * (DNS or IP subjectAltName), during the handshake. */
	gnutls_session_set_verify_cert(s, ob->server_name, 0);
	if (ob->alpn) {
		gnutls_datum_t proto = {(unsigned char *)ob->alpn, (unsigned)strlen(ob->alpn)};
		gnutls_alpn_set_protocols(s, &proto, 1, 0);
	}
	gnutls_transport_set_int(s, ob->fd);
	gnutls_handshake_set_timeout(s, 0); /* the connect timeout covers it */
	ob->state = OB_HANDSHAKE;
	return 0;
}

static void outbound_handshake(mh_outbound *ob)
{
	int r;
	do
		r = gnutls_handshake(ob->session);
	while (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_WARNING_ALERT_RECEIVED);
	if (r == GNUTLS_E_AGAIN)
		return;
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t why = {NULL, 0};
		unsigned status = gnutls_session_get_verify_cert_status(ob->session);
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0);
		char text[400];
		snprintf(text, sizeof(text), "%s",
		         why.data ? (const char *)why.data : "not verified");
		gnutls_free(why.data);
		outbound_fail(ob, "TLS: the certificate of %s did not verify: %s", ob->server_name,
		              text);
		return;
	}
	if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		outbound_fail(ob, "TLS handshake with %s failed: the server sent alert '%s'",
		              ob->server_name,
		              gnutls_alert_get_name(gnutls_alert_get(ob->session)));
		return;
	}
	if (r < 0) {
		outbound_fail(ob, "TLS handshake with %s failed: %s", ob->server_name,
		              gnutls_strerror(r));
		return;
	}
	ob->state = OB_OPEN;
	event_del(&ob->timer);
	outbound_notify(ob, MH_OUTBOUND_CONNECTED);
}

/* ---- reading and writing ---------------------------------------------------- */

/* Returns 0, or -1 when the module was told of an error or a close. */
static int outbound_read(mh_outbound *ob)
{
	static unsigned char scratch[OUTBOUND_READ_CHUNK];
	size_t got = 0;
	int closed = 0;
	ob->read_wants_write = 0;
	for (;;) {
		ssize_t r;
		if (ob->session) {
			r = gnutls_record_recv(ob->session, scratch, sizeof(scratch));
			if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_WARNING_ALERT_RECEIVED)
				continue;
			if (r == GNUTLS_E_AGAIN) {
				ob->read_wants_write =
				    gnutls_record_get_direction(ob->session) == 1;
				break;
			}
			if (r == GNUTLS_E_PREMATURE_TERMINATION)
				r = 0;
			if (r == GNUTLS_E_REHANDSHAKE) {
				gnutls_alert_send(ob->session, GNUTLS_AL_WARNING,
				                  GNUTLS_A_NO_RENEGOTIATION);
				continue;
			}
			if (r < 0) {
				outbound_fail(ob, "TLS error from %s: %s", ob->server_name,
				              gnutls_strerror((int)r));
				return -1;
			}
		} else {
			r = recv(ob->fd, scratch, sizeof(scratch), 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (r < 0) {
				outbound_fail(ob, "read from %s: %s", ob->server_name,
				              strerror(errno));
				return -1;
			}
		}
		if (r == 0) {
			closed = 1;
			break;
		}
		if (buf_add(ob->in, scratch, (size_t)r) < 0) {
			outbound_fail(ob, "out of memory");
			return -1;
		}
		got += (size_t)r;
		if (got >= 4 * OUTBOUND_READ_CHUNK)
			break; /* let others run; level-triggered, we come back */
	}
	if (got)
		outbound_notify(ob, MH_OUTBOUND_READABLE);
	if (closed && !ob->close_requested && ob->state != OB_FAILED) {
		ob->state = OB_FAILED;
		event_del(&ob->ev);
		ob->events = 0;
		outbound_notify(ob, MH_OUTBOUND_CLOSED);
		return -1;
	}
	return ob->close_requested || ob->state == OB_FAILED ? -1 : 0;
}

/* Send what can go; returns 0, or -1 after reporting an error. */
static int outbound_flush(mh_outbound *ob)
{
	while (ob->send_pending || buf_length(ob->out) > 0) {
		size_t len = ob->send_pending ? ob->send_pending : buf_length(ob->out);
		ssize_t r;
		if (len > OUTBOUND_READ_CHUNK)
			len = OUTBOUND_READ_CHUNK;
		if (ob->session) {
			if (ob->send_pending)
				r = gnutls_record_send(ob->session, NULL, 0);
			else
				r = gnutls_record_send(ob->session, buf_data(ob->out), len);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
				ob->send_pending = (uint32_t)len;
				if (r == GNUTLS_E_AGAIN)
					return 0;
				continue;
			}
			if (r < 0) {
				outbound_fail(ob, "TLS error sending to %s: %s", ob->server_name,
				              gnutls_strerror((int)r));
				return -1;
			}
		} else {
			r = write(ob->fd, buf_data(ob->out), len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return 0;
			if (r <= 0) {
				outbound_fail(ob, "write to %s: %s", ob->server_name,
				              r < 0 ? strerror(errno) : "no progress");
				return -1;
			}
		}
		buf_drain(ob->out, (size_t)r);
		ob->send_pending = 0;
	}
	return 0;
}

/* ---- the socket's events -------------------------------------------------- */

static void outbound_connected(mh_outbound *ob)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(ob->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		outbound_fail(ob, "connect to %s port %u: %s", ob->server_name, ob->port,
		              strerror(err));
		return;
	}
	if (ob->cred) {
		if (outbound_tls_start(ob) == 0)
			outbound_handshake(ob);
		return;
	}
	ob->state = OB_OPEN;
	event_del(&ob->timer);
	outbound_notify(ob, MH_OUTBOUND_CONNECTED);
}

static void outbound_event_cb(evutil_socket_t fd, short what, void *arg)
{
	mh_outbound *ob = arg;
	worker_io_events++;
	ob->in_callback++;
	if (ob->state == OB_CONNECTING && (what & EV_WRITE))
		outbound_connected(ob);
	else if (ob->state == OB_HANDSHAKE)
		outbound_handshake(ob);
	if (ob->state == OB_OPEN && !ob->close_requested) {
		int ok = 0;
		if (what & EV_WRITE)
			ok = outbound_flush(ob);
		if (ok == 0 && ((what & EV_READ) || (ob->read_wants_write && (what & EV_WRITE))))
			outbound_read(ob);
	}
	ob->in_callback--;
	if (ob->close_requested && !ob->in_callback)
		outbound_free(ob);
	else
		outbound_update(ob);
}

/* Register the socket event for what the outbound waits for now. */
static void outbound_update(mh_outbound *ob)
{
	short want = 0;
	/* Not yet connecting (a failure waits to be reported), or done. */
	if (ob->fd < 0 || ob->state == 0 || ob->state == OB_FAILED || ob->state == OB_RESOLVING)
		return;
	if (ob->state == OB_CONNECTING)
		want = EV_WRITE;
	else if (ob->state == OB_HANDSHAKE)
		want = gnutls_record_get_direction(ob->session) == 1 ? EV_WRITE : EV_READ;
	else {
		want = EV_READ;
		if (ob->send_pending || buf_length(ob->out) > 0 || ob->read_wants_write)
			want |= EV_WRITE;
	}
	if (want != ob->events) {
		event_del(&ob->ev);
		event_assign(&ob->ev, worker_base(), ob->fd, want | EV_PERSIST, outbound_event_cb,
		             ob);
		ob->events = want;
		event_add(&ob->ev, NULL);
	}
	/* Decrypted bytes GnuTLS already holds: no readiness will announce. */
	if (ob->state == OB_OPEN && ob->session && gnutls_record_check_pending(ob->session) > 0)
		event_active(&ob->ev, EV_READ, 0);
}

static void outbound_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	mh_outbound *ob = arg;
	ob->in_callback++;
	if (ob->error[0] && ob->state != OB_FAILED) /* found in outbound_connect */
		outbound_fail(ob, "%s", ob->error);
	else if (ob->state != OB_OPEN && ob->state != OB_FAILED)
		outbound_fail(ob, "connect to %s port %u timed out after %llums", ob->server_name,
		              ob->port, (unsigned long long)ob->timeout_ms);
	ob->in_callback--;
	if (ob->close_requested && !ob->in_callback)
		outbound_free(ob);
}

static void outbound_connect_to(mh_outbound *ob, const struct sockaddr *sa, socklen_t len)
{
	ob->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ob->fd < 0) {
		outbound_fail(ob, "socket: %s", strerror(errno));
		return;
	}
	int one = 1;
	setsockopt(ob->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(ob->fd, sa, len) < 0 && errno != EINPROGRESS) {
		outbound_fail(ob, "connect to %s port %u: %s", ob->server_name, ob->port,
		              strerror(errno));
		return;
	}
	ob->state = OB_CONNECTING;
	outbound_update(ob);
}

static void outbound_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	mh_outbound *ob = arg;
	if (result == EVUTIL_EAI_CANCEL)
		return; /* closed while resolving: ob is already freed */
	ob->dns = NULL;
	ob->in_callback++;
	if (result != 0 || !res)
		outbound_fail(ob, "cannot resolve %s: %s", ob->server_name,
		              evutil_gai_strerror(result));
	else
		outbound_connect_to(ob, res->ai_addr, (socklen_t)res->ai_addrlen);
	if (res)
		evutil_freeaddrinfo(res);
	ob->in_callback--;
	if (ob->close_requested && !ob->in_callback)
		outbound_free(ob);
}

/* ---- the ABI -------------------------------------------------------------- */

mh_outbound *outbound_connect(const mh_outbound_opts *opts,
                              void (*on_event)(mh_outbound *ob, int event, void *arg), void *arg)
{
	struct event_base *base = worker_base();
	if (!opts || !on_event || !base || !opts->host ||
	    opts->struct_size < offsetof(mh_outbound_opts, connect_timeout_ms))
		return NULL; /* misuse (or the master): nothing to report to */
	mh_outbound *ob = calloc(1, sizeof(*ob));
	if (!ob)
		return NULL;
	ob->fd = -1;
	ob->on_event = on_event;
	ob->arg = arg;
	ob->port = opts->port;
	ob->timeout_ms = opts->struct_size >= sizeof(*opts) && opts->connect_timeout_ms
	                     ? opts->connect_timeout_ms
	                     : OUTBOUND_DEFAULT_TIMEOUT_MS;
	ob->in = buf_new();
	ob->out = buf_new();
	ob->server_name = strdup(opts->server_name ? opts->server_name : opts->host);
	if (!ob->in || !ob->out || !ob->server_name ||
	    (opts->alpn && !(ob->alpn = strdup(opts->alpn)))) {
		outbound_free(ob);
		return NULL;
	}
	evtimer_assign(&ob->timer, base, outbound_timer_cb, ob);
	event_assign(&ob->ev, base, -1, 0, outbound_event_cb, ob);
	ob->in_connect = 1;
	struct timeval tv = {(time_t)(ob->timeout_ms / 1000),
	                     (suseconds_t)((ob->timeout_ms % 1000) * 1000)};
	if (opts->tls && !(ob->cred = outbound_get_cred(opts, ob->error, sizeof(ob->error)))) {
		/* Reported from the loop: the module gets its handle first. */
		struct timeval now = {0, 0};
		evtimer_add(&ob->timer, &now);
		ob->in_connect = 0;
		return ob;
	}
	evtimer_add(&ob->timer, &tv);

	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} addr;
	memset(&addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, opts->host, &addr.in.sin_addr) == 1) {
		addr.in.sin_family = AF_INET;
		addr.in.sin_port = htons(opts->port);
		outbound_connect_to(ob, &addr.sa, sizeof(addr.in));
	} else if (inet_pton(AF_INET6, opts->host, &addr.in6.sin6_addr) == 1) {
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_port = htons(opts->port);
		outbound_connect_to(ob, &addr.sa, sizeof(addr.in6));
	} else {
		if (!outbound_dns &&
		    !(outbound_dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS))) {
			outbound_fail(ob, "cannot set up name resolution");
			ob->in_connect = 0;
			return ob;
		}
		struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
		char port[8];
		snprintf(port, sizeof(port), "%u", opts->port);
		ob->state = OB_RESOLVING;
		ob->in_callback++; /* the answer may come at once */
		struct evdns_getaddrinfo_request *req = evdns_getaddrinfo(
		    outbound_dns, opts->host, port, &hints, outbound_resolved, ob);
		if (ob->state == OB_RESOLVING)
			ob->dns = req;
		ob->in_callback--;
	}
	ob->in_connect = 0;
	return ob;
}

int outbound_write(mh_outbound *ob, const void *data, size_t len)
{
	if (!ob || ob->state == OB_FAILED || ob->close_requested)
		return -1;
	if (buf_add(ob->out, data, len) < 0)
		return -1;
	if (ob->state == OB_OPEN && !ob->in_callback) {
		ob->in_callback++;
		int r = outbound_flush(ob);
		ob->in_callback--;
		if (ob->close_requested) {
			outbound_free(ob);
			return -1;
		}
		if (r < 0)
			return -1;
	}
	outbound_update(ob);
	return 0;
}

mh_buf *outbound_input(mh_outbound *ob)
{
	return ob ? (mh_buf *)ob->in : NULL;
}

const char *outbound_error(const mh_outbound *ob)
{
	if (!ob)
		return "no outbound connection (outbound_connect needs a worker and a host)";
	return ob->error[0] ? ob->error : NULL;
}

const mh_tls_info *outbound_tls(const mh_outbound *cob)
{
	mh_outbound *ob = (mh_outbound *)cob; /* the info is cached on it */
	if (!ob || !ob->session || ob->state != OB_OPEN)
		return NULL;
	if (!ob->info)
		ob->info = tls_info_build(ob->session, 1, ob->server_name, &ob->arena);
	return ob->info;
}

static void outbound_free(mh_outbound *ob)
{
	if (ob->dns)
		evdns_getaddrinfo_cancel(ob->dns); /* calls back with CANCEL, at once */
	event_del(&ob->ev);
	event_del(&ob->timer);
	if (ob->session) {
		if (ob->state == OB_OPEN)
			gnutls_bye(ob->session, GNUTLS_SHUT_WR); /* best effort, non-blocking */
		gnutls_deinit(ob->session);
	}
	if (ob->fd >= 0)
		close(ob->fd);
	if (ob->in)
		buf_free(ob->in);
	if (ob->out)
		buf_free(ob->out);
	arena_free(&ob->arena);
	free(ob->server_name);
	free(ob->alpn);
	free(ob);
}

void outbound_close(mh_outbound *ob)
{
	if (!ob)
		return;
	if (ob->in_callback) {
		ob->close_requested = 1;
		return;
	}
	outbound_free(ob);
}
