/* host/tls.c — the TLS transport: GnuTLS on the connection's socket
 * through our own push/pull functions (which count the bytes on the wire),
 * the handshake with its failure reasons, records in and out with
 * E_AGAIN/E_INTERRUPTED retried as GnuTLS requires, refused renegotiation,
 * close_notify, and the peer's identity for modules. */
#include "build-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "pipeline.h"
#include "tls.h"
#include "tlsconf.h"
#include "transport.h"
#include "worker.h"

/* The largest plaintext of one record: what one send takes, and the
 * corking unit (small replies queued together leave in one record). */
#define TLS_RECORD_MAX 16384

enum tls_flag {
	TLS_DONE = 1u << 0,             /* handshake finished */
	TLS_READ_WANTS_WRITE = 1u << 1, /* a read is blocked on sending (an alert, a KeyUpdate) */
	TLS_PEER_CLOSED = 1u << 2,      /* close_notify (or EOF) seen */
	TLS_BROKEN = 1u << 3,           /* fatal error: no close_notify */
	TLS_GOT_BYTES = 1u << 4,        /* the peer sent something */
	TLS_VERIFIED = 1u << 5,         /* a client certificate verified */
	TLS_CERT_REFUSED = 1u << 6,     /* a client certificate did not */
};

/* Per connection: about 40 bytes here, plus GnuTLS's session (~10 kB). */
struct tls_conn {
	gnutls_session_t session;
	const struct tls_listener *tl;
	mh_tls_info *info;      /* made on first conn_tls, in the conn's arena */
	uint32_t send_pending;  /* plaintext of the record GnuTLS holds after E_AGAIN */
	uint32_t verify_status; /* gnutls_certificate_status_t of a refused client cert */
	uint16_t flags;
	uint8_t first_byte; /* what the peer sent first: 0x16 for a ClientHello */
	uint8_t sys_errno;  /* the socket's errno when push or pull failed */
};

static struct tls_counters tls_count;

const struct tls_counters *tls_counters(void)
{
	return &tls_count;
}

static struct tls_conn *tls_of(const struct mh_conn *c)
{
	return c->transport_state;
}

/* ---- push and pull on the socket ------------------------------------------ */

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct mh_conn *c = ptr;
	struct tls_conn *t = tls_of(c);
	ssize_t r = recv(c->fd, buf, len, 0);
	if (r > 0) {
		if (!(t->flags & TLS_GOT_BYTES)) {
			t->first_byte = *(const unsigned char *)buf;
			t->flags |= TLS_GOT_BYTES;
		}
		c->bytes_in += (uint64_t)r;
		worker_io_bytes += (uint64_t)r;
	} else if (r < 0) {
		t->sys_errno = (uint8_t)errno;
		gnutls_transport_set_errno(t->session, errno);
	}
	return r;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct mh_conn *c = ptr;
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t r = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
	if (r > 0)
		c->bytes_out += (uint64_t)r;
	else if (r < 0) {
		tls_of(c)->sys_errno = (uint8_t)errno;
		gnutls_transport_set_errno(tls_of(c)->session, errno);
	}
	return r;
}

/* GnuTLS asks this only in rare paths; never block the worker's loop. */
static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
	struct mh_conn *c = ptr;
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	(void)ms;
	return poll(&p, 1, 0);
}

/* ---- opening and closing ----------------------------------------------------- */

