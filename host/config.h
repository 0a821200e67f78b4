/* host/config.h — the configuration model: modhost.ini plus every
 * conf.d/NAME.ini (sorted), read with inih into sections, then the host's
 * own sections ([server], [log], [listener NAME]) parsed into typed
 * settings.  Module sections are kept raw here and validated against each
 * module's key table by modconf.c once the module's descriptor is known. */
#ifndef MH_CONFIG_H
#define MH_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct tls_settings;

struct cfg_entry {
	char *key;
	char *value; /* after ${VAR} expansion */
	const char *file; /* points into config.files */
	int line;
	struct cfg_entry *next;
};

struct cfg_section {
	char *kind; /* "server", "log", "module", "listener", ... */
	char *name; /* NULL for unnamed sections */
	const char *file;
	int line;
	struct cfg_entry *entries; /* in file order */
	struct cfg_section *next;
};

struct server_settings {
	int workers;                  /* 0 = single process; default: number of cores ("auto") */
	uint64_t shutdown_timeout_ms; /* drain limit on stop and reload; default 30s */
	uint64_t max_connections;     /* the whole host, all listeners; default 10000 */
	int busy_poll_auto;           /* busy_poll = auto (the default): pollctl.c decides */
	uint64_t busy_poll_us;        /* a worker polls this long after I/O before sleeping; 0 = off */
	uint64_t busy_poll_nap_us;    /* and naps this long between polls; 0 = polls back to back
	                               * (with auto: 0 = POLLCTL_NAP_US) */
	uint64_t offload_threads;     /* a worker's threads for modules' blocking work; default 4 */
	uint64_t offload_queue;       /* jobs a worker holds not yet started; default 1024 */
	char *module_path;            /* folder of module .so files; default MODULEDIR */
	char *pid_file;               /* NULL = none */
	char *user, *group;           /* NULL = keep */
};

struct log_settings {
	int level;  /* MH_LOG_*; default info */
	int format; /* LOG_FORMAT_*; default text */
	char *file; /* NULL = stderr */
};

enum listener_family { LISTENER_TCP = 1, LISTENER_UNIX = 2 };

struct listener_settings {
	char *name;
	const char *file;
	int line;
	char *listen; /* as written: "127.0.0.1:7000", "[::1]:7000", "unix:/path" */
	int family;   /* enum listener_family */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *unix_path; /* absolute, for LISTENER_UNIX */
	int backlog;                  /* default 511 */
	uint64_t max_connections;     /* this listener, whole host; 0 = only the host limit */
	uint64_t max_connections_per_ip; /* from one client address, whole host; 0 = none */
	char *codec;                  /* module name, required */
	char *handler;                /* module name; required unless routes are set */
	char **routes;                /* NULL-terminated route names, in match order */
	size_t n_routes;
	char **auth;                  /* NULL-terminated module names; never NULL, may be empty */
	size_t n_auth;
	char *policy;                 /* module name or NULL */
	char **observers;             /* NULL-terminated; NULL when the key is absent
	                               * (= every observer module); empty if set empty */
	size_t n_observers;
	uint64_t idle_timeout_ms;     /* no message in progress; default 60s */
	uint64_t read_timeout_ms;     /* a message incomplete for this long; default 30s */
	uint64_t write_timeout_ms;    /* output pending and the peer not draining; default 30s */
	uint64_t max_inflight;        /* pipelined requests awaiting replies; default 64 */
	uint64_t max_requests_per_connection; /* then the connection closes; 0 = no limit */
	uint64_t output_high_water;   /* stop reading above; default 256KiB */
	uint64_t output_low_water;    /* resume reading below; default 64KiB */
	uint64_t send_buffer;         /* SO_SNDBUF of each connection; 0 = the kernel's */
	struct tls_settings *tls;     /* the tls_* keys (tlsconf.h); NULL when none is set */
};

struct module_settings {
	char *name;
	const char *file;
	int line;
	char *path; /* the .so: `file =` resolved, or module_path/NAME.so */
	const struct cfg_section *section;
};

struct config {
	char *main_file; /* absolute */
	char *base_dir;  /* folder of main_file */
	char **files;    /* every file read, for file:line messages */
	size_t n_files;
	struct cfg_section *sections;
	struct server_settings server;
	struct log_settings log;
	struct listener_settings *listeners;
	size_t n_listeners;
	struct module_settings *modules;
	size_t n_modules;
	struct route_settings *routes; /* route.h */
	size_t n_routes;
};

/* Read main_path, then every *.ini in the folder named by
 * `[server] include` (default: conf.d beside the main file) in sorted
 * order.  Returns 0 and a new config in *out (free with config_free), or -1
 * with "file:line: message" in err. */
int config_load(const char *main_path, struct config **out, char *err, size_t errlen);
void config_free(struct config *cfg);

const struct listener_settings *config_listener(const struct config *cfg, const char *name);
const struct module_settings *config_module(const struct config *cfg, const char *name);

#endif
