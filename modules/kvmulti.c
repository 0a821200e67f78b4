/* modules/kvmulti.c — kv's transactions: MULTI queues a connection's
 * commands (their words copied into one malloc'ed block kept in the
 * host's per-connection state, conn_data), EXEC runs them all under one
 * hold of the store's lock, so no other worker sees the store between
 * them, and answers with an array of their replies; DISCARD forgets them.
 * A command refused while queuing (unknown, wrong arity, not allowed in a
 * transaction, or past max_transaction) makes EXEC abort, as Redis does.
 * WATCH notes the version of each key's slot in the store
 * (kvstore_watch_version); EXEC checks them under the lock it runs with and
 * answers a null array, running nothing, when one changed.
 * See doc/internals/resp-kv.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "kvresp.h"
#include "kvstore.h"

/* The host table (kvmulti_init), and whether it has conn_data (1.4). */
static const mh_host_api *host;
static int have_conn_data;
/* Connections of this worker inside MULTI: while there are none, a
 * command needs no look at its connection's state. */
static uint32_t kvmulti_open;

/* A watched key: its version slot, and the slot's version at WATCH. */
struct kvmulti_watch {
	uint32_t slot;
	uint64_t version;
};

/* A connection's transaction.  queue holds the commands one after the
 * other: a uint32_t word count, then each word as a uint32_t length and
 * its bytes (the command name first). */
struct kvmulti_tx {
	int active; /* between MULTI and EXEC or DISCARD */
	int failed; /* a command was refused while queuing: EXEC aborts */
	uint32_t n_cmds;
	uint32_t most_words; /* of one queued command: EXEC's argument array */
	size_t used, cap;
	uint8_t *queue;
	/* WATCHed keys' slots and their versions then, until EXEC, DISCARD
	 * or UNWATCH; malloc'ed. */
	uint32_t n_watch, cap_watch;
	struct kvmulti_watch *watch;
};

/* The most keys one connection may watch at once. */
#define KVMULTI_MAX_WATCH 65536

/* Queues up to this size are kept for the connection's next MULTI. */
#define KVMULTI_KEEP (64 * 1024)

void kvmulti_init(const mh_host_api *api)
{
	host = api;
	have_conn_data = MH_HOST_HAS(api, conn_data);
}

static void kvmulti_unwatch(struct kv_instance *inst, struct kvmulti_tx *tx);

static void kvmulti_release(mh_module *m, void *data)
{
	struct kvmulti_tx *tx = data;
	if (tx->active)
		kvmulti_open--;
	struct kv_instance *inst = host->module_data(m);
	if (inst)
		kvmulti_unwatch(inst, tx);
	free(tx->queue);
	free(tx->watch);
}

/* c's connection's transaction, made when make is set; NULL when there is
 * none (or no memory, or a host without conn_data). */
static struct kvmulti_tx *kvmulti_tx_of(struct kvresp_cmd *c, int make)
{
	if (!have_conn_data)
		return NULL;
	return host->conn_data(host->msg_conn(c->req), c->inst->m,
	                       make ? sizeof(struct kvmulti_tx) : 0, kvmulti_release);
}

/* Forget tx's watches (the store's watcher count with them). */
static void kvmulti_unwatch(struct kv_instance *inst, struct kvmulti_tx *tx)
{
	if (tx->n_watch) {
		kv_lock(inst);
		kvstore_watchers_add(inst->store, -1);
		kv_unlock(inst);
	}
	tx->n_watch = 0;
	if (tx->cap_watch > 64) {
		free(tx->watch);
		tx->watch = NULL;
		tx->cap_watch = 0;
	}
}

/* Leave MULTI and forget the watches; the queue's memory stays for the
 * next one unless large. */
static void kvmulti_end(struct kv_instance *inst, struct kvmulti_tx *tx)
{
	kvmulti_unwatch(inst, tx);
	if (tx->active)
		kvmulti_open--;
	tx->active = 0;
	tx->failed = 0;
	tx->n_cmds = 0;
	tx->most_words = 0;
	tx->used = 0;
	if (tx->cap > KVMULTI_KEEP) {
		free(tx->queue);
		tx->queue = NULL;
		tx->cap = 0;
	}
}

static void kvmulti_put(struct kvmulti_tx *tx, const void *data, size_t len)
{
	memcpy(tx->queue + tx->used, data, len);
	tx->used += len;
}

