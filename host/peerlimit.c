/* host/peerlimit.c — max_connections_per_ip (see peerlimit.h).
 *
 * A table is open addressing with linear probing over 64-bit keys (a seeded
 * hash of the listener's name and the address; 0 = never used).  An entry
 * whose count fell to 0 stays as a tombstone, so that readers' probes still
 * pass it, and is reused by the next new key that probes past it.  When
 * keys (live and tombstones) pass PEERLIMIT_TRACKED the owner rebuilds its
 * table from the live entries; a reader meanwhile may count that worker
 * short, which the limit's "within what other workers do at the same
 * instant" already allows. */
#include "build-config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "peerlimit.h"
#include "shm.h"

#define PEERLIMIT_MASK (PEERLIMIT_ENTRIES - 1)

struct peer_entry {
	uint64_t key;   /* atomic: written by the owner only */
	uint32_t count; /* atomic: written by the owner only */
	uint32_t unused;
};

struct peer_table {
	struct peer_entry e[PEERLIMIT_ENTRIES];
};

static struct peer_table *tables; /* SHM_MAX_SLOTS of them, shared; NULL until needed */
static uint64_t seed;             /* set before any fork: the same in every worker */

/* The calling worker's table and what it knows of it. */
static struct peer_table *own;
static int own_slot = -1;
static uint32_t own_keys; /* entries with a key, tombstones included */
static uint32_t own_live; /* entries with a count */
static int own_full_logged;
static struct peer_table single_table; /* workers = 0 */

int peerlimit_prepare(const struct config *cfg, char *err, size_t errlen)
{
	int wanted = 0;
	for (size_t i = 0; i < cfg->n_listeners; i++)
		wanted |= cfg->listeners[i].max_connections_per_ip > 0;
	if (!wanted || tables)
		return 0;
	size_t size = sizeof(struct peer_table) * SHM_MAX_SLOTS;
	/* Pages are made on first touch: only the slots of live workers of a
	 * listener with the limit take memory. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen,
		         "max_connections_per_ip: cannot map %zu MiB of shared memory: %s",
		         size >> 20, strerror(errno));
		return -1;
	}
	tables = p;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15u ^ (uint64_t)getpid();
	return 0;
}

void peerlimit_slot_reset(int slot)
{
	if (!tables || slot < 0 || slot >= SHM_MAX_SLOTS)
		return;
	/* Give the pages back rather than write zeros into them. */
	if (madvise(&tables[slot], sizeof(tables[slot]), MADV_REMOVE) < 0)
		memset(&tables[slot], 0, sizeof(tables[slot]));
}

void peerlimit_start(int slot)
{
	own_slot = tables && slot >= 0 && slot < SHM_MAX_SLOTS ? slot : -1;
	own = own_slot >= 0 ? &tables[own_slot] : &single_table;
	own_keys = own_live = 0;
	own_full_logged = 0;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

uint64_t peerlimit_key(const char *listener, const struct sockaddr *peer)
{
	uint64_t h = seed;
	for (const unsigned char *p = (const unsigned char *)listener; *p; p++)
		h = (h ^ *p) * 0x100000001b3u;
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
		h = mix(mix(h ^ 4) ^ in->sin_addr.s_addr);
	} else if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
		uint64_t hi, lo;
		memcpy(&hi, in6->sin6_addr.s6_addr, 8);
		memcpy(&lo, in6->sin6_addr.s6_addr + 8, 8);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			uint32_t v4;
			memcpy(&v4, in6->sin6_addr.s6_addr + 12, 4);
			h = mix(mix(h ^ 4) ^ v4); /* the same client as over IPv4 */
		} else {
			h = mix(mix(mix(h ^ 6) ^ hi) ^ lo);
		}
	} else {
		return 0;
	}
	return h ? h : 1;
}

