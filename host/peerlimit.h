/* host/peerlimit.h — a listener's max_connections_per_ip: connections from
 * one client address, counted over the whole host.
 *
 * Every worker counts its own connections by (listener, address) in its
 * own table, in a shared mapping the master makes before it forks (one
 * table per shared-memory slot).  Only the owner writes its table; a worker
 * deciding on a new connection sums that key over the tables of every live
 * worker, without locks.  A worker that dies takes its counts with it: its
 * slot is released and the next occupant starts from an empty table.  With
 * workers = 0 the one process uses a private table.
 *
 * Like max_connections, the limit holds within what other workers accept
 * at the same instant.  A table tracks PEERLIMIT_TRACKED distinct keys at
 * once; a worker past that admits and does not count (logged once). */
#ifndef MH_PEERLIMIT_H
#define MH_PEERLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PEERLIMIT_ENTRIES 8192 /* per worker; a power of two */
#define PEERLIMIT_TRACKED (PEERLIMIT_ENTRIES / 4 * 3)

struct config;

/* In the master (and the single process) while building a generation:
 * map the tables once if any listener of cfg sets max_connections_per_ip.
 * Returns 0, or -1 with err. */
int peerlimit_prepare(const struct config *cfg, char *err, size_t errlen);
/* In the master before it forks into slot: empty that slot's table. */
void peerlimit_slot_reset(int slot);
/* In a worker after fork: count into slot's table (slot < 0: workers = 0,
 * a private table). */
void peerlimit_start(int slot);

/* The key of listener's connections from peer; 0 for a peer that is not
 * an IPv4 or IPv6 address. */
uint64_t peerlimit_key(const char *listener, const struct sockaddr *peer);
/* Connections counted under key in the whole host. */
uint32_t peerlimit_count(uint64_t key);
/* Count one more (0), or -1 when this worker's table is full (not
 * counted: do not remove it later). */
int peerlimit_add(uint64_t key);
void peerlimit_remove(uint64_t key);

#endif
