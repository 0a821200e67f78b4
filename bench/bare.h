/* bench/bare.h — what the two bare yardstick servers (bench/epoll-echo,
 * bench/uring-http) share: a listening socket on 127.0.0.1 and the fixed
 * HTTP reply of the hello benchmark. */
#ifndef MH_BENCH_BARE_H
#define MH_BENCH_BARE_H

#include <stddef.h>

/* Listen on 127.0.0.1:port (0: any free port) with SOCK_CLOEXEC and the
 * extra socket(2) type flags given (e.g. SOCK_NONBLOCK); SIGPIPE is
 * ignored.  Returns the socket and the bound port in *bound, or -1 after
 * printing why, prefixed with name. */
int bare_listen(const char *name, int port, int type_flags, int *bound);

/* The reply to every HTTP request: 200 "hello" with Date (rewritten once a
 * second), Content-Type and Content-Length.  Valid until the next call. */
const char *bare_http_reply(size_t *len);

#endif
