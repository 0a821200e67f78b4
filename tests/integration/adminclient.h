/* tests/integration/adminclient.h — what the admin-plane suites
 * (check_admin, check_accesslog) share: curl against the http1 codec,
 * shell commands, Prometheus scrapes and their samples, promtool, python3
 * checks of log files, and the configuration pieces of their daemons. */
#ifndef MH_TEST_ADMINCLIENT_H
#define MH_TEST_ADMINCLIENT_H

#include <stddef.h>

#include "harness.h"

#define IO_MS 10000

#define CONF_HEAD(workers)                                                                         \
	"[server]\nworkers = " workers "\nshutdown_timeout = 5s\n"                                 \
	"[log]\nlevel = info\nformat = text\n"

/* The admin listener over http1 with the three routes of 60-admin.ini. */
#define CONF_ADMIN                                                                                 \
	"[module http1]\n[module prometheus]\n[module health]\n"                                   \
	"[listener admin]\nlisten = 127.0.0.1:0\ncodec = http1\n"                                  \
	"routes = metrics, health, status\n"                                                       \
	"[route metrics]\nmatch_path = /metrics\nhandler = prometheus\n"                           \
	"[route health]\nmatch_path = /health/\nhandler = health\n"                                \
	"[route status]\nmatch_path = /status\nhandler = health\n"

/* Whether the http1 codec is built; if not, say why the test does nothing. */
int admin_have_http1(const char *test);
/* The whole file (malloc'ed, NUL-terminated). */
char *admin_read_file(const char *path);

struct admin_http {
	int code;
	char *headers; /* as received, CRLF lines */
	char *body;
};

void admin_http_free(struct admin_http *h);
/* curl http://127.0.0.1:port<path> with extra arguments (shell words). */
struct admin_http admin_curl(int port, const char *path, const char *extra);
/* GET path must answer code, and body when not NULL. */
void admin_expect_http(int port, const char *path, int code, const char *body);
/* The value of header name (lower case) in h, copied into out; 0 if absent. */
int admin_header(const struct admin_http *h, const char *name, char *out, size_t cap);

/* One scrape through a lenprefix listener whose handler is prometheus. */
char *admin_scrape_frames(int port);
/* The value of the sample written exactly as `series` (NAME{labels}). */
double admin_sample(const char *text, const char *series);
void admin_expect_sample(const char *text, const char *series, double want);
/* promtool must accept the exposition. */
void admin_promtool_ok(const char *text);

/* Run a python3 script (text) on file; returns its output.  The script
 * reads sys.argv[1] and prints key=value lines. */
char *admin_python(const char *script, const char *file);
/* text must hold line as a whole line. */
void admin_expect_line(const char *text, const char *line);

#endif