static int tls_open(struct mh_conn *c)
{
	const struct tls_listener *tl = c->sl->tls;
	const struct tls_settings *ts = tl->ts;
	struct tls_conn *t = calloc(1, sizeof(*t));
	const gnutls_datum_t *stek = tlsconf_ticket_key();
	if (!t)
		return -1;
	t->tl = tl;
	c->transport_state = t;
	unsigned flags = GNUTLS_SERVER | GNUTLS_NONBLOCK;
	if (!ts->tickets || !stek)
		flags |= GNUTLS_NO_TICKETS;
	if (gnutls_init(&t->session, flags) < 0) {
		t->session = NULL;
		return -1;
	}
	gnutls_session_t s = t->session;
	if (gnutls_priority_set(s, tl->prio) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tl->cred) < 0)
		return -1;
	if (ts->verify_client != TLS_VERIFY_OFF)
		gnutls_certificate_server_set_request(s, ts->verify_client == TLS_VERIFY_REQUIRE
		                                             ? GNUTLS_CERT_REQUIRE
		                                             : GNUTLS_CERT_REQUEST);
	if (ts->tickets && stek) {
		/* The lifetime first: GnuTLS derives the ticket key's period
		 * (3 x lifetime) from it when tickets are enabled. */
		gnutls_db_set_cache_expiration(s, (int)tl->expire_s);
		if (gnutls_session_ticket_enable_server(s, stek) < 0)
			return -1;
	}
	/* tls_alpn_required is enforced after the handshake (tls_pick_codec),
	 * the same way for a client without ALPN and one without an id in
	 * common. */
	if (tl->n_alpn && gnutls_alpn_set_protocols(s, tl->alpn, (unsigned)tl->n_alpn,
	                                            GNUTLS_ALPN_SERVER_PRECEDENCE) < 0)
		return -1;
	gnutls_session_set_ptr(s, c);
	gnutls_transport_set_ptr(s, c);
	gnutls_transport_set_pull_function(s, tls_pull);
	gnutls_transport_set_vec_push_function(s, tls_push);
	gnutls_transport_set_pull_timeout_function(s, tls_pull_timeout);
	gnutls_handshake_set_timeout(s, 0); /* ours: tls_handshake_timeout */
	return 0;
}

/* Send close_notify if the session ended cleanly (best effort: the socket
 * is closed right after), then free everything. */
static void tls_close(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	if (!t)
		return;
	if (t->session) {
		if ((t->flags & TLS_DONE) && !(t->flags & TLS_BROKEN))
			gnutls_bye(t->session, GNUTLS_SHUT_WR);
		gnutls_deinit(t->session);
	}
	free(t);
	c->transport_state = NULL;
}

/* ---- the handshake ----------------------------------------------------------- */

static uint64_t tls_handshake_timeout_ms(const struct mh_conn *c)
{
	return tls_of(c)->tl->ts->handshake_timeout_ms;
}

/* The subject DN of the peer's first certificate, into buf ("" if none). */
static void tls_peer_subject(gnutls_session_t s, char *buf, size_t len)
{
	unsigned n = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
	gnutls_x509_crt_t crt;
	buf[0] = '\0';
	if (!chain || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0) {
		size_t size = len;
		if (gnutls_x509_crt_get_dn(crt, buf, &size) < 0)
			buf[0] = '\0';
	}
	gnutls_x509_crt_deinit(crt);
}

