/* api/modhost-t.h — the types of the modhost module ABI.
 *
 * Everything a module sees of the host is declared here and in modhost.h.
 * Host objects are opaque handles; the only public layouts are the module
 * descriptor, the role ops tables and the event record, each of which starts
 * with (or carries) its own struct_size so that either side can grow it at
 * the end within an ABI major.  See doc/internals/abi.md for the rules.
 */
#ifndef MODHOST_T_H
#define MODHOST_T_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version: major = anything removed, reordered, re-typed or changed in
 * meaning; minor = things appended.  Separate from the product version. */
#define MH_ABI_MAJOR 1
#define MH_ABI_MINOR 5

/* "MHMD" in ASCII: the first word of every descriptor. */
#define MH_MODULE_MAGIC 0x4d484d44u

/* The one symbol a module exports; its name carries the ABI major so that a
 * host can tell "built for another major" from "not a module at all". */
#define MH_MODULE_SYMBOL_NAME "mh_module_v1"

/* Opaque handles.  Only the host knows their layout. */
typedef struct mh_module mh_module; /* one configured instance of a module */
typedef struct mh_conn mh_conn;     /* one accepted connection */
typedef struct mh_msg mh_msg;       /* one request or reply message */
typedef struct mh_buf mh_buf;       /* a byte buffer, contiguous */
typedef struct mh_timer mh_timer;   /* a one-shot timer on a worker's loop */
typedef struct mh_outbound mh_outbound; /* an outbound connection (ABI 1.1) */
typedef struct mh_metric mh_metric;     /* a metric family (ABI 1.1) */

/* Roles a module plays; a module may play several. */
enum mh_role {
	MH_ROLE_CODEC = 1u << 0,
	MH_ROLE_AUTH = 1u << 1,
	MH_ROLE_POLICY = 1u << 2,
	MH_ROLE_HANDLER = 1u << 3,
	MH_ROLE_OBSERVER = 1u << 4,
};

/* Log levels for mh_host_api.log. */
enum mh_log_level {
	MH_LOG_ERROR = 0,
	MH_LOG_WARN = 1,
	MH_LOG_INFO = 2,
	MH_LOG_DEBUG = 3,
};

/* Types of configuration keys a module declares.  The host parses and
 * validates values before the module's load hook runs. */
enum mh_config_type {
	MH_CONFIG_STRING = 1,
	MH_CONFIG_INT = 2,      /* signed 64-bit decimal */
	MH_CONFIG_BOOL = 3,     /* yes/no, on/off, true/false, 1/0 */
	MH_CONFIG_SIZE = 4,     /* bytes: 512, 64KiB, 1MiB, 2GiB (or KB/MB/GB = 1000) */
	MH_CONFIG_DURATION = 5, /* milliseconds: 250ms, 30s, 5m, 1h */
	MH_CONFIG_LIST = 6,     /* comma- or space-separated strings */
	MH_CONFIG_PATH = 7,     /* a string, made absolute against the main file's folder */
};

/* One entry of a module's configuration key table; the table ends with an
 * entry whose name is NULL. */
typedef struct mh_config_key {
	const char *name;
	int type;             /* enum mh_config_type */
	const char *def;      /* default in the same syntax as the file; NULL = required */
	const char *help;     /* one line, shown by `modhost-module info` */
} mh_config_key;

/* Status of a message, in protocol-neutral terms; each codec maps it to its
 * own wire form (an HTTP status, a RESP -ERR, a lenprefix error frame). */
enum mh_status {
	MH_STATUS_OK = 0,
	MH_STATUS_BAD_REQUEST = 1,
	MH_STATUS_UNAUTHORIZED = 2,
	MH_STATUS_FORBIDDEN = 3,
	MH_STATUS_NOT_FOUND = 4,
	MH_STATUS_TOO_LARGE = 5,
	MH_STATUS_TOO_MANY = 6, /* rate limited */
	MH_STATUS_INTERNAL = 7,
	MH_STATUS_UNAVAILABLE = 8,
	MH_STATUS_TIMEOUT = 9,
};

