/* tests/integration/resptest.h — what the RESP integration suites share:
 * the kv configuration pieces, byte-exact request/reply helpers on raw
 * sockets, and redis-cli.  Each helper fails the test on error. */
#ifndef MH_TEST_RESPTEST_H
#define MH_TEST_RESPTEST_H

#include <stddef.h>

#include "harness.h"

#define IO_MS 10000

/* [server] and [log] for a test; `workers` is a string literal. */
#define CONF_HEAD(workers)                                                                         \
	"[server]\nworkers = " workers "\nshutdown_timeout = 5s\n"                                 \
	"[log]\nlevel = info\nformat = text\n"

/* resp + kv on listener "kv"; module keys may follow each section. */
#define CONF_KV(resp_keys, kv_keys)                                                                \
	"[module resp]\n" resp_keys "[module kv]\n" kv_keys                                        \
	"[listener kv]\nlisten = 127.0.0.1:0\ncodec = resp\nhandler = kv\n"

void resptest_send(int fd, const void *data, size_t len);
void resptest_send_str(int fd, const char *s);
/* Receive exactly strlen(want) bytes and compare them with want. */
void resptest_expect(int fd, const char *want);
/* Send a request and expect its reply. */
void resptest_roundtrip(int fd, const char *request, const char *want);
/* The peer closes, with nothing more before. */
void resptest_expect_closed(int fd, const char *what);
/* Run redis-cli -p port [args...] and return its output (free it); the
 * exit status must be 0. */
char *resptest_cli(int port, const char *const *args);

#define CLI_EXPECT(port, want, ...)                                                                \
	do {                                                                                       \
		const char *const a_[] = {__VA_ARGS__, NULL};                                      \
		char *out_ = resptest_cli(port, a_);                                               \
		harness_assert(strcmp(out_, want) == 0, "redis-cli %s: got '%s', expected '%s'",   \
		               #__VA_ARGS__, out_, want);                                          \
		free(out_);                                                                        \
	} while (0)

#endif