/* Append c (its name and arguments) to the queue.  Returns 0, or -1 when
 * it would pass max_transaction or there is no memory (nothing added). */
static int kvmulti_append(struct kvmulti_tx *tx, struct kvresp_cmd *c)
{
	size_t need = sizeof(uint32_t) * (2 + c->argc) + c->name_len;
	for (size_t i = 0; i < c->argc; i++) {
		size_t len;
		kvresp_arg(c, i, &len);
		if (len > UINT32_MAX)
			return -1; /* lengths are kept in 32 bits */
		need += len;
	}
	if (need > c->inst->max_transaction || tx->used > c->inst->max_transaction - need)
		return -1;
	if (tx->used + need > tx->cap) {
		size_t cap = tx->cap ? tx->cap : 4096;
		while (cap < tx->used + need)
			cap *= 2;
		uint8_t *q = realloc(tx->queue, cap);
		if (!q)
			return -1;
		tx->queue = q;
		tx->cap = cap;
	}
	uint32_t words = (uint32_t)(c->argc + 1), len = (uint32_t)c->name_len;
	kvmulti_put(tx, &words, sizeof(words));
	kvmulti_put(tx, &len, sizeof(len));
	kvmulti_put(tx, c->name, c->name_len);
	for (size_t i = 0; i < c->argc; i++) {
		size_t n;
		const char *a = kvresp_arg(c, i, &n);
		len = (uint32_t)n;
		kvmulti_put(tx, &len, sizeof(len));
		kvmulti_put(tx, a, n);
	}
	tx->n_cmds++;
	if (words > tx->most_words)
		tx->most_words = words;
	return 0;
}

int kvmulti_intercept(struct kvresp_cmd *c, const struct kvresp_command *cmd)
{
	if (!kvmulti_open || (cmd && (cmd->flags & KVRESP_NOW)))
		return 0;
	struct kvmulti_tx *tx = kvmulti_tx_of(c, 0);
	if (!tx || !tx->active)
		return 0;
	if (!cmd) {
		kvresp_unknown_command(c);
		tx->failed = 1;
	} else if (!kvresp_arity_ok(c, cmd)) {
		kvresp_wrong_args(c);
		tx->failed = 1;
	} else if (cmd->flags & KVRESP_NO_MULTI) {
		kvresp_error(c->o, "ERR Command not allowed inside a transaction");
		tx->failed = 1;
	} else if (kvmulti_append(tx, c) < 0) {
		kvresp_error(c->o, "ERR transaction discarded: its commands pass max_transaction "
		                   "or memory ran out");
		tx->failed = 1;
	} else {
		kvresp_str(c->o, "+QUEUED\r\n");
	}
	return 1;
}

void kvmulti_cmd_multi(struct kvresp_cmd *c)
{
	if (!have_conn_data) {
		kvresp_error(c->o, "ERR MULTI needs a modhost host with ABI 1.4 or later");
		return;
	}
	struct kvmulti_tx *tx = kvmulti_tx_of(c, 1);
	if (!tx) {
		kvresp_error(c->o, "ERR out of memory");
	} else if (tx->active) {
		kvresp_error(c->o, "ERR MULTI calls can not be nested");
	} else {
		tx->active = 1;
		kvmulti_open++;
		kvresp_str(c->o, "+OK\r\n");
	}
}

void kvmulti_cmd_discard(struct kvresp_cmd *c)
{
	struct kvmulti_tx *tx = kvmulti_tx_of(c, 0);
	if (!tx || !tx->active) {
		kvresp_error(c->o, "ERR DISCARD without MULTI");
		return;
	}
	kvmulti_end(c->inst, tx);
	kvresp_str(c->o, "+OK\r\n");
}

static uint32_t kvmulti_get32(const uint8_t **p)
{
	uint32_t v;
	memcpy(&v, *p, sizeof(v));
	*p += sizeof(v);
	return v;
}

/* Run the queued command at *p (advanced past it) as part of c. */
static void kvmulti_run_one(struct kvresp_cmd *c, const uint8_t **p, struct kvresp_argref *words)
{
	uint32_t n = kvmulti_get32(p);
	for (uint32_t i = 0; i < n; i++) {
		words[i].len = kvmulti_get32(p);
		words[i].data = (const char *)*p;
		*p += words[i].len;
	}
	struct kvresp_cmd sub = *c;
	sub.name = words[0].data;
	sub.name_len = words[0].len;
	sub.argc = n - 1;
	sub.args = words + 1;
	/* Found and checked when it was queued. */
	const struct kvresp_command *cmd = kvresp_lookup(sub.name, sub.name_len);
	cmd->run(&sub);
}