/* What a codec's decode step found. */
enum mh_decode_result {
	MH_DECODE_NEED_MORE = 0, /* no complete message yet: call again with more bytes */
	MH_DECODE_MESSAGE = 1,   /* *out holds one message; call again for the next */
	MH_DECODE_ERROR = -1,    /* protocol error: the host replies (encode_error) and closes */
};

/* What a handler did with a request. */
enum mh_handle_result {
	MH_HANDLE_DONE = 0,   /* the reply is complete */
	MH_HANDLE_ASYNC = 1,  /* the handler calls msg_complete(reply) later */
	MH_HANDLE_ERROR = -1, /* failed: the host sends an error reply with the reply's status */
	MH_HANDLE_CLOSE = 2,  /* the reply is complete; close the connection after it */
};

/* What an auth module decided. */
enum mh_auth_result {
	MH_AUTH_DECLINED = 0, /* not mine: ask the next module in the chain */
	MH_AUTH_ALLOW = 1,
	MH_AUTH_DENY = -1, /* the reply's status says 401 or 403 */
};

/* What a policy module decided. */
enum mh_policy_result {
	MH_POLICY_PASS = 0,
	MH_POLICY_REJECT = -1, /* the reply's status says why (e.g. MH_STATUS_TOO_MANY) */
};

/* Codec: bytes to messages and back.  A codec never reads a socket.  Its
 * per-connection state of conn_state_size bytes is zeroed and owned by the
 * host, freed with the connection. */
typedef struct mh_codec_ops {
	uint32_t struct_size;
	uint32_t conn_state_size;
	/* The largest message this instance accepts, in bytes of input; the host
	 * closes a connection whose unparsed input grows past it. */
	uint64_t (*max_message)(mh_module *m);
	/* Optional: set up per-connection state. Returns 0, or -1 to refuse. */
	int (*conn_init)(mh_module *m, mh_conn *c, void *state);
	/* Take at most one message from the front of in. */
	int (*decode)(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out);
	/* Append the wire form of reply to out.  Returns 0, or -1 to close. */
	int (*encode)(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out);
	/* Optional: append an error reply for status/text to out (a protocol
	 * error before close, or a denial).  text is never NULL: the host names
	 * the status ("not found", "too many requests", ...) or gives the
	 * reason.  NULL: errors just close. */
	void (*encode_error)(mh_module *m, mh_conn *c, void *state, int status,
	                     const char *text, mh_buf *out);
	/* Optional: release anything conn_init took outside the state block. */
	void (*conn_fini)(mh_module *m, mh_conn *c, void *state);
} mh_codec_ops;

/* Handler: consumes a request and fills the reply the host created for it. */
typedef struct mh_handler_ops {
	uint32_t struct_size;
	int (*handle)(mh_module *m, mh_msg *req, mh_msg *reply);
	/* Optional: the connection went away while a reply was ASYNC; the handler
	 * must not touch req or reply after this returns. */
	void (*cancel)(mh_module *m, mh_msg *req, mh_msg *reply);
} mh_handler_ops;

/* Auth: one link of a listener's auth chain. */
typedef struct mh_auth_ops {
	uint32_t struct_size;
	int (*check)(mh_module *m, mh_msg *req, mh_msg *reply);
} mh_auth_ops;

/* Policy: runs after auth, before the handler. */
typedef struct mh_policy_ops {
	uint32_t struct_size;
	int (*check)(mh_module *m, mh_msg *req, mh_msg *reply);
} mh_policy_ops;

/* Events observers receive.  Modules keep a default branch: new types are
 * appended in minor versions. */