int tls_verify_client_cb(gnutls_session_t session)
{
	struct mh_conn *c = gnutls_session_get_ptr(session);
	struct tls_conn *t = tls_of(c);
	unsigned n = 0;
	if (!gnutls_certificate_get_peers(session, &n) || n == 0) {
		if (t->tl->ts->verify_client == TLS_VERIFY_REQUIRE) {
			t->flags |= TLS_CERT_REFUSED;
			return -1;
		}
		return 0; /* optional, and none sent */
	}
	gnutls_typed_vdata_st purpose = {
	    .type = GNUTLS_DT_KEY_PURPOSE_OID,
	    .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	unsigned status = 0;
	if (gnutls_certificate_verify_peers(session, &purpose, 1, &status) < 0 || status != 0) {
		t->verify_status = status ? status : GNUTLS_CERT_INVALID;
		t->flags |= TLS_CERT_REFUSED;
		return -1;
	}
	t->flags |= TLS_VERIFIED;
	return 0;
}

/* Why the handshake failed, for the log (text) and for observers (a short
 * key in *detail). */
static void tls_failure_reason(struct mh_conn *c, int err, char *text, size_t len,
                               const char **detail)
{
	struct tls_conn *t = tls_of(c);
	gnutls_session_t s = t->session;
	if (t->flags & TLS_CERT_REFUSED) {
		char subject[256];
		tls_peer_subject(s, subject, sizeof(subject));
		*detail = "client_certificate";
		if (!subject[0]) {
			snprintf(text, len, "no client certificate (tls_verify_client = require)");
			return;
		}
		gnutls_datum_t why = {NULL, 0};
		gnutls_certificate_verification_status_print(t->verify_status, GNUTLS_CRT_X509,
		                                             &why, 0);
		snprintf(text, len, "client certificate '%s' refused: %s", subject,
		         why.data ? (const char *)why.data : "not verified");
		gnutls_free(why.data);
		return;
	}
	if ((err == GNUTLS_E_NO_CERTIFICATE_FOUND || err == GNUTLS_E_CERTIFICATE_REQUIRED) &&
	    t->tl->ts->verify_client == TLS_VERIFY_REQUIRE) {
		t->flags |= TLS_CERT_REFUSED;
		*detail = "client_certificate";
		snprintf(text, len, "no client certificate (tls_verify_client = require)");
		return;
	}
	if ((t->flags & TLS_GOT_BYTES) && t->first_byte != 0x16) {
		int printable = t->first_byte >= 0x20 && t->first_byte < 0x7f;
		*detail = "not_tls";
		snprintf(text, len, "not a TLS ClientHello (first byte 0x%02x%s%c%s)",
		         t->first_byte, printable ? " '" : "", printable ? t->first_byte : ' ',
		         printable ? "': plaintext on a TLS port?" : "");
		return;
	}
	if (err == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		*detail = "peer_alert";
		snprintf(text, len, "the client sent alert '%s'",
		         gnutls_alert_get_name(gnutls_alert_get(s)));
		return;
	}
	if (err == GNUTLS_E_PREMATURE_TERMINATION || err == GNUTLS_E_PULL_ERROR ||
	    err == GNUTLS_E_PUSH_ERROR) {
		*detail = "closed";
		snprintf(text, len, "the client closed the connection mid-handshake (%s: %s)",
		         t->flags & TLS_GOT_BYTES ? "truncated handshake" : "nothing sent",
		         err != GNUTLS_E_PREMATURE_TERMINATION && t->sys_errno
		             ? strerror(t->sys_errno)
		             : gnutls_strerror(err));
		return;
	}
	if (err == GNUTLS_E_UNSUPPORTED_VERSION_PACKET) {
		*detail = "version";
		snprintf(text, len, "the client offers no TLS version this listener accepts (%s)",
		         t->tl->ts->priority ? "tls_priority" : "TLS 1.2 and 1.3");
		return;
	}
	if (err == GNUTLS_E_NO_APPLICATION_PROTOCOL) {
		*detail = "no_alpn";
		snprintf(text, len, "no ALPN protocol in common (tls_alpn_required)");
		return;
	}
	*detail = "protocol";
	snprintf(text, len, "%s", gnutls_strerror(err));
}

static void tls_handshake_failed(struct mh_conn *c, int err)
{
	struct tls_conn *t = tls_of(c);
	const char *detail;
	char text[600];
	tls_failure_reason(c, err, text, sizeof(text), &detail);
	t->flags |= TLS_BROKEN;
	tls_count.failed++;
	if (t->flags & TLS_CERT_REFUSED)
		tls_count.client_cert_refused++;
	/* Tell the client why, if it is still there (best effort). */
	if (err != GNUTLS_E_PREMATURE_TERMINATION && err != GNUTLS_E_PULL_ERROR &&
	    err != GNUTLS_E_PUSH_ERROR && err != GNUTLS_E_FATAL_ALERT_RECEIVED)
		gnutls_alert_send_appropriate(t->session, err);
	log_info("listener '%s': TLS handshake with %s failed: %s", c->sl->ls->name,
	         conn_peer_text(c), text);
	pipeline_observe(c, MH_EVENT_TLS_HANDSHAKE, NULL, detail, 0);
}

static void tls_handshake_timed_out(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	t->flags |= TLS_BROKEN;
	tls_count.failed++;
	tls_count.timeouts++;
	log_info("listener '%s': TLS handshake with %s timed out after %llums (%llu bytes "
	         "received)",
	         c->sl->ls->name, conn_peer_text(c),
	         (unsigned long long)tls_handshake_timeout_ms(c), (unsigned long long)c->bytes_in);
	pipeline_observe(c, MH_EVENT_TLS_HANDSHAKE, NULL, "timeout", 0);
}

/* The codec for the negotiated ALPN id; the listener's own without one.
 * NULL: tls_alpn_required and the client offered nothing we speak. */
static struct mh_module *tls_pick_codec(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	const struct tls_listener *tl = t->tl;
	gnutls_datum_t proto;
	if (tl->n_alpn && gnutls_alpn_get_selected_protocol(t->session, &proto) == 0) {
		for (size_t i = 0; i < tl->n_alpn; i++)
			if (tl->alpn[i].size == proto.size &&
			    memcmp(tl->alpn[i].data, proto.data, proto.size) == 0)
				return tl->alpn_codec[i];
	}
	return tl->ts->alpn_required ? NULL : c->sl->codec;
}

static void tls_log_done(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	gnutls_session_t s = t->session;
	if (t->flags & TLS_VERIFIED) {
		const mh_tls_info *info = tls_conn_info(c);
		log_info("listener '%s': %s authenticated by client certificate '%s' (sha256 %s)",
		         c->sl->ls->name, conn_peer_text(c),
		         info && info->subject_dn ? info->subject_dn : "?",
		         info && info->fingerprint_sha256 ? info->fingerprint_sha256 : "?");
	}
	if (log_enabled(MH_LOG_DEBUG)) {
		gnutls_datum_t alpn = {NULL, 0};
		gnutls_alpn_get_selected_protocol(s, &alpn);
		log_debug("listener '%s': TLS handshake with %s done: %s %s%s%.*s%s",
		          c->sl->ls->name, conn_peer_text(c),
		          gnutls_protocol_get_name(gnutls_protocol_get_version(s)),
		          gnutls_cipher_get_name(gnutls_cipher_get(s)), alpn.size ? " alpn=" : "",
		          (int)alpn.size, alpn.data ? (const char *)alpn.data : "",
		          gnutls_session_is_resumed(s) ? " resumed" : "");
	}
}

/* The handshake finished: choose the codec, count, tell observers. */
static int tls_handshake_done(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	struct mh_module *codec = tls_pick_codec(c);
	if (!codec) {
		gnutls_alert_send(t->session, GNUTLS_AL_FATAL, GNUTLS_A_NO_APPLICATION_PROTOCOL);
		tls_handshake_failed(c, GNUTLS_E_NO_APPLICATION_PROTOCOL);
		return TRANSPORT_ERROR;
	}
	t->flags |= TLS_DONE;
	tls_count.handshakes++;
	if (gnutls_session_is_resumed(t->session))
		tls_count.resumed++;
	tls_log_done(c);
	pipeline_observe(c, MH_EVENT_TLS_HANDSHAKE, NULL,
	                 gnutls_protocol_get_name(gnutls_protocol_get_version(t->session)), 1);
	if (conn_codec_start(c, codec) < 0) {
		t->flags |= TLS_BROKEN;
		return TRANSPORT_ERROR;
	}
	return TRANSPORT_OK;
}

static int tls_handshake(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	int r;
	for (int warnings = 0;;) {
		r = gnutls_handshake(t->session);
		if (r == GNUTLS_E_INTERRUPTED)
			continue;
		/* A warning alert mid-handshake: go on, but not forever. */
		if (r == GNUTLS_E_WARNING_ALERT_RECEIVED && ++warnings < 4)
			continue;
		break;
	}
	if (r == GNUTLS_E_AGAIN)
		return TRANSPORT_AGAIN;
	if (r < 0) {
		tls_handshake_failed(c, r);
		return TRANSPORT_ERROR;
	}
	return tls_handshake_done(c);
}

/* ---- records ------------------------------------------------------------------ */

/* A client asked to renegotiate (TLS 1.2): refused, and the connection
 * closed, as nginx does; renegotiation only costs the server CPU. */
static int tls_refuse_renegotiation(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	tls_count.renegotiation_refused++;
	gnutls_alert_send(t->session, GNUTLS_AL_FATAL, GNUTLS_A_NO_RENEGOTIATION);
	t->flags |= TLS_BROKEN;
	log_info("listener '%s': %s asked to renegotiate: refused, closing", c->sl->ls->name,
	         conn_peer_text(c));
	errno = EPROTO;
	return TRANSPORT_ERROR;
}

/* Read records until max bytes of plaintext arrived or the socket is dry.
 * Plaintext GnuTLS still holds is announced by tls_pending. */
static int tls_read(struct mh_conn *c, size_t max, size_t *n)
{
	static unsigned char scratch[TLS_RECORD_MAX];
	struct tls_conn *t = tls_of(c);
	*n = 0;
	if (t->flags & TLS_PEER_CLOSED)
		return TRANSPORT_EOF;
	t->flags &= ~TLS_READ_WANTS_WRITE;
	while (*n < max) {
		size_t want = max - *n < sizeof(scratch) ? max - *n : sizeof(scratch);
		ssize_t r = gnutls_record_recv(t->session, scratch, want);
		if (r > 0) {
			if (buf_add(c->in, scratch, (size_t)r) < 0)
				return TRANSPORT_ERROR;
			*n += (size_t)r;
			continue;
		}
		if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_WARNING_ALERT_RECEIVED)
			continue;
		if (r == GNUTLS_E_AGAIN) {
			if (gnutls_record_get_direction(t->session) == 1)
				t->flags |= TLS_READ_WANTS_WRITE;
			return *n ? TRANSPORT_OK : TRANSPORT_AGAIN;
		}
		if (r == 0 || r == GNUTLS_E_PREMATURE_TERMINATION) {
			/* close_notify, or a bare TCP close (most clients). */
			t->flags |= TLS_PEER_CLOSED;
			if (r != 0)
				t->flags |= TLS_BROKEN;
			return *n ? TRANSPORT_OK : TRANSPORT_EOF;
		}
		if (r == GNUTLS_E_REHANDSHAKE)
			return tls_refuse_renegotiation(c);
		t->flags |= TLS_BROKEN;
		if (r == GNUTLS_E_FATAL_ALERT_RECEIVED)
			log_info("listener '%s': %s sent TLS alert '%s'", c->sl->ls->name,
			         conn_peer_text(c),
			         gnutls_alert_get_name(gnutls_alert_get(t->session)));
		else if (r != GNUTLS_E_PULL_ERROR)
			log_info("listener '%s': TLS error from %s: %s", c->sl->ls->name,
			         conn_peer_text(c), gnutls_strerror((int)r));
		if (r != GNUTLS_E_PULL_ERROR)
			errno = EPROTO;
		return TRANSPORT_ERROR;
	}
	return TRANSPORT_OK;
}

