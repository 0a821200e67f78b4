/* host/shm.c — the shared-memory zone and the per-worker slots. */
#include "build-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "loader.h"
#include "log.h"
#include "shm.h"

static struct shm_zone *zone;
static struct shm_slot *self;

int shm_create(char *err, size_t errlen)
{
	if (zone)
		return 0;
	void *p = mmap(NULL, sizeof(*zone), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the shared-memory zone: %s", strerror(errno));
		return -1;
	}
	zone = p;
	zone->n_slots = SHM_MAX_SLOTS;
	return 0;
}

struct shm_zone *shm_get(void)
{
	return zone;
}

int shm_slot_claim(void)
{
	if (!zone)
		return -1;
	for (uint32_t i = 0; i < zone->n_slots; i++) {
		if (zone->slots[i].pid == 0) {
			memset(&zone->slots[i], 0, sizeof(zone->slots[i]));
			zone->slots[i].pid = -1; /* reserved until the fork sets it */
			if (i + 1 > zone->used_slots)
				zone->used_slots = i + 1;
			return (int)i;
		}
	}
	return -1;
}

void shm_slot_release(int index)
{
	if (zone && index >= 0 && (uint32_t)index < zone->n_slots)
		memset(&zone->slots[index], 0, sizeof(zone->slots[index]));
}

void shm_set_self(int index)
{
	self = (zone && index >= 0) ? &zone->slots[index] : NULL;
}

struct shm_slot *shm_self(void)
{
	return self;
}

uint64_t shm_host_connections(void)
{
	uint64_t n = 0;
	for (uint32_t i = 0; zone && i < zone->used_slots; i++)
		if (zone->slots[i].pid > 0)
			n += zone->slots[i].connections;
	return n;
}

uint64_t shm_listener_connections(unsigned gen, size_t index)
{
	uint64_t n = 0;
	if (index >= SHM_MAX_LISTENERS)
		return 0;
	for (uint32_t i = 0; zone && i < zone->used_slots; i++)
		if (zone->slots[i].pid > 0 && zone->slots[i].generation == gen)
			n += zone->slots[i].listener_conns[index];
	return n;
}

void shm_set_modules(const struct module_set *set)
{
	if (!self)
		return;
	for (size_t i = 0; i < set->n && i < SHM_MAX_MODULES; i++)
		snprintf(self->modules[i], SHM_NAME_MAX, "%s", set->mods[i]->name);
}

const char *shm_running_module(const struct shm_slot *slot)
{
	uint32_t r = slot->running;
	if (r == 0 || r > SHM_MAX_MODULES || !slot->modules[r - 1][0])
		return NULL;
	return slot->modules[r - 1];
}

/* Called around every module hook, on the message path: one store. */
void shm_mark_running(const struct mh_module *m)
{
	if (!self)
		return;
	self->running = m && m->index < SHM_MAX_MODULES ? (uint32_t)m->index + 1 : 0;
}

/* Zones live as long as the master: workers inherit the mappings, and a
 * reload's instances find theirs by module and zone name. */
struct shm_named_zone {
	char *key; /* "module/zone" */
	size_t size;
	void *mem;
	struct shm_named_zone *next;
};

static struct shm_named_zone *named_zones;

void *shm_zone_get(struct mh_module *m, const char *name, size_t size)
{
	char key[256];
	snprintf(key, sizeof(key), "%s/%s", m->name, name);
	for (struct shm_named_zone *z = named_zones; z; z = z->next) {
		if (strcmp(z->key, key) != 0)
			continue;
		if (z->size != size) {
			log_write(MH_LOG_ERROR, m->name,
			          "shared zone '%s' exists with %zu bytes, not %zu; restart to resize",
			          name, z->size, size);
			return NULL;
		}
		return z->mem;
	}
	if (self) {
		log_write(MH_LOG_ERROR, m->name,
		          "shared zone '%s' can only be made in the load hook", name);
		return NULL;
	}
	struct shm_named_zone *z = calloc(1, sizeof(*z));
	void *mem = mmap(NULL, size ? size : 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	                 -1, 0);
	if (!z || mem == MAP_FAILED || !(z->key = strdup(key))) {
		log_write(MH_LOG_ERROR, m->name, "cannot map shared zone '%s' of %zu bytes: %s",
		          name, size, strerror(errno));
		if (mem != MAP_FAILED)
			munmap(mem, size ? size : 1);
		free(z);
		return NULL;
	}
	z->size = size;
	z->mem = mem;
	z->next = named_zones;
	named_zones = z;
	return mem;
}