enum mh_event_type {
	MH_EVENT_CONN_OPEN = 1,
	MH_EVENT_CONN_CLOSE = 2,
	MH_EVENT_MSG_IN = 3,
	MH_EVENT_MSG_OUT = 4, /* value = microseconds from decode to reply queued */
	MH_EVENT_LIMIT = 5,   /* detail names the limit */
	MH_EVENT_ERROR = 6,
	/* ABI 1.1 */
	MH_EVENT_TLS_HANDSHAKE = 7, /* value 1 = done, 0 = failed (detail says why) */
	MH_EVENT_WORKER = 8,        /* in the master: detail "restart" or "reload" */
};

typedef struct mh_event {
	uint32_t struct_size;
	int type;           /* enum mh_event_type */
	mh_conn *conn;      /* may be NULL */
	mh_msg *msg;        /* may be NULL */
	const char *detail; /* may be NULL */
	uint64_t value;
} mh_event;

typedef struct mh_observer_ops {
	uint32_t struct_size;
	void (*event)(mh_module *m, const mh_event *ev);
} mh_observer_ops;

/* ---- ABI 1.1 ---------------------------------------------------------- */

/* The TLS side of a connection (conn_tls, outbound_tls).  Strings live as
 * long as the connection; absent ones are NULL. */
typedef struct mh_tls_info {
	uint32_t struct_size;
	int verified;                /* the peer's certificate chain was verified */
	const char *version;         /* "TLS1.3" */
	const char *cipher;          /* "AES-256-GCM" */
	const char *alpn;            /* negotiated protocol id */
	const char *sni;             /* the server name the client asked for */
	const char *subject_dn;      /* the peer certificate's subject */
	const char *issuer_dn;
	const char *const *san;      /* NULL-terminated subjectAltName entries: "DNS:x", "IP:1.2.3.4", "URI:..", "email:.." */
	const char *fingerprint_sha256; /* lowercase hex of the DER certificate */
} mh_tls_info;

/* Events of an outbound connection, delivered on the worker's loop. */
enum mh_outbound_event {
	MH_OUTBOUND_CONNECTED = 1, /* TCP (and TLS, if asked) established */
	MH_OUTBOUND_READABLE = 2,  /* outbound_input has new bytes */
	MH_OUTBOUND_ERROR = 3,     /* failed; outbound_error says why; close it */
	MH_OUTBOUND_CLOSED = 4,    /* the peer closed; close it */
};

typedef struct mh_outbound_opts {
	uint32_t struct_size;
	const char *host;        /* numeric address or name */
	uint16_t port;
	int tls;                 /* non-zero: TLS over the connection */
	const char *ca_file;     /* verify the server's chain against it (NULL: system CAs) */
	const char *server_name; /* SNI and the name verified; NULL: host */
	const char *cert_file;   /* optional client certificate + key (PEM) */
	const char *key_file;
	const char *alpn;        /* optional ALPN protocol id to offer */
	uint64_t connect_timeout_ms; /* 0 = 10 s */
} mh_outbound_opts;

/* Fields a codec fills on a request (and a handler may read or set).
 * Modules keep a default branch: fields are appended in minor versions. */
enum mh_field {
	MH_FIELD_PROTOCOL = 1, /* the codec's name: "http1", "resp", "lenprefix" */
	MH_FIELD_METHOD = 2,   /* HTTP method */
	MH_FIELD_PATH = 3,     /* HTTP path, without the query */
	MH_FIELD_QUERY = 4,    /* HTTP query, without '?' */
	MH_FIELD_VERSION = 5,  /* "HTTP/1.1", "HTTP/1.0"; RESP: "2" or "3" */
	MH_FIELD_COMMAND = 6,  /* RESP command name, upper case */
	MH_FIELD_ROUTE = 7,    /* the route that matched (set by the host) */
	MH_FIELD_TRACE_ID = 8, /* correlation id (W3C trace-id, 32 hex) */
	/* ABI 1.3.  On a reply, set by the host: "close" when the connection
	 * ends after it (the handler returned MH_HANDLE_CLOSE, or it is the
	 * last reply of a draining connection), so that a codec with a way to
	 * say so (HTTP's Connection: close) can say it. */
	MH_FIELD_CLOSING = 9,
};

