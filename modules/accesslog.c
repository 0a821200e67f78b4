/* modules/accesslog.c — the access log: an observer that writes one line
 * per request (JSON or logfmt) with time, listener, route, peer, TLS
 * identity, status, bytes, duration and a correlation id.  A W3C
 * traceparent on the request is continued (same trace id, a new span id)
 * and answered with a traceparent header on the reply; without one, a
 * trace id is generated.
 *
 * Rotation: observers do not see signals, so the file is reopened when its
 * path names another file (or none) than the one open — checked at most
 * once a second, on the next write.  `mv access.log access.log.1` is
 * therefore all that rotation needs; SIGUSR1 is not required.
 *
 * Writing: one write(2) per line by default.  With `buffer = SIZE` each
 * worker gathers whole lines and writes them together when the next line
 * would not fit, `flush` after the first line waiting, and when the worker
 * finishes (worker_fini: a drain, a reload, a stop).  A worker that
 * crashes loses what it held. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "modhost.h"

static int accesslog_load(mh_module *m, const mh_host_api *api);
static int accesslog_worker_init(mh_module *m);
static void accesslog_worker_fini(mh_module *m);
static void accesslog_unload(mh_module *m);
static void accesslog_event(mh_module *m, const mh_event *ev);

static const mh_config_key accesslog_keys[] = {
    {"format", MH_CONFIG_STRING, "json", "json or logfmt"},
    {"output", MH_CONFIG_PATH, "/dev/stderr",
     "where lines go; /dev/stderr and /dev/stdout mean the daemon's own streams"},
    {"propagate", MH_CONFIG_BOOL, "yes", "answer each request with a traceparent header"},
    {"buffer", MH_CONFIG_SIZE, "0",
     "bytes of whole lines each worker gathers before one write; 0 writes each line"},
    {"flush", MH_CONFIG_DURATION, "1s", "the longest a buffered line waits"},
    {NULL, 0, NULL, NULL},
};

static const mh_observer_ops accesslog_observer = {
    .struct_size = sizeof(mh_observer_ops),
    .event = accesslog_event,
};

MH_MODULE_DECLARE(.name = "accesslog", .version = "1.0", .license = "MIT",
                  .description = "one JSON or logfmt line per request, with a trace id",
                  .roles = MH_ROLE_OBSERVER, .config_keys = accesslog_keys, .load = accesslog_load,
                  .worker_init = accesslog_worker_init, .worker_fini = accesslog_worker_fini,
                  .unload = accesslog_unload,
                  .observer = &accesslog_observer);

enum accesslog_format { ACCESSLOG_JSON = 0, ACCESSLOG_LOGFMT = 1 };

#define ACCESSLOG_LINE_MAX    16384
#define ACCESSLOG_FIELD_MAX   256 /* bytes of one field kept; escaped, at most 6x */
#define ACCESSLOG_PENDING_MAX 65536
#define ACCESSLOG_BUFFER_MAX  (16u << 20)

/* The host table, the same for every instance. */
static const mh_host_api *host;

struct accesslog {
	int format;
	int propagate;
	int fd;
	int own_fd;       /* opened here (not the daemon's stderr/stdout) */
	const char *path; /* NULL for stderr/stdout */
	dev_t dev;
	ino_t ino;
	uint64_t checked_ms; /* last time the path was compared with the fd */
	int warned;
	/* Buffered lines (buffer > 0): this worker's, allocated at its first
	 * line; the timer runs while lines wait. */
	char *buf;
	size_t buf_cap, buf_len;
	uint64_t flush_ms;
	mh_timer *flush_timer;
};

/* A request between its MSG_IN and MSG_OUT events, by request pointer.
 * Entries of requests that never got a reply (their connection died) are
 * overwritten when the message is reused, and dropped in bulk if the table
 * ever passes ACCESSLOG_PENDING_MAX. */
struct pending {
	const mh_msg *req;
	uint64_t bytes_in;
	char span[17];
};

static struct pending *pending;
static size_t pending_cap, pending_n;
static uint64_t rng_state;

/* ---- files -------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Open log->path for appending and remember which file it is.  Returns 0
 * or -1 (errno set); the old fd stays on failure. */
