/* modules/kvdb.h — the Redis commands on the kv store (modules/kvdb.c on
 * values, kvnum.c counters, kvbits.c bits, kvkeys.c keys), as entries of
 * kvresp.c's command table.  Each runs the command in c (its arity already checked) and
 * writes its reply, errors included, to c->o; each takes and releases the
 * store's lock itself. */
#ifndef MH_KVDB_H
#define MH_KVDB_H

#include <stddef.h>
#include <stdint.h>

#include "kvstore.h"
#include "modhost.h"

struct kvresp_cmd;

/* Hand the host table to kvdb.c (from kvresp_init). */
void kvdb_init(const mh_host_api *api);

/* For kvkeys.c: lock the store and find the item named by the command's
 * first argument (NULL: none, or expired); the caller unlocks.  touch
 * marks it used for LRU eviction.  And the wall clock in milliseconds. */
kvstore_item *kvdb_find_first(struct kvresp_cmd *c, int64_t *now, int touch);
int64_t kvdb_unix_ms(void);
/* n bytes that live as long as the request (values copied aside). */
void *kvdb_scratch(struct kvresp_cmd *c, size_t n);
/* Write len bytes of add at offset (UINT64_MAX: the end) of old's value
 * (old NULL: a new key), zero-filling a gap, keeping the TTL; the caller
 * holds the lock and found old.  Returns the new length, or -1 after
 * writing the error reply (too long, out of memory, -OOM). */
/* Store val under key with an absolute expiry (0: none); keep_ttl keeps
 * the old item's.  Under the lock.  Returns 0 or -1 (OOM). */
int kvdb_store(struct kvresp_cmd *c, const char *key, size_t klen, const void *val, size_t vlen,
               int64_t expire_at, int keep_ttl, int64_t *now);
int64_t kvdb_splice(struct kvresp_cmd *c, kvstore_item *old, uint64_t offset, const char *add,
                    size_t alen, int64_t *now);
/* Clamp the range start..end (both included; negative: from the end) to a
 * value of len bytes, as GETRANGE does.  Returns 1 when it holds a byte. */
int kvdb_range(int64_t *start, int64_t *end, int64_t len);
/* The reply to a write the memory cap refuses. */
extern const char kvdb_err_oom[];

/* Strings (kvdb.c). */
void kvdb_cmd_get(struct kvresp_cmd *c); /* GET and GETDEL */
void kvdb_cmd_set(struct kvresp_cmd *c);
void kvdb_cmd_setex(struct kvresp_cmd *c); /* SETEX and PSETEX */
void kvdb_cmd_setnx(struct kvresp_cmd *c);
void kvdb_cmd_getset(struct kvresp_cmd *c);
void kvdb_cmd_strlen(struct kvresp_cmd *c);
void kvdb_cmd_append(struct kvresp_cmd *c);
void kvdb_cmd_setrange(struct kvresp_cmd *c);
void kvdb_cmd_getrange(struct kvresp_cmd *c);
void kvdb_cmd_getex(struct kvresp_cmd *c);
void kvdb_cmd_mget(struct kvresp_cmd *c);

/* ---- counters (modules/kvnum.c) ---- */
void kvnum_cmd_incr(struct kvresp_cmd *c); /* INCR, DECR, INCRBY, DECRBY */
void kvnum_cmd_incrbyfloat(struct kvresp_cmd *c);

/* ---- bits (modules/kvbits.c) ---- */
void kvbits_cmd_getbit(struct kvresp_cmd *c);
void kvbits_cmd_setbit(struct kvresp_cmd *c);
void kvbits_cmd_bitcount(struct kvresp_cmd *c);
void kvdb_cmd_mset(struct kvresp_cmd *c); /* MSET and MSETNX */

/* Keys (kvkeys.c). */
void kvkeys_cmd_count(struct kvresp_cmd *c);  /* DEL, UNLINK, EXISTS, TOUCH */
void kvkeys_cmd_expire(struct kvresp_cmd *c); /* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT */
void kvkeys_cmd_ttl(struct kvresp_cmd *c);    /* TTL, PTTL, EXPIRETIME, PEXPIRETIME */
void kvkeys_cmd_persist(struct kvresp_cmd *c);
void kvkeys_cmd_type(struct kvresp_cmd *c);
void kvkeys_cmd_rename(struct kvresp_cmd *c); /* RENAME, RENAMENX, COPY */
void kvkeys_cmd_randomkey(struct kvresp_cmd *c);
void kvkeys_cmd_memory(struct kvresp_cmd *c); /* MEMORY USAGE */
void kvkeys_cmd_keys(struct kvresp_cmd *c);
void kvkeys_cmd_scan(struct kvresp_cmd *c);
/* Whether key matches the glob pattern as KEYS and SCAN MATCH see it. */
int kvkeys_glob(const char *pattern, size_t plen, const uint8_t *key, size_t klen);

/* The server commands that read or empty the store. */
void kvdb_cmd_dbsize(struct kvresp_cmd *c);
void kvdb_cmd_flush(struct kvresp_cmd *c); /* FLUSHALL and FLUSHDB */
void kvdb_cmd_config(struct kvresp_cmd *c);
void kvdb_cmd_info(struct kvresp_cmd *c);

#endif
