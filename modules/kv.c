/* modules/kv.c — the kv handler: a Redis-compatible key-value store for
 * demos and benchmarks.  Behind the resp codec it answers Redis commands
 * (modules/kvresp.c); behind http1 it serves GET/PUT/DELETE on /kv/KEY
 * (here).  The data lives in a shared-memory zone made in the master
 * (modules/kvstore.c), so every worker sees the same keys and a reload
 * keeps them.  See doc/internals/resp-kv.md. */

/* Fields, arguments and shared zones are ABI 1.1: load into any 1.1 host
 * (listener_stats and conn_data, 1.4, are probed for). */
#define MH_MODULE_ABI_MINOR 1

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "kvstore.h"
#include "modhost.h"

static int kv_load(mh_module *m, const mh_host_api *api);
static void kv_unload(mh_module *m);
static int kv_worker_init(mh_module *m);
static int kv_handle(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_config_key kv_keys[] = {
    {"max_memory", MH_CONFIG_SIZE, "64MiB",
     "memory for keys, values and their hash table (a change needs a restart)"},
    {"eviction", MH_CONFIG_STRING, "none",
     "when full: none (writes get -OOM) or lru (least recently used keys make room)"},
    {"http_prefix", MH_CONFIG_STRING, "/kv/",
     "path prefix of keys over http1: GET/PUT/DELETE PREFIX KEY"},
    {"max_transaction", MH_CONFIG_SIZE, "64MiB",
     "most bytes of commands one MULTI may queue before EXEC (then EXEC aborts)"},
    {NULL, 0, NULL, NULL},
};

static const mh_handler_ops kv_handler = {
    .struct_size = sizeof(mh_handler_ops),
    .handle = kv_handle,
};

MH_MODULE_DECLARE(.name = "kv", .version = "1.0", .license = "MIT",
                  .description = "Redis-compatible key-value store in shared memory (resp, http1)",
                  .roles = MH_ROLE_HANDLER, .config_keys = kv_keys, .load = kv_load,
                  .worker_init = kv_worker_init, .unload = kv_unload, .handler = &kv_handler);

/* The host table, the same for every instance. */
static const mh_host_api *host;

static int kv_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	kvresp_init(api);
	char err[256];
	uint64_t max_memory = host->config_size(m, "max_memory");
	const char *eviction = host->config_string(m, "eviction");
	int policy;
	if (strcmp(eviction, "none") == 0 || strcmp(eviction, "noeviction") == 0) {
		policy = KVSTORE_NOEVICTION;
	} else if (strcmp(eviction, "lru") == 0 || strcmp(eviction, "allkeys-lru") == 0) {
		policy = KVSTORE_LRU;
	} else {
		host->log(m, MH_LOG_ERROR, "eviction must be none or lru, not '%s'", eviction);
		return -1;
	}
	if (max_memory < KVSTORE_MIN_MEMORY || max_memory > KVSTORE_MAX_MEMORY) {
		host->log(m, MH_LOG_ERROR, "max_memory must be between 64KiB and 16GiB, not %llu",
		          (unsigned long long)max_memory);
		return -1;
	}
	if (!MH_HOST_HAS(host, shm_zone)) {
		host->log(m, MH_LOG_ERROR, "this host has no shared zones (ABI 1.1 needed)");
		return -1;
	}
	size_t size = kvstore_zone_size(max_memory);
	void *zone = host->shm_zone(m, "store", size);
	if (!zone) {
		host->log(m, MH_LOG_ERROR,
		          "no shared zone of %zu bytes for max_memory %llu (a changed max_memory "
		          "needs a restart)",
		          size, (unsigned long long)max_memory);
		return -1;
	}
	struct kvstore *store = kvstore_attach(zone, size, max_memory, policy, err, sizeof(err));
	if (!store) {
		host->log(m, MH_LOG_ERROR, "%s", err);
		return -1;
	}
	struct kv_instance *inst = calloc(1, sizeof(*inst));
	if (!inst) {
		host->log(m, MH_LOG_ERROR, "out of memory");
		return -1;
	}
	inst->m = m;
	inst->store = store;
	inst->http_prefix = host->config_string(m, "http_prefix");
	inst->http_prefix_len = strlen(inst->http_prefix);
	inst->max_transaction = host->config_size(m, "max_transaction");
	host->module_set_data(m, inst);
	return 0;
}

/* The store's lock marks its owner with the pid, which is new after fork. */
static int kv_worker_init(mh_module *m)
{
	kvstore_process_init();
	return 0;
}

static void kv_unload(mh_module *m)
{
	free(host->module_data(m));
	host->module_set_data(m, NULL);
}

void kv_lock(struct kv_instance *inst)
{
	if (inst->in_exec)
		return;
	if (kvstore_lock(inst->store) == 1)
		host->log(
		    inst->m, MH_LOG_WARN,
		    "a worker died while changing the store: it was emptied to stay consistent");
}

void kv_unlock(struct kv_instance *inst)
{
	if (!inst->in_exec)
		kvstore_unlock(inst->store);
}

/* ---- the HTTP face ------------------------------------------------------------------ */

static int kv_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
		return (ch | 0x20) - 'a' + 10;
	return -1;
}