static int accesslog_open(struct accesslog *log)
{
	struct stat st;
	int fd = open(log->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (log->own_fd && log->fd >= 0)
		close(log->fd);
	log->fd = fd;
	log->own_fd = 1;
	log->dev = st.st_dev;
	log->ino = st.st_ino;
	return 0;
}

/* At most once a second: reopen if the path now names another file or
 * none (the old one was renamed away by rotation). */
static void accesslog_check_rotation(mh_module *m, struct accesslog *log)
{
	struct stat st;
	uint64_t now = now_ms();
	if (!log->path || now - log->checked_ms < 1000)
		return;
	log->checked_ms = now;
	if (stat(log->path, &st) == 0 && st.st_dev == log->dev && st.st_ino == log->ino)
		return;
	if (accesslog_open(log) < 0) {
		if (!log->warned)
			host->log(m, MH_LOG_ERROR, "cannot reopen %s: %s; writing to the old file",
			          log->path, strerror(errno));
		log->warned = 1;
		return;
	}
	log->warned = 0;
}

/* Write n bytes of whole lines; a full disk loses lines, not the worker. */
static void accesslog_write(mh_module *m, struct accesslog *log, const char *data, size_t n)
{
	accesslog_check_rotation(m, log);
	while (n > 0) {
		ssize_t w = write(log->fd, data, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		data += w;
		n -= (size_t)w;
	}
}

static void accesslog_flush(mh_module *m, struct accesslog *log)
{
	if (log->buf_len == 0)
		return;
	accesslog_write(m, log, log->buf, log->buf_len);
	log->buf_len = 0;
}

/* The flush timer fired (the host has freed it). */
static void accesslog_flush_due(void *arg)
{
	mh_module *m = arg;
	struct accesslog *log = host->module_data(m);
	log->flush_timer = NULL;
	accesslog_flush(m, log);
}

/* One whole line: written now, or gathered.  Lines only ever leave whole
 * and in order, so with O_APPEND the lines of several workers never mix. */
static void accesslog_emit(mh_module *m, struct accesslog *log, const char *line, size_t n)
{
	if (log->buf_cap && !log->buf && !(log->buf = malloc(log->buf_cap)))
		log->buf_cap = 0; /* out of memory: write lines one by one */
	if (n > log->buf_cap) {
		accesslog_flush(m, log);
		accesslog_write(m, log, line, n);
		return;
	}
	if (log->buf_len + n > log->buf_cap)
		accesslog_flush(m, log);
	memcpy(log->buf + log->buf_len, line, n);
	log->buf_len += n;
	if (!log->flush_timer && !(log->flush_timer = host->timer_add(log->flush_ms,
	                                                              accesslog_flush_due, m)))
		accesslog_flush(m, log); /* no timer: do not hold lines */
}

static int accesslog_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	const char *format = host->config_string(m, "format");
	const char *file = host->config_string(m, "output");
	uint64_t buffer = host->config_size(m, "buffer");
	uint64_t flush = host->config_duration_ms(m, "flush");
	if (buffer > ACCESSLOG_BUFFER_MAX) {
		host->log(m, MH_LOG_ERROR, "buffer must be at most 16MiB, not %llu",
		          (unsigned long long)buffer);
		return -1;
	}
	if (buffer && flush == 0) {
		host->log(m, MH_LOG_ERROR, "flush must be longer than 0 when buffer is set");
		return -1;
	}
	struct accesslog *log = calloc(1, sizeof(*log));
	if (!log)
		return -1;
	log->fd = -1;
	log->buf_cap = (size_t)buffer;
	log->flush_ms = flush;
	log->propagate = host->config_bool(m, "propagate");
	if (strcmp(format, "json") == 0) {
		log->format = ACCESSLOG_JSON;
	} else if (strcmp(format, "logfmt") == 0) {
		log->format = ACCESSLOG_LOGFMT;
	} else {
		host->log(m, MH_LOG_ERROR, "format '%s' is not json or logfmt", format);
		free(log);
		return -1;
	}
	if (strcmp(file, "/dev/stderr") == 0) {
		log->fd = STDERR_FILENO;
	} else if (strcmp(file, "/dev/stdout") == 0) {
		log->fd = STDOUT_FILENO;
	} else {
		log->path = file;
		/* Opened in the master: workers inherit it even after they
		 * drop privileges. */
		if (accesslog_open(log) < 0) {
			host->log(m, MH_LOG_ERROR, "cannot open %s: %s", file, strerror(errno));
			free(log);
			return -1;
		}
	}
	log->checked_ms = now_ms();
	host->module_set_data(m, log);
	return 0;
}

static void accesslog_unload(mh_module *m)
{
	struct accesslog *log = host->module_data(m);
	if (log && log->own_fd)
		close(log->fd);
	if (log)
		free(log->buf);
	free(log);
}

/* The worker is done with this generation: what it holds goes out. */
static void accesslog_worker_fini(mh_module *m)
{
	struct accesslog *log = host->module_data(m);
	if (!log)
		return;
	if (log->flush_timer) {
		host->timer_cancel(log->flush_timer);
		log->flush_timer = NULL;
	}
	accesslog_flush(m, log);
}

/* Each worker draws its own ids. */
static int accesslog_worker_init(mh_module *m)
{
	struct timespec ts;
	if (getrandom(&rng_state, sizeof(rng_state), GRND_NONBLOCK) != sizeof(rng_state)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		rng_state =
		    (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ ((uint64_t)getpid() << 16);
	}
	rng_state |= 1;
	return 0;
}

/* xorshift64*: ids need to be unique, not secret. */
static uint64_t accesslog_random(void)
{
	if (!rng_state)
		accesslog_worker_init(NULL);
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static void hex_random(char *out, size_t bytes)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < bytes; i += 8) {
		uint64_t r = accesslog_random();
		for (size_t k = 0; k < 8 && i + k < bytes; k++, r >>= 8) {
			out[2 * (i + k)] = digits[(r >> 4) & 15];
			out[2 * (i + k) + 1] = digits[r & 15];
		}
	}
	out[2 * bytes] = '\0';
}

/* ---- pending requests ------------------------------------------------------ */

static size_t pending_home(const mh_msg *req)
{
	uint64_t h = (uint64_t)(uintptr_t)req * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32) & (pending_cap - 1);
}

