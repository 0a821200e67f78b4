/* host/cfgval.c — parsers for configuration values: durations, sizes,
 * booleans, integers, lists, ${VAR} expansion, paths and listen addresses.
 * Each returns 0, or -1 with a one-line reason (no file:line) in err. */
#include "build-config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "cfgval.h"

static void cfgval_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cfgval_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Read the leading decimal digits of s into *out.  Returns the number of
 * digits read (0: none), or -1 if the number does not fit in 64 bits. */
static int cfgval_digits(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int n = 0;

	for (; isdigit((unsigned char)s[n]); n++) {
		unsigned d = (unsigned)(s[n] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return n;
}

struct cfgval_unit {
	const char *name;
	uint64_t mult;
};

/* Parse "NUMBER[UNIT]" with UNIT from units (the empty unit must be listed
 * to allow a bare number).  what names the kind of value in messages. */
static int cfgval_scaled(const char *s, const struct cfgval_unit *units, const char *what,
                         const char *hint, uint64_t *out, char *err, size_t errlen)
{
	uint64_t v;
	int n = cfgval_digits(s, &v);

	if (n < 0) {
		cfgval_err(err, errlen, "'%s' is too large", s);
		return -1;
	}
	if (n == 0) {
		cfgval_err(err, errlen, "'%s' is not a %s (use e.g. %s)", s, what, hint);
		return -1;
	}
	for (const struct cfgval_unit *u = units; u->name; u++) {
		if (strcmp(s + n, u->name) != 0)
			continue;
		if (v > UINT64_MAX / u->mult) {
			cfgval_err(err, errlen, "'%s' is too large", s);
			return -1;
		}
		*out = v * u->mult;
		return 0;
	}
	cfgval_err(err, errlen, "'%s' has an unknown unit '%s' (use e.g. %s)", s, s + n, hint);
	return -1;
}

int cfgval_duration_ms(const char *s, uint64_t *out, char *err, size_t errlen)
{
	static const struct cfgval_unit units[] = {
	    {"", 1000},         {"ms", 1},           {"s", 1000}, {"m", 60 * 1000},
	    {"h", 3600 * 1000}, {"d", 86400 * 1000}, {NULL, 0},
	};
	return cfgval_scaled(s, units, "duration", "250ms, 30s, 5m, 1h, 1d", out, err, errlen);
}

int cfgval_duration_us(const char *s, uint64_t *out, char *err, size_t errlen)
{
	static const struct cfgval_unit units[] = {
	    {"", 1000000}, {"us", 1}, {"ms", 1000}, {"s", 1000000}, {NULL, 0},
	};
	return cfgval_scaled(s, units, "duration", "200us, 2ms, 1s", out, err, errlen);
}

int cfgval_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	static const struct cfgval_unit units[] = {
	    {"", 1},
	    {"B", 1},
	    {"k", 1ull << 10},
	    {"K", 1ull << 10},
	    {"KiB", 1ull << 10},
	    {"m", 1ull << 20},
	    {"M", 1ull << 20},
	    {"MiB", 1ull << 20},
	    {"g", 1ull << 30},
	    {"G", 1ull << 30},
	    {"GiB", 1ull << 30},
	    {"TiB", 1ull << 40},
	    {"kB", 1000},
	    {"KB", 1000},
	    {"MB", 1000 * 1000},
	    {"GB", 1000 * 1000 * 1000},
	    {"TB", 1000ull * 1000 * 1000 * 1000},
	    {NULL, 0},
	};
	return cfgval_scaled(s, units, "size", "512, 64KiB, 1MiB, 2GiB, 10MB", out, err, errlen);
}

int cfgval_bool(const char *s, int *out, char *err, size_t errlen)
{
	static const char *const yes[] = {"yes", "on", "true", "1", NULL};
	static const char *const no[] = {"no", "off", "false", "0", NULL};

	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	cfgval_err(err, errlen, "'%s' is not a boolean (use yes/no, on/off, true/false, 1/0)", s);
	return -1;
}

int cfgval_int(const char *s, int64_t min, int64_t max, int64_t *out, char *err, size_t errlen)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || isspace((unsigned char)*s)) {
		cfgval_err(err, errlen, "'%s' is not a whole number", s);
		return -1;
	}
	if (errno == ERANGE || v < min || v > max) {
		cfgval_err(err, errlen, "%s is out of range (%" PRId64 "..%" PRId64 ")", s, min,
		           max);
		return -1;
	}
	*out = v;
	return 0;
}

static int cfgval_is_sep(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

int cfgval_list(const char *s, char ***items, size_t *count, char *err, size_t errlen)
{
	size_t n = 0, i = 0;
	char **v;

	for (const char *p = s; *p;) {
		while (cfgval_is_sep(*p))
			p++;
		if (!*p)
			break;
		n++;
		while (*p && !cfgval_is_sep(*p))
			p++;
	}
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		goto oom;
	for (const char *p = s; *p;) {
		const char *start;
		while (cfgval_is_sep(*p))
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && !cfgval_is_sep(*p))
			p++;
		v[i] = strndup(start, (size_t)(p - start));
		if (!v[i]) {
			cfgval_list_free(v);
			goto oom;
		}
		i++;
	}
	*items = v;
	*count = n;
	return 0;
oom:
	cfgval_err(err, errlen, "out of memory");
	return -1;
}

