/* tests/integration/adminclient.c — see adminclient.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adminclient.h"

/* Whether the http1 codec is built; if not, say why the test does nothing. */
int admin_have_http1(const char *test)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/http1.so", harness_env("MODHOST_MODULE_PATH"));
	if (access(path, R_OK) == 0)
		return 1;
	fprintf(stderr, "%s: SKIPPED: %s is not built (the http1 codec)\n", test, path);
	return 0;
}

char *admin_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	harness_assert(f != NULL, "open %s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	do {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			harness_assert(buf != NULL, "out of memory");
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

void admin_http_free(struct admin_http *h)
{
	free(h->headers);
	free(h->body);
}

/* curl http://127.0.0.1:port<path> with extra arguments (shell words). */
struct admin_http admin_curl(int port, const char *path, const char *extra)
{
	struct admin_http h;
	int st;
	char *hdr = harness_tmpfile("curl.headers"), *body = harness_tmpfile("curl.body");
	char *out =
	    harness_sh(&st, "curl -s -S -o '%s' -D '%s' -w '%%{http_code}' %s 'http://127.0.0.1:%d%s'",
	       body, hdr, extra ? extra : "", port, path);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "curl %s failed: %s", path, out);
	h.code = atoi(out);
	h.headers = admin_read_file(hdr);
	h.body = admin_read_file(body);
	free(out);
	free(hdr);
	free(body);
	return h;
}

void admin_expect_http(int port, const char *path, int code, const char *body)
{
	struct admin_http h = admin_curl(port, path, NULL);
	harness_assert(h.code == code, "GET %s: %d, expected %d (body '%s')", path, h.code, code,
	               h.body);
	harness_assert(!body || strcmp(h.body, body) == 0, "GET %s: body '%s', expected '%s'", path,
	               h.body, body);
	admin_http_free(&h);
}

/* The value of header name (lower case) in h, copied into out. */
int admin_header(const struct admin_http *h, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	for (const char *p = h->headers; p && *p;) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			size_t len = strcspn(p, "\r\n");
			snprintf(out, cap, "%.*s", (int)len, p);
			return 1;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

/* One scrape through a lenprefix listener whose handler is prometheus. */
char *admin_scrape_frames(int port)
{
	int fd = harness_connect(port);
	harness_assert(fd >= 0, "connect scrape: %s", strerror(errno));
	char *text;
	size_t len;
	int r = harness_send_frame(fd, "", 0, IO_MS);
	harness_assert(r == HARNESS_OK, "send scrape: %s", harness_io_name(r));
	r = harness_recv_frame(fd, &text, &len, IO_MS);
	harness_assert(r == HARNESS_OK, "receive scrape: %s", harness_io_name(r));
	close(fd);
	return text;
}

/* The value of the sample written exactly as `series` (NAME{labels}). */
double admin_sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; (p = strstr(p, series)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	harness_fail_at(__FILE__, __LINE__, "sample", "no sample %s in:\n%s", series, text);
}

void admin_expect_sample(const char *text, const char *series, double want)
{
	double got = admin_sample(text, series);
	harness_assert(got == want, "%s = %g, expected %g", series, got, want);
}

/* promtool must accept the exposition. */
void admin_promtool_ok(const char *text)
{
	int st;
	char *path = harness_tmpfile("scrape.prom");
	harness_write_file(path, "%s", text);
	char *out = harness_sh(&st, "promtool check metrics < '%s'", path);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	               "promtool check metrics (status %d):\n%s\non:\n%s", st, out, text);
	free(out);
	free(path);
}

/* Run a python3 script (text) on file; returns its output.  The script
 * reads sys.argv[1] and prints key=value lines. */
char *admin_python(const char *script, const char *file)
{
	int st;
	char *path = harness_tmpfile("check.py");
	harness_write_file(path, "%s", script);
	char *out = harness_sh(&st, "python3 '%s' '%s'", path, file);
	harness_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "python3 on %s failed:\n%s", file,
	               out);
	free(path);
	return out;
}

void admin_expect_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return;
	harness_fail_at(__FILE__, __LINE__, "line", "'%s' not in:\n%s", line, text);
}