static uint32_t table_count(const struct peer_table *t, uint64_t key)
{
	for (uint32_t n = 0, i = (uint32_t)key & PEERLIMIT_MASK; n < PEERLIMIT_ENTRIES;
	     n++, i = (i + 1) & PEERLIMIT_MASK) {
		uint64_t k = __atomic_load_n(&t->e[i].key, __ATOMIC_ACQUIRE);
		if (k == key)
			return __atomic_load_n(&t->e[i].count, __ATOMIC_RELAXED);
		if (k == 0)
			return 0;
	}
	return 0;
}

uint32_t peerlimit_count(uint64_t key)
{
	if (!own)
		return 0;
	uint32_t n = table_count(own, key);
	const struct shm_zone *zone = shm_get();
	if (own_slot < 0 || !zone)
		return n;
	for (uint32_t i = 0; i < zone->used_slots && i < SHM_MAX_SLOTS; i++)
		if ((int)i != own_slot && zone->slots[i].pid > 0)
			n += table_count(&tables[i], key);
	return n;
}

/* The owner's entry for key, or NULL; *free_at gets where a new key would
 * go (the first tombstone on the way, else the empty entry ending the
 * probe; NULL when the table has neither). */
static struct peer_entry *own_find(uint64_t key, struct peer_entry **free_at)
{
	*free_at = NULL;
	for (uint32_t n = 0, i = (uint32_t)key & PEERLIMIT_MASK; n < PEERLIMIT_ENTRIES;
	     n++, i = (i + 1) & PEERLIMIT_MASK) {
		struct peer_entry *e = &own->e[i];
		if (e->key == key)
			return e;
		if (e->key == 0) {
			if (!*free_at)
				*free_at = e;
			return NULL;
		}
		if (e->count == 0 && !*free_at)
			*free_at = e;
	}
	return NULL;
}

static void own_put(struct peer_entry *e, uint64_t key, uint32_t count)
{
	if (e->key == 0)
		own_keys++;
	/* The count first: a reader that finds the key sees its count. */
	__atomic_store_n(&e->count, count, __ATOMIC_RELAXED);
	__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
}

/* Drop the tombstones: put the live entries back into an empty table. */
static void own_rebuild(void)
{
	struct peer_entry *live = malloc(sizeof(*live) * (own_live ? own_live : 1));
	if (!live)
		return; /* keep the tombstones; the next add tries again */
	uint32_t n = 0;
	for (uint32_t i = 0; i < PEERLIMIT_ENTRIES && n < own_live; i++)
		if (own->e[i].key && own->e[i].count)
			live[n++] = own->e[i];
	for (uint32_t i = 0; i < PEERLIMIT_ENTRIES; i++) {
		__atomic_store_n(&own->e[i].key, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&own->e[i].count, 0, __ATOMIC_RELAXED);
	}
	own_keys = 0;
	for (uint32_t k = 0; k < n; k++) {
		struct peer_entry *at;
		own_find(live[k].key, &at);
		own_put(at, live[k].key, live[k].count);
	}
	free(live);
}

int peerlimit_add(uint64_t key)
{
	if (!own)
		return -1;
	struct peer_entry *at, *e = own_find(key, &at);
	if (e) {
		if (e->count == 0)
			own_live++;
		__atomic_store_n(&e->count, e->count + 1, __ATOMIC_RELAXED);
		return 0;
	}
	if (own_live >= PEERLIMIT_TRACKED) {
		if (!own_full_logged)
			log_warn(
			    "max_connections_per_ip: this worker has connections from %u "
			    "addresses, as many as it counts; connections from further ones are "
			    "not limited",
			    own_live);
		own_full_logged = 1;
		return -1;
	}
	if (own_keys >= PEERLIMIT_TRACKED && (!at || at->key == 0)) {
		own_rebuild();
		own_find(key, &at);
	}
	if (!at)
		return -1;
	own_put(at, key, 1);
	own_live++;
	return 0;
}

void peerlimit_remove(uint64_t key)
{
	struct peer_entry *at, *e = own ? own_find(key, &at) : NULL;
	if (!e || e->count == 0)
		return;
	__atomic_store_n(&e->count, e->count - 1, __ATOMIC_RELAXED);
	if (e->count == 0)
		own_live--;
}