/* Encrypt c->out a record (at most TLS_RECORD_MAX bytes, small replies
 * together) at a time.  After E_AGAIN GnuTLS keeps the encrypted record;
 * the retry passes NULL, 0 ("the same data as before") and the plaintext
 * stays in c->out until GnuTLS has sent it, so the output high-water mark
 * still bounds what a slow reader costs (plus one record). */
static int tls_write(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	if (!(t->flags & TLS_DONE))
		return TRANSPORT_AGAIN;
	while (t->send_pending || buf_length(c->out) > 0) {
		ssize_t r;
		size_t len = t->send_pending;
		if (len) {
			r = gnutls_record_send(t->session, NULL, 0);
		} else {
			len = buf_length(c->out);
			if (len > TLS_RECORD_MAX)
				len = TLS_RECORD_MAX;
			r = gnutls_record_send(t->session, buf_data(c->out), len);
		}
		if (r > 0) {
			buf_drain(c->out, (size_t)r);
			t->send_pending = 0;
			continue;
		}
		if (r == GNUTLS_E_INTERRUPTED || r == GNUTLS_E_AGAIN) {
			t->send_pending = (uint32_t)len;
			if (r == GNUTLS_E_AGAIN)
				return TRANSPORT_AGAIN;
			continue;
		}
		t->flags |= TLS_BROKEN;
		/* A peer gone away (reset, closed) is no TLS error: errno says. */
		if (r != GNUTLS_E_PUSH_ERROR && r != GNUTLS_E_PREMATURE_TERMINATION) {
			log_info("listener '%s': TLS error sending to %s: %s", c->sl->ls->name,
			         conn_peer_text(c), gnutls_strerror((int)r));
			errno = EPROTO;
		}
		return TRANSPORT_ERROR;
	}
	return TRANSPORT_OK;
}

