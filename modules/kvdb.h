/* modules/kvdb.h — the Redis commands on the kv store (modules/kvdb.c),
 * as entries of kvresp.c's command table.  Each runs the command in c
 * (its arity already checked) and writes its reply, errors included, to
 * c->o; each takes and releases the store's lock itself. */
#ifndef MH_KVDB_H
#define MH_KVDB_H

#include "modhost.h"

struct kvresp_cmd;

/* Hand the host table to kvdb.c (from kvresp_init). */
void kvdb_init(const mh_host_api *api);

/* Strings and keys. */
void kvdb_cmd_get(struct kvresp_cmd *c);
void kvdb_cmd_set(struct kvresp_cmd *c);
void kvdb_cmd_del(struct kvresp_cmd *c);  /* DEL and EXISTS */
void kvdb_cmd_incr(struct kvresp_cmd *c); /* INCR, DECR, INCRBY, DECRBY */
void kvdb_cmd_mget(struct kvresp_cmd *c);
void kvdb_cmd_mset(struct kvresp_cmd *c);
void kvdb_cmd_expire(struct kvresp_cmd *c); /* EXPIRE and PEXPIRE */
void kvdb_cmd_ttl(struct kvresp_cmd *c);    /* TTL and PTTL */
void kvdb_cmd_persist(struct kvresp_cmd *c);
void kvdb_cmd_type(struct kvresp_cmd *c);

/* The server commands that read or empty the store. */
void kvdb_cmd_dbsize(struct kvresp_cmd *c);
void kvdb_cmd_flush(struct kvresp_cmd *c); /* FLUSHALL and FLUSHDB */
void kvdb_cmd_config(struct kvresp_cmd *c);
void kvdb_cmd_info(struct kvresp_cmd *c);

#endif
