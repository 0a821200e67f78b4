/* host/log.c — the host's log: one line per event in text, logfmt or JSON,
 * built in a stack buffer and written with one write(2) so that lines from
 * the master and the workers never interleave. */
#include "build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Longest line written, newline included; longer messages end in "...". */
#define LOG_LINE_MAX 4096

static struct {
	int fd;     /* 2 = stderr */
	char *path; /* NULL = stderr */
	int level;
	int format;
	char role[32]; /* "master", "worker.3", ... */
} log_state = {2, NULL, MH_LOG_INFO, LOG_FORMAT_TEXT, "modhostd"};

static const char *const log_level_names[] = {"error", "warn", "info", "debug"};
static const char *const log_level_upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const log_format_names[] = {"text", "logfmt", "json"};

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, log_level_names[i]) == 0)
			return i;
	return -1;
}

int log_format_parse(const char *s)
{
	for (int i = 0; i < 3; i++)
		if (strcasecmp(s, log_format_names[i]) == 0)
			return i;
	return -1;
}

static int log_open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int log_open(const char *path, int level, int format, char *err, size_t errlen)
{
	int fd = 2;
	char *copy = NULL;

	if (level < MH_LOG_ERROR || level > MH_LOG_DEBUG || format < LOG_FORMAT_TEXT ||
	    format > LOG_FORMAT_JSON) {
		snprintf(err, errlen, "bad log level %d or format %d", level, format);
		return -1;
	}
	if (path && strcmp(path, "stderr") != 0) {
		copy = strdup(path);
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		fd = log_open_path(path);
		if (fd < 0) {
			snprintf(err, errlen, "cannot open log file %s: %s", path, strerror(errno));
			free(copy);
			return -1;
		}
	}
	if (log_state.fd != 2)
		close(log_state.fd);
	free(log_state.path);
	log_state.fd = fd;
	log_state.path = copy;
	log_state.level = level;
	log_state.format = format;
	return 0;
}

int log_reopen(void)
{
	int fd;

	if (!log_state.path)
		return 0;
	fd = log_open_path(log_state.path);
	if (fd < 0) {
		int e = errno;
		log_error("cannot reopen log file %s: %s", log_state.path, strerror(e));
		return -1;
	}
	close(log_state.fd);
	log_state.fd = fd;
	return 0;
}

void log_set_process(const char *role, int worker_id)
{
	if (worker_id >= 0)
		snprintf(log_state.role, sizeof(log_state.role), "%s.%d", role, worker_id);
	else
		snprintf(log_state.role, sizeof(log_state.role), "%s", role);
}

int log_enabled(int level)
{
	return level <= log_state.level;
}

/* A line under construction: text goes in while it fits below cap. */
struct log_line {
	char *buf;
	size_t len, cap;
};