void cfgval_list_free(char **items)
{
	if (!items)
		return;
	for (char **p = items; *p; p++)
		free(*p);
	free(items);
}

int cfgval_expand_env(const char *s, char **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		goto oom;
	for (const char *p = s; *p; p++) {
		if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
			fputc(*p, f);
			continue;
		}
		if (p[1] == '$') {
			fputc('$', f);
			p++;
			continue;
		}
		const char *name = p + 2, *close = strchr(name, '}');
		if (!close) {
			cfgval_err(err, errlen, "'${' without a closing '}'");
			goto fail;
		}
		size_t nlen = (size_t)(close - name);
		int ok = nlen > 0 && (isalpha((unsigned char)name[0]) || name[0] == '_');
		for (size_t i = 0; ok && i < nlen; i++)
			ok = isalnum((unsigned char)name[i]) || name[i] == '_';
		if (!ok) {
			cfgval_err(err, errlen,
			           "'${%.*s}' is not a variable name (letters, digits, '_')",
			           (int)nlen, name);
			goto fail;
		}
		char var[256];
		if (nlen >= sizeof(var)) {
			cfgval_err(err, errlen, "environment variable name too long");
			goto fail;
		}
		memcpy(var, name, nlen);
		var[nlen] = '\0';
		const char *val = getenv(var);
		if (!val) {
			cfgval_err(err, errlen, "environment variable %s is not set", var);
			goto fail;
		}
		fputs(val, f);
		p = close;
	}
	if (fclose(f) != 0) {
		free(buf);
		goto oom;
	}
	*out = buf;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
oom:
	cfgval_err(err, errlen, "out of memory");
	return -1;
}

int cfgval_path(const char *s, const char *base_dir, char **out, char *err, size_t errlen)
{
	char *p;

	if (!*s) {
		cfgval_err(err, errlen, "empty path");
		return -1;
	}
	while (s[0] == '.' && s[1] == '/')
		s += 2;
	if (s[0] == '/' || !base_dir)
		p = strdup(*s ? s : ".");
	else if (asprintf(&p, "%s%s%s", base_dir, base_dir[strlen(base_dir) - 1] == '/' ? "" : "/",
	                  s) < 0)
		p = NULL;
	if (!p) {
		cfgval_err(err, errlen, "out of memory");
		return -1;
	}
	*out = p;
	return 0;
}

/* The port after the host part: decimal 0..65535. */
static int cfgval_port(const char *s, const char *addr, char *err, size_t errlen)
{
	uint64_t v;
	int n = cfgval_digits(s, &v);

	if (n <= 0 || s[n] != '\0' || v > 65535) {
		cfgval_err(err, errlen, "'%s' has no valid port (0..65535) after the last ':'",
		           addr);
		return -1;
	}
	return 0;
}

int cfgval_address(const char *s, const char *base_dir, struct sockaddr_storage *addr,
                   socklen_t *addrlen, char **unix_path, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *port;
	struct addrinfo hints, *res;
	int rc;

	*unix_path = NULL;
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)addr;
		char *path;
		if (cfgval_path(s + 5, base_dir, &path, err, errlen) < 0)
			return -1;
		if (strlen(path) >= sizeof(sun->sun_path)) {
			cfgval_err(err, errlen, "unix socket path '%s' is longer than %zu bytes",
			           path, sizeof(sun->sun_path) - 1);
			free(path);
			return -1;
		}
		memset(addr, 0, sizeof(*addr));
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, path);
		*addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
		*unix_path = path;
		return 0;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			cfgval_err(err, errlen, "'%s' is not [IPv6]:PORT", s);
			return -1;
		}
		if ((size_t)(close - s - 1) >= sizeof(host)) {
			cfgval_err(err, errlen, "'%s' is not a numeric IPv6 address", s);
			return -1;
		}
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		port = close + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon) {
			cfgval_err(err, errlen,
			           "'%s' is not HOST:PORT, [IPv6]:PORT, *:PORT or unix:PATH", s);
			return -1;
		}
		if (memchr(s, ':', (size_t)(colon - s))) {
			cfgval_err(err, errlen, "put an IPv6 address in brackets: [%.*s]:%s",
			           (int)(colon - s), s, colon + 1);
			return -1;
		}
		if ((size_t)(colon - s) >= sizeof(host)) {
			cfgval_err(err, errlen, "'%.*s' is not a numeric IP address",
			           (int)(colon - s), s);
			return -1;
		}
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	}
	if (cfgval_port(port, s, err, errlen) < 0)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = s[0] == '[' ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (s[0] != '[' && strcmp(host, "*") == 0)
		strcpy(host, "0.0.0.0");
	if (!host[0]) {
		cfgval_err(err, errlen, "'%s' has no address before the port (use *:%s for all)", s,
		           port);
		return -1;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		cfgval_err(err, errlen,
		           "'%s' is not a numeric IP address (host names are not resolved)", host);
		return -1;
	}
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