static struct pending *pending_find(const mh_msg *req)
{
	if (!pending_cap)
		return NULL;
	for (size_t i = pending_home(req);; i = (i + 1) & (pending_cap - 1)) {
		if (pending[i].req == req)
			return &pending[i];
		if (!pending[i].req)
			return NULL;
	}
}

static struct pending *pending_add(const mh_msg *req)
{
	struct pending *p = pending_find(req);
	if (p)
		return p;
	if (pending_n >= ACCESSLOG_PENDING_MAX) {
		memset(pending, 0, pending_cap * sizeof(*pending));
		pending_n = 0;
	}
	if ((pending_n + 1) * 2 > pending_cap) {
		size_t cap = pending_cap ? pending_cap * 2 : 64, old_cap = pending_cap;
		struct pending *old = pending, *n = calloc(cap, sizeof(*n));
		if (!n)
			return NULL;
		pending = n;
		pending_cap = cap;
		for (size_t i = 0; i < old_cap; i++) {
			if (!old[i].req)
				continue;
			size_t k = pending_home(old[i].req);
			while (pending[k].req)
				k = (k + 1) & (cap - 1);
			pending[k] = old[i];
		}
		free(old);
	}
	size_t i = pending_home(req);
	while (pending[i].req)
		i = (i + 1) & (pending_cap - 1);
	pending[i].req = req;
	pending_n++;
	return &pending[i];
}

/* Remove p, moving back the entries of its probe run. */
static void pending_remove(struct pending *p)
{
	size_t i = (size_t)(p - pending);
	pending[i].req = NULL;
	pending_n--;
	for (size_t k = (i + 1) & (pending_cap - 1); pending[k].req;
	     k = (k + 1) & (pending_cap - 1)) {
		size_t home = pending_home(pending[k].req);
		if (((k - home) & (pending_cap - 1)) >= ((k - i) & (pending_cap - 1))) {
			pending[i] = pending[k];
			pending[k].req = NULL;
			i = k;
		}
	}
}

/* ---- trace context ------------------------------------------------------------ */

/* Whether s holds n lower-case hex digits. */
static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* An id of n hex digits that are not all zero (W3C: such ids are invalid). */
static int is_id(const char *s, size_t n)
{
	if (!is_hex(s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] != '0')
			return 1;
	return 0;
}

/* A W3C traceparent "VV-TRACEID32-PARENT16-FF": the trace id and flags, or
 * 0 when it is not valid (version ff, all-zero ids, upper case, a version
 * 00 header with anything after the flags). */
