/* host/shm.h — the shared-memory zone: created by the master before any
 * fork (MAP_SHARED|MAP_ANONYMOUS), one slot per worker process.  The master
 * reads a dead worker's slot to say which module it was running. */
#ifndef MH_SHM_H
#define MH_SHM_H

#include <stdint.h>
#include <sys/types.h>

#define SHM_MAX_SLOTS 1024
#define SHM_NAME_MAX 32   /* module names in crash reports are cut to this */
#define SHM_MAX_MODULES 64 /* modules a crash report can name */
#define SHM_MAX_LISTENERS 64 /* listeners whose connections are counted host-wide */

struct shm_slot {
	volatile pid_t pid;     /* 0: free */
	volatile uint32_t generation;
	volatile int32_t worker_id;
	volatile uint32_t ready; /* worker finished worker_init and serves */
	volatile uint64_t connections;
	volatile uint64_t accepted;
	volatile uint32_t listener_conns[SHM_MAX_LISTENERS]; /* by listener index in its generation */
	volatile uint32_t running; /* 1 + index of the module whose hook runs; 0 = the host */
	char modules[SHM_MAX_MODULES][SHM_NAME_MAX]; /* the worker's modules, by index */
};

struct shm_zone {
	uint32_t n_slots;
	uint32_t used_slots; /* one past the highest slot ever claimed */
	struct shm_slot slots[SHM_MAX_SLOTS];
};

/* Create the zone (once, in the master).  Returns 0 or -1 with err. */
int shm_create(char *err, size_t errlen);
struct shm_zone *shm_get(void);
/* Find a free slot for a new worker; returns its index or -1. */
int shm_slot_claim(void);
void shm_slot_release(int index);
/* The calling worker's slot (set after fork), or NULL in the master. */
void shm_set_self(int index);
struct shm_slot *shm_self(void);
/* Connections open in the whole host (every live worker), and on listener
 * index of generation gen.  Read without locks: a worker deciding whether to
 * accept may see a count that is short by what other workers accept at the
 * same instant, so limits hold within (workers - 1). */
uint64_t shm_host_connections(void);

struct mh_module;
struct module_set;
/* Copy the names of set's modules into the calling worker's slot, so that
 * marking a running module is one store and the master can still name it
 * after the worker died. */
void shm_set_modules(const struct module_set *set);
/* The name of the module slot was running when it stopped, or NULL. */
const char *shm_running_module(const struct shm_slot *slot);

/* A named shared zone for module m (shm_zone in the host table): made on
 * first request, in the master before workers fork, and kept for the life
 * of the master so that a reload's load hook gets the same memory back.
 * Returns NULL (after logging why) when size differs from the existing
 * zone's or mapping fails. */
void *shm_zone_get(struct mh_module *m, const char *name, size_t size);
uint64_t shm_listener_connections(unsigned gen, size_t index);

#endif