/* Percent-decode src into dst (room for n bytes); returns the length, or -1
 * for a bad escape. */
static int64_t kv_unescape(const char *src, size_t n, char *dst)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (src[i] != '%') {
			dst[o++] = src[i];
			continue;
		}
		if (i + 2 >= n)
			return -1;
		int hi = kv_hex(src[i + 1]), lo = kv_hex(src[i + 2]);
		if (hi < 0 || lo < 0)
			return -1;
		dst[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	return (int64_t)o;
}

static int kv_http_reply(mh_msg *reply, int code, const char *text)
{
	host->msg_set_code(reply, code);
	if (text) {
		mh_buf *body = host->msg_body(reply);
		host->msg_add_header(reply, "Content-Type", "text/plain", 10);
		if (!body || host->buf_add(body, text, strlen(text)) < 0) {
			host->msg_set_status(reply, MH_STATUS_INTERNAL);
			return MH_HANDLE_ERROR;
		}
	}
	return MH_HANDLE_DONE;
}

/* GET, HEAD, PUT and DELETE on PREFIX KEY (KEY percent-decoded). */
static int kv_handle_http(struct kv_instance *inst, mh_msg *req, mh_msg *reply)
{
	size_t mlen, plen;
	const char *method = host->msg_field(req, MH_FIELD_METHOD, &mlen);
	const char *path = host->msg_field(req, MH_FIELD_PATH, &plen);
	if (!path || plen <= inst->http_prefix_len ||
	    memcmp(path, inst->http_prefix, inst->http_prefix_len) != 0)
		return kv_http_reply(reply, 404, "no such key: keys are under the kv prefix\n");
	char *key = host->msg_alloc(req, plen);
	int64_t klen =
	    key ? kv_unescape(path + inst->http_prefix_len, plen - inst->http_prefix_len, key) : -1;
	if (klen <= 0)
		return kv_http_reply(reply, 400, "bad key\n");
	struct kvstore *s = inst->store;
	int64_t now = 0;
	int is = mlen == 3 && memcmp(method, "GET", 3) == 0;
	int head = mlen == 4 && memcmp(method, "HEAD", 4) == 0;
	if (is || head) {
		mh_buf *body = host->msg_body(reply);
		if (!body)
			goto fail;
		kv_lock(inst);
		kvstore_item *it = kvstore_find(s, key, (size_t)klen, &now, 1);
		int rc = 0;
		if (it) {
			size_t vlen;
			const uint8_t *v = kvstore_value(it, &vlen);
			rc = head ? 0 : host->buf_add(body, v, vlen);
		}
		kvstore_unlock(s);
		if (rc < 0)
			goto fail;
		if (!it)
			return kv_http_reply(reply, 404, "no such key\n");
		host->msg_add_header(reply, "Content-Type", "application/octet-stream", 24);
		host->msg_set_code(reply, 200);
		return MH_HANDLE_DONE;
	}
	if (mlen == 3 && memcmp(method, "PUT", 3) == 0) {
		mh_buf *in = host->msg_body(req);
		size_t vlen = in ? host->buf_length(in) : 0;
		const uint8_t *v = vlen ? host->buf_pullup(in, vlen) : (const uint8_t *)"";
		if (!v)
			goto fail;
		kv_lock(inst);
		kvstore_expire_some(s, &now);
		kvstore_item *it = kvstore_alloc(s, key, (size_t)klen, vlen, &now);
		int replaced = 0;
		if (it) {
			memcpy(kvstore_value_w(it), v, vlen);
			replaced = kvstore_link(s, it, 0);
		}
		kvstore_unlock(s);
		if (!it)
			return kv_http_reply(reply, 507, "the store is full (max_memory)\n");
		return kv_http_reply(reply, replaced ? 204 : 201, NULL);
	}
	if (mlen == 6 && memcmp(method, "DELETE", 6) == 0) {
		kv_lock(inst);
		int gone = kvstore_delete(s, key, (size_t)klen, &now);
		kvstore_unlock(s);
		return gone ? kv_http_reply(reply, 204, NULL)
		            : kv_http_reply(reply, 404, "no such key\n");
	}
	host->msg_add_header(reply, "Allow", "GET, HEAD, PUT, DELETE", 22);
	return kv_http_reply(reply, 405, "method not allowed: use GET, HEAD, PUT or DELETE\n");
fail:
	host->msg_set_status(reply, MH_STATUS_INTERNAL);
	return MH_HANDLE_ERROR;
}

/* Requests from the resp codec are Redis commands; requests with an HTTP
 * method are the HTTP face; anything else is refused. */
static int kv_handle(mh_module *m, mh_msg *req, mh_msg *reply)
{
	struct kv_instance *inst = host->module_data(m);
	size_t len;
	const char *proto = host->msg_field(req, MH_FIELD_PROTOCOL, &len);
	if (proto && len == 4 && memcmp(proto, "resp", 4) == 0)
		return kvresp_handle(inst, req, reply);
	if (host->msg_field(req, MH_FIELD_METHOD, NULL))
		return kv_handle_http(inst, req, reply);
	host->msg_set_status(reply, MH_STATUS_BAD_REQUEST);
	return MH_HANDLE_ERROR;
}
