/* bench/bare.h — what the two bare yardstick servers (bench/epoll-echo,
 * bench/uring-http) share: a listening socket on 127.0.0.1 and the fixed
 * HTTP reply of the hello benchmark. */
#ifndef MH_BENCH_BARE_H
#define MH_BENCH_BARE_H

#include <stddef.h>
#include <sys/types.h>

/* Listen on 127.0.0.1:port (0: any free port) with SOCK_CLOEXEC and the
 * extra socket(2) type flags given (e.g. SOCK_NONBLOCK); SIGPIPE is
 * ignored.  Returns the socket and the bound port in *bound, or -1 after
 * printing why, prefixed with name. */
int bare_listen(const char *name, int port, int type_flags, int *bound);

/* Parse "[FLAG] [PORT]": *flag_set says whether argv[1] was flag; returns
 * the port (0: any free one). */
int bare_args(int argc, char **argv, const char *flag, int *flag_set);

/* Accept one connection on the non-blocking listener lfd as a non-blocking
 * socket with TCP_NODELAY; -1 when none is waiting (or on an error). */
int bare_accept(int lfd);

/* Send as much of p[0..len) as the socket takes; returns the bytes sent,
 * or -1 when the connection must close. */
ssize_t bare_send(int fd, const void *p, size_t len);

/* Append the HTTP reply to the buffer *out (*len used of *cap), growing it
 * up to max bytes; -1 when it would pass max. */
int bare_append_http_reply(char **out, size_t *len, size_t *cap, size_t max);

/* The reply to every HTTP request: 200 "hello" with Date (rewritten once a
 * second), Content-Type and Content-Length.  Valid until the next call. */
const char *bare_http_reply(size_t *len);

#endif