static void log_put(struct log_line *l, const char *s, size_t n)
{
	if (n > l->cap - l->len)
		n = l->cap - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void log_puts(struct log_line *l, const char *s)
{
	log_put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t log_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Append s escaped for the line's format, keeping `reserve` bytes free at
 * the end; if s does not fit, stop at a whole character and add "...".
 * JSON follows RFC 8259 (invalid UTF-8 becomes U+FFFD); logfmt escapes
 * quotes and backslashes, and both logfmt and text write control characters
 * and invalid UTF-8 as \n, \t, \xHH..., so that one event is one line. */
static void log_escape(struct log_line *l, const char *str, size_t reserve, int format)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	size_t limit = l->cap - reserve - 3; /* room for "..." */

	for (size_t i = 0; i < n;) {
		char tmp[8];
		size_t tlen, step = 1;
		unsigned char c = s[i];

		if (c == '"' && format != LOG_FORMAT_TEXT)
			tlen = (size_t)snprintf(tmp, sizeof(tmp), "\\\"");
		else if (c == '\\' && format != LOG_FORMAT_TEXT)
			tlen = (size_t)snprintf(tmp, sizeof(tmp), "\\\\");
		else if (c == '\n')
			tlen = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
		else if (c == '\r')
			tlen = (size_t)snprintf(tmp, sizeof(tmp), "\\r");
		else if (c == '\t')
			tlen = (size_t)snprintf(tmp, sizeof(tmp), "\\t");
		else if (c < 0x20 || c == 0x7f)
			tlen = (size_t)snprintf(
			    tmp, sizeof(tmp), format == LOG_FORMAT_JSON ? "\\u%04x" : "\\x%02x", c);
		else if (c < 0x80) {
			tmp[0] = (char)c;
			tlen = 1;
		} else if ((step = log_utf8_len(s + i, n - i)) > 0) {
			memcpy(tmp, s + i, step);
			tlen = step;
		} else {
			step = 1;
			tlen = (size_t)snprintf(
			    tmp, sizeof(tmp), format == LOG_FORMAT_JSON ? "\\ufffd" : "\\x%02x", c);
		}
		if (l->len + tlen > limit) {
			log_puts(l, "...");
			return;
		}
		log_put(l, tmp, tlen);
		i += step;
	}
}

/* Whether a logfmt value must be quoted. */
static int log_needs_quotes(const char *s)
{
	if (!*s)
		return 1;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == '=' || *s == '"' || *s == '\\' || *s == 0x7f)
			return 1;
	return 0;
}

void log_vwrite(int level, const char *module, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	char buf[LOG_LINE_MAX];
	char ts[96], head[256];
	struct log_line l = {buf, 0, sizeof(buf)};
	struct timespec now;
	struct tm tm;
	int saved = errno;
	int format = log_state.format;

	if (!log_enabled(level))
		return;
	if (level < MH_LOG_ERROR)
		level = MH_LOG_ERROR;
	if (level > MH_LOG_DEBUG)
		level = MH_LOG_DEBUG;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		snprintf(msg, sizeof(msg), "(bad log format)");
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         now.tv_nsec / 1000000);

	if (format == LOG_FORMAT_JSON) {
		snprintf(head, sizeof(head), "{\"ts\":\"%s\",\"level\":\"%s\",\"proc\":\"", ts,
		         log_level_names[level]);
		log_puts(&l, head);
		log_escape(&l, log_state.role, 64, format);
		snprintf(head, sizeof(head), "\",\"pid\":%ld,", (long)getpid());
		log_puts(&l, head);
		if (module) {
			log_puts(&l, "\"module\":\"");
			log_escape(&l, module, 64, format);
			log_puts(&l, "\",");
		}
		log_puts(&l, "\"msg\":\"");
		log_escape(&l, msg, 3, format);
		log_puts(&l, "\"}\n");
	} else if (format == LOG_FORMAT_LOGFMT) {
		snprintf(head, sizeof(head), "ts=%s level=%s proc=", ts, log_level_names[level]);
		log_puts(&l, head);
		log_escape(&l, log_state.role, 64, format);
		snprintf(head, sizeof(head), " pid=%ld ", (long)getpid());
		log_puts(&l, head);
		if (module) {
			int q = log_needs_quotes(module);
			log_puts(&l, q ? "module=\"" : "module=");
			log_escape(&l, module, 64, format);
			log_puts(&l, q ? "\" " : " ");
		}
		log_puts(&l, "msg=\"");
		log_escape(&l, msg, 2, format);
		log_puts(&l, "\"\n");
	} else {
		snprintf(head, sizeof(head), "%s %s %s[%ld]: ", ts, log_level_upper[level],
		         log_state.role, (long)getpid());
		log_puts(&l, head);
		if (module) {
			log_puts(&l, "module ");
			log_escape(&l, module, 64, format);
			log_puts(&l, ": ");
		}
		log_escape(&l, msg, 1, format);
		log_puts(&l, "\n");
	}

	for (size_t off = 0; off < l.len;) {
		ssize_t w = write(log_state.fd, l.buf + off, l.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved;
}

void log_write(int level, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, module, fmt, ap);
	va_end(ap);
}