static int traceparent_parse(const char *v, size_t len, char trace[33], char flags[3])
{
	if (!v || len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return 0;
	if (!is_hex(v, 2) || (v[0] == 'f' && v[1] == 'f'))
		return 0;
	if ((v[0] == '0' && v[1] == '0' && len != 55) || (len > 55 && v[55] != '-'))
		return 0;
	if (!is_id(v + 3, 32) || !is_id(v + 36, 16) || !is_hex(v + 53, 2))
		return 0;
	memcpy(trace, v + 3, 32);
	trace[32] = '\0';
	memcpy(flags, v + 53, 2);
	flags[2] = '\0';
	return 1;
}

/* A request arrives: settle its trace id, give it a span, answer with a
 * traceparent, remember its body size. */
static void accesslog_request(struct accesslog *log, mh_msg *req)
{
	char trace[33], flags[3] = "01", header[56];
	size_t len = 0;
	const char *tp = host->msg_header(req, "traceparent", &len);
	if (!traceparent_parse(tp, len, trace, flags)) {
		const char *id = host->msg_field(req, MH_FIELD_TRACE_ID, &len);
		if (id && len == 32 && is_id(id, 32)) {
			memcpy(trace, id, 32);
			trace[32] = '\0';
		} else {
			hex_random(trace, 16);
		}
	}
	host->msg_set_field(req, MH_FIELD_TRACE_ID, trace, 32);
	struct pending *p = pending_add(req);
	if (!p)
		return;
	mh_buf *body = host->msg_body(req);
	p->bytes_in = body ? host->buf_length(body) : 0;
	hex_random(p->span, 8);
	if (log->propagate) {
		/* "00-" TRACE(32) "-" SPAN(16) "-" FLAGS(2) */
		memcpy(header, "00-", 3);
		memcpy(header + 3, trace, 32);
		header[35] = '-';
		memcpy(header + 36, p->span, 16);
		header[52] = '-';
		memcpy(header + 53, flags, 2);
		header[55] = '\0';
		host->msg_add_header(host->msg_reply(req), "traceparent", header, 55);
	}
}

/* ---- lines ---------------------------------------------------------------- */

struct line {
	char buf[ACCESSLOG_LINE_MAX];
	size_t len;
	int format;
	int fields;
};

/* What the line may still take: it keeps room for the end and '\n'.
 * The small helpers below are inline, so that the constant pieces (keys,
 * quotes) are stored directly rather than through memcpy calls. */
static inline size_t line_room(const struct line *l)
{
	return sizeof(l->buf) - 2 - l->len;
}

static inline void line_add(struct line *l, const char *s, size_t n)
{
	if (n > line_room(l))
		n = line_room(l);
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static inline void line_char(struct line *l, char ch)
{
	if (line_room(l) > 0)
		l->buf[l->len++] = ch;
}

/* Whether byte ch must be escaped: quotes and backslashes, control bytes,
 * and bytes that may not be UTF-8 (the line stays one valid line in
 * either format). */
static int line_must_escape(unsigned char ch)
{
	return ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x7f;
}

/* Append v (n bytes) escaped for JSON strings or logfmt values: runs of
 * plain bytes are copied whole. */
static void line_escaped(struct line *l, const char *v, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (n > ACCESSLOG_FIELD_MAX)
		n = ACCESSLOG_FIELD_MAX;
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (!line_must_escape(ch))
			continue;
		line_add(l, v + run, i - run);
		run = i + 1;
		if (ch == '"' || ch == '\\') {
			char esc[2] = {'\\', (char)ch};
			line_add(l, esc, 2);
		} else {
			char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
			line_add(l, esc, 6);
		}
	}
	line_add(l, v + run, n - run);
}

static int logfmt_needs_quotes(const char *v, size_t n)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] == '=' || v[i] == '"' || v[i] == '\\' || v[i] >= 0x7f)
			return 1;
	return 0;
}

/* The key (a literal: its length is known where this is inlined). */
static inline void line_key(struct line *l, const char *key)
{
	size_t klen = strlen(key);
	l->fields++;
	if (klen + 4 > line_room(l))
		return; /* a line this long is cut */
	char *p = l->buf + l->len;
	if (l->format == ACCESSLOG_JSON) {
		*p++ = l->fields > 1 ? ',' : '{';
		*p++ = '"';
		memcpy(p, key, klen);
		p += klen;
		*p++ = '"';
		*p++ = ':';
	} else {
		if (l->fields > 1)
			*p++ = ' ';
		memcpy(p, key, klen);
		p += klen;
		*p++ = '=';
	}
	l->len = (size_t)(p - l->buf);
}