static void tls_shutdown(struct mh_conn *c)
{
	struct tls_conn *t = tls_of(c);
	if ((t->flags & TLS_DONE) && !(t->flags & TLS_BROKEN))
		gnutls_bye(t->session, GNUTLS_SHUT_WR);
}

static short tls_events(const struct mh_conn *c)
{
	const struct tls_conn *t = tls_of(c);
	if (!(t->flags & TLS_DONE))
		return gnutls_record_get_direction(t->session) == 1 ? EV_WRITE : EV_READ;
	return t->flags & TLS_READ_WANTS_WRITE ? EV_WRITE : 0;
}

static size_t tls_pending(const struct mh_conn *c)
{
	const struct tls_conn *t = tls_of(c);
	if (!(t->flags & TLS_DONE) || (t->flags & TLS_PEER_CLOSED))
		return 0;
	return gnutls_record_check_pending(t->session);
}

const struct transport_ops transport_tls = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .open = tls_open,
    .handshake = tls_handshake,
    .handshake_timeout_ms = tls_handshake_timeout_ms,
    .handshake_timed_out = tls_handshake_timed_out,
    .events = tls_events,
    .pending = tls_pending,
    .close = tls_close,
};

/* ---- identity ---------------------------------------------------------------- */

static char *tls_arena_copy(struct arena **a, const void *data, size_t len)
{
	char *s = arena_alloc(a, len + 1);
	if (s && len)
		memcpy(s, data, len);
	return s;
}