/* How a codec should encode a reply body. */
enum mh_reply_form {
	MH_REPLY_BODY = 0, /* the body is payload; the codec frames it */
	MH_REPLY_RAW = 1,  /* the body is already in the wire format (e.g. RESP) */
};

enum mh_metric_type {
	MH_METRIC_COUNTER = 1,
	MH_METRIC_GAUGE = 2,
	MH_METRIC_HISTOGRAM = 3,
};

/* The host's serving state, for health checks. */
enum mh_host_state {
	MH_HOST_STARTING = 1, /* not every worker of the current generation serves yet */
	MH_HOST_READY = 2,
	MH_HOST_DRAINING = 3, /* stopping, or this worker's generation is retiring */
};

/* ---- ABI 1.4 ---------------------------------------------------------- */

/* A listener's traffic, from the host's own counters (listener_stats):
 * totals since the master started, summed over every worker of every
 * generation (a reload keeps them).  The caller sets struct_size to
 * sizeof(mh_listener_stats) as it knows it; the host fills the members
 * that fit and leaves the rest alone.  Members are appended in minors. */
typedef struct mh_listener_stats {
	uint32_t struct_size;
	uint64_t connections_accepted;
	uint64_t connections_active;   /* open now */
	uint64_t connections_closed;
	uint64_t connections_rejected; /* refused at max_connections */
	uint64_t messages_in;          /* requests decoded */
	uint64_t messages_out;         /* replies encoded */
	uint64_t bytes_in;             /* read from connections, after TLS */
	uint64_t bytes_out;            /* written or queued */
	uint64_t errors;               /* protocol errors and error replies */
} mh_listener_stats;

/* ---- ABI 1.5 ---------------------------------------------------------- */

/* How an offloaded job ended, as its done callback is told (offload). */
enum mh_offload_status {
	MH_OFFLOAD_DONE = 0,      /* work ran */
	MH_OFFLOAD_CANCELLED = 1, /* the worker stopped before work could start: it did not run */
};

typedef struct mh_host_api mh_host_api;

/* The descriptor: the one exported object of a module.  Declare it with
 * MH_MODULE_DECLARE (modhost.h), which fills the version fields.  Every
 * callback is optional. */
typedef struct mh_module_desc {
	uint32_t magic;      /* MH_MODULE_MAGIC */
	uint16_t abi_major;  /* MH_ABI_MAJOR the module was built for */
	uint16_t abi_minor;  /* the lowest host minor the module needs */
	uint32_t struct_size; /* sizeof(mh_module_desc) as the module saw it */
	uint32_t flags;      /* none defined yet; must be 0 */
	const char *name;
	const char *version;
	const char *license;
	const char *description;
	uint32_t roles; /* enum mh_role bits */
	const mh_config_key *config_keys;  /* NULL-name terminated, or NULL */
	const char *const *requires;       /* NULL-terminated module names, or NULL */

	/* In the master, after the configuration is validated; store the host
	 * table. Returns 0, or -1 after logging why (the module is refused). */
	int (*load)(mh_module *m, const mh_host_api *host);
	/* On reload, in the master, after load of the new instance: carry state
	 * over from the previous generation's instance. Returns 0 or -1. */
	int (*reconfigure)(mh_module *m, mh_module *previous);
	/* In each worker after fork, before it serves.  Returns 0 or -1. */
	int (*worker_init)(mh_module *m);
	/* In each worker as it exits. */
	void (*worker_fini)(mh_module *m);
	/* When the instance's generation is retired. */
	void (*unload)(mh_module *m);

	const mh_codec_ops *codec;
	const mh_auth_ops *auth;
	const mh_policy_ops *policy;
	const mh_handler_ops *handler;
	const mh_observer_ops *observer;

	void *reserved[8]; /* must be NULL */
} mh_module_desc;

#ifdef __cplusplus
}
#endif

#endif /* MODHOST_T_H */
