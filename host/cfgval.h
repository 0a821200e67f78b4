/* host/cfgval.h — parsing of configuration values: durations, sizes,
 * booleans, integers, lists, ${VAR} expansion and path resolution.  Shared by
 * the host's own sections and by module key validation.  Every function
 * returns 0 on success, or -1 with a one-line reason (no file:line: the
 * caller adds it) written into err. */
#ifndef MH_CFGVAL_H
#define MH_CFGVAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "250ms", "30s", "5m", "1h", "2d"; a bare number is seconds. */
int cfgval_duration_ms(const char *s, uint64_t *out, char *err, size_t errlen);
/* The same in microseconds, which also takes "us": "200us", "1ms". */
int cfgval_duration_us(const char *s, uint64_t *out, char *err, size_t errlen);
/* "512", "64KiB", "1MiB", "2GiB", "1k"(=1024), "10KB"(=1000), ... */
int cfgval_size(const char *s, uint64_t *out, char *err, size_t errlen);
/* yes/no, on/off, true/false, 1/0 (case-insensitive). */
int cfgval_bool(const char *s, int *out, char *err, size_t errlen);
/* Decimal integer within [min, max]. */
int cfgval_int(const char *s, int64_t min, int64_t max, int64_t *out, char *err, size_t errlen);
/* Split a comma- and/or space-separated list.  *items is a NULL-terminated
 * malloc'ed array of malloc'ed strings; free with cfgval_list_free. */
int cfgval_list(const char *s, char ***items, size_t *count, char *err, size_t errlen);
void cfgval_list_free(char **items);
/* Expand ${VAR} from the environment ("$$" is a literal "$").  An unset
 * variable is an error.  *out is malloc'ed. */
int cfgval_expand_env(const char *s, char **out, char *err, size_t errlen);
/* Absolute path: s itself if absolute, else base_dir/s.  *out is malloc'ed. */
int cfgval_path(const char *s, const char *base_dir, char **out, char *err, size_t errlen);
/* A listen address without DNS: "1.2.3.4:80", "[::1]:80", "*:80" (0.0.0.0),
 * or "unix:PATH" (PATH made absolute against base_dir, then *unix_path is
 * it, malloc'ed; else *unix_path is NULL).  Port 0 is allowed. */
int cfgval_address(const char *s, const char *base_dir, struct sockaddr_storage *addr,
                   socklen_t *addrlen, char **unix_path, char *err, size_t errlen);

#endif
