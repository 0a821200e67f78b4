/* modules/ipacl.c — the ipacl auth module: decides on a request by the
 * client's address, with an ordered list of rules, the first match
 * winning (as nginx's allow/deny):
 *
 *   rules = deny 10.1.0.0/16, allow 10.0.0.0/8, next 192.168.0.0/16, deny all
 *
 * allow grants the request (the rest of the auth chain is skipped), deny
 * refuses it with 403 (forbidden), next leaves it to the next module of the
 * chain, as does an address no rule matches; a chain where every module
 * passes refuses with 401.  So `allow ..., deny all` alone is an allowlist,
 * `next ..., deny all` before an apikey module admits only those
 * addresses and still asks them for a key, and `allow ...` before it lets
 * those addresses in without one.
 *
 * Addresses: IPv4 or IPv6, with an optional /prefix (a bare address is
 * that address alone), or `all`.  An IPv4-mapped IPv6 peer (::ffff:a.b.c.d,
 * from a dual-stack listener) is matched as its IPv4 address; a unix-socket
 * peer has no address and matches only `all`.  The decision is made once
 * per connection and kept in its conn_data. */
#define MH_MODULE_ABI_MINOR 4 /* conn_data */

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modhost.h"

static int ipacl_load(mh_module *m, const mh_host_api *api);
static void ipacl_unload(mh_module *m);
static int ipacl_check(mh_module *m, mh_msg *req, mh_msg *reply);

static const mh_config_key ipacl_keys[] = {
    {"rules", MH_CONFIG_LIST, "",
     "ACTION ADDRESS pairs, first match wins: allow|deny|next, then ADDR[/PREFIX] or all"},
    {NULL, 0, NULL, NULL},
};

static const mh_auth_ops ipacl_auth = {
    .struct_size = sizeof(mh_auth_ops),
    .check = ipacl_check,
};

MH_MODULE_DECLARE(.name = "ipacl", .version = "1.0", .license = "MIT",
                  .description = "allows, denies or passes on requests by client address",
                  .roles = MH_ROLE_AUTH, .config_keys = ipacl_keys, .load = ipacl_load,
                  .unload = ipacl_unload, .auth = &ipacl_auth);

static const mh_host_api *host; /* the same for every instance */

enum ipacl_action { IPACL_NEXT = 1, IPACL_ALLOW = 2, IPACL_DENY = 3 };

struct ipacl_rule {
	int action;
	int family;             /* AF_INET, AF_INET6, or 0 for all */
	unsigned prefix;        /* bits that must match */
	unsigned char addr[16]; /* network order; 4 bytes for AF_INET */
};

struct ipacl {
	size_t n;
	struct ipacl_rule rules[];
};

/* What a connection was told, kept for its later requests (conn_data). */
struct ipacl_conn {
	int action; /* 0: not decided yet */
};

static int ipacl_action(const char *word)
{
	if (strcmp(word, "allow") == 0)
		return IPACL_ALLOW;
	if (strcmp(word, "deny") == 0)
		return IPACL_DENY;
	if (strcmp(word, "next") == 0)
		return IPACL_NEXT;
	return 0;
}

/* "all", "ADDR" or "ADDR/PREFIX" into r; -1 when it is none of them. */
static int ipacl_parse_address(const char *text, struct ipacl_rule *r)
{
	if (strcmp(text, "all") == 0) {
		r->family = 0;
		r->prefix = 0;
		return 0;
	}
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t len = slash ? (size_t)(slash - text) : strlen(text);
	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, text, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, r->addr) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, r->addr) == 1)
		r->family = AF_INET6;
	else
		return -1;
	unsigned max = r->family == AF_INET ? 32 : 128;
	r->prefix = max;
	if (slash) {
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || p > max)
			return -1;
		r->prefix = (unsigned)p;
	}
	/* Host bits set under the prefix are a mistake (10.1.2.3/8). */
	for (unsigned bit = r->prefix; bit < max; bit++)
		if (r->addr[bit / 8] & (0x80u >> (bit % 8)))
			return -1;
	return 0;
}