/* Whether every watched key's slot still has the version WATCH saw; under
 * the store's lock. */
static int kvmulti_watches_hold(const struct kvresp_cmd *c, const struct kvmulti_tx *tx)
{
	for (uint32_t i = 0; i < tx->n_watch; i++)
		if (kvstore_watch_version(c->s, tx->watch[i].slot) != tx->watch[i].version)
			return 0;
	return 1;
}

void kvmulti_cmd_exec(struct kvresp_cmd *c)
{
	struct kvmulti_tx *tx = kvmulti_tx_of(c, 0);
	if (!tx || !tx->active) {
		kvresp_error(c->o, "ERR EXEC without MULTI");
		return;
	}
	if (tx->failed) {
		kvmulti_end(c->inst, tx);
		kvresp_error(c->o, "EXECABORT Transaction discarded because of previous errors.");
		return;
	}
	uint32_t most = tx->most_words;
	struct kvresp_argref *words =
	    host->msg_alloc(c->req, (most ? most : 1) * sizeof(struct kvresp_argref));
	if (!words) {
		kvmulti_end(c->inst, tx);
		kvresp_error(c->o, "ERR out of memory");
		return;
	}
	/* The watches are checked and the commands run under one hold of the
	 * lock: nothing can change a key in between. */
	kv_lock(c->inst);
	if (!kvmulti_watches_hold(c, tx)) {
		kv_unlock(c->inst);
		kvmulti_end(c->inst, tx);
		kvresp_str(c->o, c->o->proto == 3 ? "_\r\n" : "*-1\r\n"); /* a null array */
		return;
	}
	kvresp_array(c->o, tx->n_cmds);
	c->inst->in_exec = 1;
	const uint8_t *p = tx->queue;
	for (uint32_t k = 0; k < tx->n_cmds; k++)
		kvmulti_run_one(c, &p, words);
	c->inst->in_exec = 0;
	kv_unlock(c->inst);
	kvmulti_end(c->inst, tx);
}

/* WATCH key...: note each key's version now, for EXEC to check. */
void kvmulti_cmd_watch(struct kvresp_cmd *c)
{
	if (!have_conn_data) {
		kvresp_error(c->o, "ERR WATCH needs a modhost host with ABI 1.4 or later");
		return;
	}
	struct kvmulti_tx *tx = kvmulti_tx_of(c, 1);
	if (!tx) {
		kvresp_error(c->o, "ERR out of memory");
		return;
	}
	if (tx->active) {
		kvresp_error(c->o, "ERR WATCH inside MULTI is not allowed");
		return;
	}
	if (tx->n_watch + c->argc > KVMULTI_MAX_WATCH) {
		kvresp_error(c->o, "ERR too many watched keys (at most 65536); UNWATCH first");
		return;
	}
	if (tx->n_watch + c->argc > tx->cap_watch) {
		uint32_t cap = tx->cap_watch ? tx->cap_watch : 16;
		while (cap < tx->n_watch + c->argc)
			cap *= 2;
		struct kvmulti_watch *w = realloc(tx->watch, cap * sizeof(*w));
		if (!w) {
			kvresp_error(c->o, "ERR out of memory");
			return;
		}
		tx->watch = w;
		tx->cap_watch = cap;
	}
	kv_lock(c->inst);
	if (tx->n_watch == 0)
		kvstore_watchers_add(c->s, 1); /* versions move from now on */
	for (size_t i = 0; i < c->argc; i++) {
		size_t len;
		const char *key = kvresp_arg(c, i, &len);
		struct kvmulti_watch *w = &tx->watch[tx->n_watch++];
		w->slot = kvstore_watch_slot(c->s, key, len);
		w->version = kvstore_watch_version(c->s, w->slot);
	}
	kv_unlock(c->inst);
	kvresp_str(c->o, "+OK\r\n");
}

void kvmulti_cmd_unwatch(struct kvresp_cmd *c)
{
	struct kvmulti_tx *tx = kvmulti_tx_of(c, 0);
	if (tx)
		kvmulti_unwatch(c->inst, tx);
	kvresp_str(c->o, "+OK\r\n");
}