/* The DN of crt (subject or issuer) in RFC 4514 form, in the arena. */
static const char *tls_dn(gnutls_x509_crt_t crt, int issuer, struct arena **a)
{
	gnutls_datum_t dn = {NULL, 0};
	int r = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0)
	               : gnutls_x509_crt_get_dn3(crt, &dn, 0);
	if (r < 0)
		return NULL;
	char *s = tls_arena_copy(a, dn.data, dn.size);
	gnutls_free(dn.data);
	return s;
}

/* subjectAltName entries as "DNS:x", "IP:1.2.3.4", "URI:..", "email:..". */
static const char *const *tls_sans(gnutls_x509_crt_t crt, struct arena **a)
{
	enum { MAX_SAN = 32 };
	const char **list = arena_alloc(a, (MAX_SAN + 1) * sizeof(*list));
	size_t n = 0;
	if (!list)
		return NULL;
	for (unsigned i = 0; n < MAX_SAN; i++) {
		char buf[512], text[600];
		size_t size = sizeof(buf);
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type < 0)
			continue;
		switch (type) {
		case GNUTLS_SAN_DNSNAME:
			snprintf(text, sizeof(text), "DNS:%.*s", (int)size, buf);
			break;
		case GNUTLS_SAN_RFC822NAME:
			snprintf(text, sizeof(text), "email:%.*s", (int)size, buf);
			break;
		case GNUTLS_SAN_URI:
			snprintf(text, sizeof(text), "URI:%.*s", (int)size, buf);
			break;
		case GNUTLS_SAN_IPADDRESS: {
			char ip[64];
			if (!inet_ntop(size == 4 ? AF_INET : AF_INET6, buf, ip, sizeof(ip)))
				continue;
			snprintf(text, sizeof(text), "IP:%s", ip);
			break;
		}
		default: continue;
		}
		if (!(list[n] = arena_strdup(a, text)))
			return NULL;
		n++;
	}
	list[n] = NULL;
	return list;
}