static inline void line_str(struct line *l, const char *key, const char *v, size_t n)
{
	line_key(l, key);
	int quote = l->format == ACCESSLOG_JSON || logfmt_needs_quotes(v, n);
	if (quote)
		line_char(l, '"');
	line_escaped(l, v, n);
	if (quote)
		line_char(l, '"');
}

static inline void line_num(struct line *l, const char *key, unsigned long long v)
{
	char num[24];
	size_t i = sizeof(num);
	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	line_key(l, key);
	line_add(l, num + i, sizeof(num) - i);
}

/* A field of the request, if the codec set it. */
static inline void line_field(struct line *l, const char *key, mh_msg *req, int field)
{
	size_t len;
	const char *v = req ? host->msg_field(req, field, &len) : NULL;
	if (v)
		line_str(l, key, v, len);
}

static int accesslog_code(const mh_msg *reply)
{
	int code = host->msg_code(reply);
	return code > 0 ? code : mh_status_http_code(host->msg_status(reply));
}

/* "2026-01-02T03:04:05.678Z" */
static void line_time(struct line *l)
{
	/* The date and time to the second are formatted once a second (per
	 * worker process); the milliseconds every time. */
	static time_t cached = -1;
	static char text[40];
	static size_t len;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		len = strftime(text, sizeof(text) - 6, "%Y-%m-%dT%H:%M:%S", &tm);
		cached = ts.tv_sec;
	}
	int ms = (int)(ts.tv_nsec / 1000000);
	text[len] = '.';
	text[len + 1] = (char)('0' + ms / 100);
	text[len + 2] = (char)('0' + ms / 10 % 10);
	text[len + 3] = (char)('0' + ms % 10);
	text[len + 4] = 'Z';
	line_str(l, "time", text, len + 5);
}

/* The reply is queued: write the request's line. */
static void accesslog_reply(mh_module *m, struct accesslog *log, const mh_event *ev)
{
	struct line l; /* not zeroed: 16 KiB of which a line uses a few hundred */
	l.len = 0;
	l.format = log->format;
	l.fields = 0;
	mh_msg *reply = ev->msg;
	mh_msg *req = host->msg_request(reply);
	struct pending *p = req ? pending_find(req) : NULL;
	const char *listener = host->conn_listener(ev->conn);
	const char *peer = host->conn_peer(ev->conn);
	const mh_tls_info *tls = host->conn_tls(ev->conn);
	mh_buf *out = host->msg_body(reply);

	line_time(&l);
	line_str(&l, "listener", listener, strlen(listener));
	line_field(&l, "route", req, MH_FIELD_ROUTE);
	line_field(&l, "protocol", req, MH_FIELD_PROTOCOL);
	line_field(&l, "method", req, MH_FIELD_METHOD);
	line_field(&l, "path", req, MH_FIELD_PATH);
	line_field(&l, "command", req, MH_FIELD_COMMAND);
	line_str(&l, "peer", peer, strlen(peer));
	if (tls && tls->version)
		line_str(&l, "tls", tls->version, strlen(tls->version));
	if (tls && tls->subject_dn)
		line_str(&l, "tls_subject", tls->subject_dn, strlen(tls->subject_dn));
	line_num(&l, "status", (unsigned long long)accesslog_code(reply));
	line_num(&l, "bytes_in", p ? p->bytes_in : 0);
	line_num(&l, "bytes_out", out ? host->buf_length(out) : 0);
	line_num(&l, "duration_us", ev->value);
	line_field(&l, "trace_id", req, MH_FIELD_TRACE_ID);
	if (p)
		line_str(&l, "span_id", p->span, 16);
	if (l.format == ACCESSLOG_JSON)
		l.buf[l.len++] = '}'; /* line_add kept room for both */
	l.buf[l.len++] = '\n';
	if (p)
		pending_remove(p);
	accesslog_emit(m, log, l.buf, l.len);
}

static void accesslog_event(mh_module *m, const mh_event *ev)
{
	struct accesslog *log = host->module_data(m);
	if (!log || !ev->msg || !ev->conn)
		return;
	if (ev->type == MH_EVENT_MSG_IN)
		accesslog_request(log, ev->msg);
	else if (ev->type == MH_EVENT_MSG_OUT)
		accesslog_reply(m, log, ev);
}