static int ipacl_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	size_t count = 0;
	const char *const *items = host->config_list(m, "rules", &count);
	if (count == 0) {
		host->log(m, MH_LOG_ERROR,
		          "rules: none given; write e.g. rules = allow 10.0.0.0/8, deny all");
		return -1;
	}
	if (count % 2 != 0) {
		host->log(m, MH_LOG_ERROR,
		          "rules: '%s' has no address after it; write ACTION ADDRESS pairs",
		          items[count - 1]);
		return -1;
	}
	struct ipacl *acl = calloc(1, sizeof(*acl) + count / 2 * sizeof(acl->rules[0]));
	if (!acl) {
		host->log(m, MH_LOG_ERROR, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < count; i += 2) {
		struct ipacl_rule *r = &acl->rules[acl->n];
		r->action = ipacl_action(items[i]);
		if (!r->action) {
			host->log(m, MH_LOG_ERROR, "rules: '%s' is not allow, deny or next",
			          items[i]);
			free(acl);
			return -1;
		}
		if (ipacl_parse_address(items[i + 1], r) < 0) {
			host->log(
			    m, MH_LOG_ERROR,
			    "rules: '%s' is not an address, ADDRESS/PREFIX with no host bits set, "
			    "or all",
			    items[i + 1]);
			free(acl);
			return -1;
		}
		acl->n++;
	}
	host->module_set_data(m, acl);
	return 0;
}

static void ipacl_unload(mh_module *m)
{
	free(host->module_data(m));
	host->module_set_data(m, NULL);
}

static int ipacl_matches(const struct ipacl_rule *r, int family, const unsigned char *addr)
{
	if (r->family == 0)
		return 1;
	if (r->family != family)
		return 0;
	unsigned whole = r->prefix / 8, rest = r->prefix % 8;
	if (memcmp(r->addr, addr, whole) != 0)
		return 0;
	return rest == 0 || ((r->addr[whole] ^ addr[whole]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

/* The peer as the host names it ("1.2.3.4:5678", "[::1]:80", "unix") into
 * family and addr; family 0 for a peer without an address. */
static void ipacl_peer(const char *peer, int *family, unsigned char *addr)
{
	char text[64];
	const char *start = peer, *end;
	*family = 0;
	if (*peer == '[') {
		start = peer + 1;
		end = strchr(start, ']');
	} else {
		end = strrchr(peer, ':');
	}
	if (!end || (size_t)(end - start) >= sizeof(text))
		return;
	memcpy(text, start, (size_t)(end - start));
	text[end - start] = '\0';
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
	} else if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = AF_INET6;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
			memmove(addr, addr + 12, 4);
			*family = AF_INET;
		}
	}
}

static int ipacl_decide(const struct ipacl *acl, const char *peer)
{
	int family;
	unsigned char addr[16] = {0};
	ipacl_peer(peer, &family, addr);
	for (size_t i = 0; i < acl->n; i++)
		if (ipacl_matches(&acl->rules[i], family, addr))
			return acl->rules[i].action;
	return IPACL_NEXT;
}

static int ipacl_check(mh_module *m, mh_msg *req, mh_msg *reply)
{
	const struct ipacl *acl = host->module_data(m);
	mh_conn *c = host->msg_conn(req);
	struct ipacl_conn *known = c ? host->conn_data(c, m, sizeof(*known), NULL) : NULL;
	int action = known ? known->action : 0;
	if (!action) {
		action = ipacl_decide(acl, c ? host->conn_peer(c) : "");
		if (known)
			known->action = action;
	}
	switch (action) {
	case IPACL_ALLOW: return MH_AUTH_ALLOW;
	case IPACL_DENY: host->msg_set_status(reply, MH_STATUS_FORBIDDEN); return MH_AUTH_DENY;
	default: return MH_AUTH_DECLINED;
	}
}