static const char *tls_fingerprint(const gnutls_datum_t *der, struct arena **a)
{
	unsigned char md[32];
	char *hex = arena_alloc(a, sizeof(md) * 2 + 1);
	if (!hex || gnutls_hash_fast(GNUTLS_DIG_SHA256, der->data, der->size, md) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

/* The peer certificate's fields into info. */
static int tls_info_peer(gnutls_session_t s, mh_tls_info *info, struct arena **a)
{
	unsigned n = 0;
	const gnutls_datum_t *chain = gnutls_certificate_get_peers(s, &n);
	gnutls_x509_crt_t crt;
	if (!chain || n == 0)
		return 0;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	int r = -1;
	if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0) {
		info->subject_dn = tls_dn(crt, 0, a);
		info->issuer_dn = tls_dn(crt, 1, a);
		info->san = tls_sans(crt, a);
		info->fingerprint_sha256 = tls_fingerprint(&chain[0], a);
		r = info->subject_dn && info->san && info->fingerprint_sha256 ? 0 : -1;
	}
	gnutls_x509_crt_deinit(crt);
	return r;
}

mh_tls_info *tls_info_build(gnutls_session_t s, int verified, const char *sni, struct arena **arena)
{
	mh_tls_info *info = arena_alloc(arena, sizeof(*info));
	if (!info)
		return NULL;
	info->struct_size = sizeof(*info);
	info->verified = verified;
	info->version = gnutls_protocol_get_name(gnutls_protocol_get_version(s));
	info->cipher = gnutls_cipher_get_name(gnutls_cipher_get(s));
	gnutls_datum_t alpn;
	if (gnutls_alpn_get_selected_protocol(s, &alpn) == 0 &&
	    !(info->alpn = tls_arena_copy(arena, alpn.data, alpn.size)))
		return NULL;
	if (sni) {
		info->sni = arena_strdup(arena, sni);
	} else {
		char name[256];
		size_t len = sizeof(name) - 1;
		unsigned type;
		if (gnutls_server_name_get(s, name, &len, &type, 0) == 0 && type == GNUTLS_NAME_DNS)
			info->sni = tls_arena_copy(arena, name, strnlen(name, len));
	}
	if (tls_info_peer(s, info, arena) < 0)
		return NULL;
	return info;
}

const mh_tls_info *tls_conn_info(const struct mh_conn *cc)
{
	struct mh_conn *c = (struct mh_conn *)cc; /* the info is cached on it */
	if (c->transport != &transport_tls || !c->transport_state)
		return NULL;
	struct tls_conn *t = tls_of(c);
	if (!(t->flags & TLS_DONE))
		return NULL;
	if (!t->info)
		t->info = tls_info_build(t->session, !!(t->flags & TLS_VERIFIED), NULL, &c->arena);
	return t->info;
}
