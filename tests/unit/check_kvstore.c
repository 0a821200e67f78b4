/* tests/unit/check_kvstore.c — the kv handler's store (modules/kvstore.c,
 * linked in) without the handler: its lock taken over from a dead holder,
 * reattachment under another policy, WATCH versions, the table growing
 * while serving and SCAN across that, and values that grow in their slot. */
#include "build-config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "kvstore.h"

/* A new store of max_memory bytes in shared memory, as the master makes it. */
static struct kvstore *store_new_sized(void **zone, size_t *size, uint64_t max_memory, int policy)
{
	char err[256];
	*size = kvstore_zone_size(max_memory);
	*zone = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(*zone, MAP_FAILED);
	struct kvstore *s = kvstore_attach(*zone, *size, max_memory, policy, err, sizeof(err));
	ck_assert_msg(s != NULL, "%s", err);
	return s;
}

static struct kvstore *store_new(void **zone, size_t *size, int policy)
{
	return store_new_sized(zone, size, KVSTORE_MIN_MEMORY, policy);
}

/* Link key (a C string) with a value of vlen bytes; returns 0 or -1. */
static int store_put(struct kvstore *s, const char *key, size_t vlen)
{
	int64_t now = 0;
	kvstore_item *it = kvstore_alloc(s, key, strlen(key), vlen, &now);
	if (!it)
		return -1;
	memset(kvstore_value_w(it), 'v', vlen);
	kvstore_link(s, it, 0);
	return 0;
}

static struct kvstore_stats store_stats(struct kvstore *s)
{
	struct kvstore_stats st;
	kvstore_get_stats(s, &st);
	return st;
}

/* Whether key "k<i>" is there with the value "v<i>". */
static int store_has(struct kvstore *s, uint32_t i)
{
	char key[16], want[16];
	int64_t now = 0;
	size_t vlen;
	snprintf(key, sizeof(key), "k%u", i);
	int n = snprintf(want, sizeof(want), "v%u", i);
	kvstore_item *it = kvstore_find(s, key, strlen(key), &now, 1);
	if (!it)
		return 0;
	const uint8_t *v = kvstore_value(it, &vlen);
	ck_assert_msg(vlen == (size_t)n && memcmp(v, want, vlen) == 0, "%s has a wrong value", key);
	return 1;
}

START_TEST(kvstore_table_grows_while_serving)
{
	/* 30000 keys inserted, deleted and read in a pseudo-random mix: the
	 * table doubles several times (each a bucket at a time, interleaved
	 * with the other operations) and loses nothing. */
	enum { N = 30000 };
	static uint8_t want[N];
	void *zone;
	size_t size;
	struct kvstore *s = store_new_sized(&zone, &size, 8u << 20, KVSTORE_NOEVICTION);
	uint32_t rng = 7;
	uint64_t expect = 0;
	kvstore_lock(s);
	for (uint32_t i = 0; i < N; i++) {
		char key[16], val[16];
		int64_t now = 0;
		snprintf(key, sizeof(key), "k%u", i);
		int n = snprintf(val, sizeof(val), "v%u", i);
		kvstore_item *it = kvstore_alloc(s, key, strlen(key), (size_t)n, &now);
		ck_assert_ptr_nonnull(it);
		memcpy(kvstore_value_w(it), val, (size_t)n);
		ck_assert_int_eq(kvstore_link(s, it, 0), 0);
		want[i] = 1;
		expect++;
		uint32_t j = unit_rng_next(&rng) % (i + 1);
		ck_assert_int_eq(store_has(s, j), want[j]);
		if (unit_rng_next(&rng) % 5 == 0) {
			j = unit_rng_next(&rng) % (i + 1);
			snprintf(key, sizeof(key), "k%u", j);
			ck_assert_int_eq(kvstore_delete(s, key, strlen(key), &now), want[j]);
			expect -= want[j];
			want[j] = 0;
		}
	}
	struct kvstore_stats st;
	kvstore_get_stats(s, &st);
	ck_assert_uint_eq(st.keys, expect);
	ck_assert_uint_ge(st.buckets, 16384);
	for (uint32_t i = 0; i < N; i++)
		ck_assert_int_eq(store_has(s, i), want[i]);
	kvstore_flush(s);
	kvstore_get_stats(s, &st);
	ck_assert_uint_eq(st.keys, 0);
	ck_assert_uint_eq(st.buckets, 1024);
	kvstore_unlock(s);
	munmap(zone, size);
}
END_TEST

static void store_count_visit(void *arg, const kvstore_item *it)
{
	uint8_t *seen = arg;
	size_t klen;
	const uint8_t *key = kvstore_key(it, &klen);
	char text[16];
	ck_assert_uint_lt(klen, sizeof(text));
	memcpy(text, key, klen);
	text[klen] = '\0';
	unsigned i = (unsigned)strtoul(text + 1, NULL, 10);
	if (seen[i] < 255)
		seen[i]++;
}

START_TEST(kvstore_scan_sees_every_key_while_the_table_grows)
{
	/* 2000 keys, then a scan one step at a time with 20 new keys (and a
	 * deletion) between steps: the table doubles several times under the
	 * cursor.  Every key present from start to end is visited at least
	 * once; keys come at most a few times each. */
	enum { OLD = 2000, N = 30000 };
	static uint8_t seen[N];
	void *zone;
	size_t size;
	struct kvstore *s = store_new_sized(&zone, &size, 8u << 20, KVSTORE_NOEVICTION);
	char key[16];
	kvstore_lock(s);
	for (uint32_t i = 0; i < OLD; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		ck_assert_int_eq(store_put(s, key, 4), 0);
	}
	uint32_t next = OLD, steps = 0;
	uint64_t buckets_before = 0, cursor = 0;
	struct kvstore_stats st;
	kvstore_get_stats(s, &st);
	buckets_before = st.buckets;
	do {
		int64_t now = 0;
		cursor = kvstore_scan(s, cursor, &now, store_count_visit, seen);
		for (int j = 0; j < 20 && next < N; j++, next++) {
			snprintf(key, sizeof(key), "k%u", next);
			ck_assert_int_eq(store_put(s, key, 4), 0);
			/* Lookups move the resize on. */
			ck_assert_ptr_nonnull(kvstore_find(s, key, strlen(key), &now, 0));
		}
		snprintf(key, sizeof(key), "k%u", next - 1);
		kvstore_delete(s, key, strlen(key), &now);
		steps++;
	} while (cursor);
	kvstore_get_stats(s, &st);
	ck_assert_uint_ge(st.buckets, buckets_before * 4);
	for (uint32_t i = 0; i < OLD; i++)
		ck_assert_msg(seen[i] >= 1 && seen[i] <= 4, "k%u visited %u times", i, seen[i]);
	ck_assert_uint_gt(steps, 1000);
	kvstore_unlock(s);
	munmap(zone, size);
}
END_TEST

/* WATCH versions move only while some connection watches, and keep moving
 * until the last watcher leaves; emptying the store always moves them. */
START_TEST(kvstore_watch_versions_move_while_watched)
{
	void *zone;
	size_t size;
	struct kvstore *s = store_new(&zone, &size, KVSTORE_NOEVICTION);
	uint32_t slot = kvstore_watch_slot(s, "k", 1);
	uint64_t v0 = kvstore_watch_version(s, slot);
	ck_assert_int_eq(store_put(s, "k", 8), 0);
	ck_assert_uint_eq(kvstore_watch_version(s, slot), v0); /* nobody watches */
	kvstore_watchers_add(s, 1);
	kvstore_watchers_add(s, 1);
	uint64_t v1 = kvstore_watch_version(s, slot);
	ck_assert_int_eq(store_put(s, "k", 8), 0); /* replaces: removed and linked */
	ck_assert_uint_gt(kvstore_watch_version(s, slot), v1);
	kvstore_watchers_add(s, -1); /* one of two leaves: still watched */
	v1 = kvstore_watch_version(s, slot);
	int64_t now = 0;
	ck_assert_int_eq(kvstore_delete(s, "k", 1, &now), 1);
	ck_assert_uint_gt(kvstore_watch_version(s, slot), v1);
	kvstore_watchers_add(s, -1);
	kvstore_watchers_add(s, -1); /* never below zero */
	v1 = kvstore_watch_version(s, slot);
	ck_assert_int_eq(store_put(s, "k", 8), 0);
	ck_assert_uint_eq(kvstore_watch_version(s, slot), v1);
	kvstore_watchers_add(s, 1); /* one watcher again: counted from zero */
	v1 = kvstore_watch_version(s, slot);
	ck_assert_int_eq(store_put(s, "k", 8), 0);
	ck_assert_uint_gt(kvstore_watch_version(s, slot), v1);
	kvstore_watchers_add(s, -1);
	v1 = kvstore_watch_version(s, slot);
	kvstore_flush(s);
	ck_assert_uint_gt(kvstore_watch_version(s, slot), v1);
	munmap(zone, size);
}
END_TEST

START_TEST(kvstore_lock_taken_over_from_a_dead_holder)
{
	void *zone;
	size_t size;
	struct kvstore *s = store_new(&zone, &size, KVSTORE_NOEVICTION);
	ck_assert_int_eq(kvstore_lock(s), 0);
	ck_assert_int_eq(store_put(s, "k", 10), 0);
	kvstore_unlock(s);

	/* A worker that dies holding the lock (mid-change, for all we
	 * know): the next locker takes the lock over and empties the store. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		kvstore_process_init();
		kvstore_lock(s);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(kvstore_lock(s), 1);
	ck_assert_uint_eq(store_stats(s).keys, 0);
	ck_assert_int_eq(store_put(s, "after", 10), 0);
	kvstore_unlock(s);
	ck_assert_int_eq(kvstore_lock(s), 0);
	ck_assert_uint_eq(store_stats(s).keys, 1);
	kvstore_unlock(s);
	munmap(zone, size);
}
END_TEST

START_TEST(kvstore_reattach_keeps_keys_and_applies_the_policy)
{
	void *zone;
	size_t size;
	char err[256];
	struct kvstore *s = store_new(&zone, &size, KVSTORE_NOEVICTION);
	kvstore_lock(s);
	int fitted = 0;
	char key[32];
	for (; fitted < 1000; fitted++) {
		snprintf(key, sizeof(key), "k%d", fitted);
		if (store_put(s, key, 1000) < 0)
			break;
	}
	ck_assert_int_gt(fitted, 30);
	kvstore_unlock(s);

	/* A reload attaches the same zone: same keys; another size is refused. */
	ck_assert_ptr_null(
	    kvstore_attach(zone, size, 2 * KVSTORE_MIN_MEMORY, KVSTORE_LRU, err, sizeof(err)));
	struct kvstore *again =
	    kvstore_attach(zone, size, KVSTORE_MIN_MEMORY, KVSTORE_LRU, err, sizeof(err));
	ck_assert_ptr_eq(again, s);
	kvstore_lock(s);
	ck_assert_uint_eq(store_stats(s).keys, (uint64_t)fitted);
	/* Now under LRU (the switch linked the keys in no particular order):
	 * a full store takes more keys by evicting; a key just read stays. */
	int64_t now = 0;
	snprintf(key, sizeof(key), "k%d", fitted - 1);
	ck_assert_ptr_nonnull(kvstore_find(s, key, strlen(key), &now, 1));
	ck_assert_int_eq(store_put(s, "new", 1000), 0);
	ck_assert_uint_eq(store_stats(s).keys, (uint64_t)fitted);
	ck_assert_ptr_nonnull(kvstore_find(s, "new", 3, &now, 1));
	ck_assert_ptr_nonnull(kvstore_find(s, key, strlen(key), &now, 1));
	kvstore_unlock(s);
	munmap(zone, size);
}
END_TEST

/* A value lengthens and shortens inside its slot, keeping its bytes, and
 * no further; a watched key's version moves; the memory in use does not. */
START_TEST(kvstore_value_length_changes_in_its_slot)
{
	void *zone;
	size_t size;
	int64_t now = 0;
	struct kvstore *s = store_new(&zone, &size, KVSTORE_NOEVICTION);
	kvstore_lock(s);
	ck_assert_int_eq(store_put(s, "k", 10), 0);
	kvstore_item *it = kvstore_find(s, "k", 1, &now, 0);
	ck_assert_ptr_nonnull(it);
	uint64_t slot = kvstore_item_bytes(s, it), used = store_stats(s).used;
	kvstore_watchers_add(s, 1);
	uint32_t ws = kvstore_watch_slot(s, "k", 1);
	uint64_t version = kvstore_watch_version(s, ws);

	size_t longest = 10;
	while (kvstore_set_length(s, it, longest + 1) == 0)
		longest++;
	/* The slot holds the key, the value and a header of some size. */
	ck_assert_uint_lt(1 + longest, slot);
	ck_assert_uint_gt(1 + longest + 64, slot);
	size_t vlen;
	const uint8_t *v = kvstore_value(it, &vlen);
	ck_assert_uint_eq(vlen, longest);
	ck_assert_int_eq(memcmp(v, "vvvvvvvvvv", 10), 0);
	ck_assert_int_eq(kvstore_set_length(s, it, slot), -1);
	ck_assert_int_eq(kvstore_set_length(s, it, (size_t)UINT32_MAX + 1), -1);
	ck_assert_uint_eq(kvstore_value(it, &vlen) - v, 0);
	ck_assert_uint_eq(vlen, longest); /* a refusal changes nothing */
	ck_assert_int_eq(kvstore_set_length(s, it, 3), 0);
	ck_assert_ptr_eq(kvstore_find(s, "k", 1, &now, 0), it);
	kvstore_value(it, &vlen);
	ck_assert_uint_eq(vlen, 3);
	ck_assert_uint_ne(kvstore_watch_version(s, ws), version);
	ck_assert_uint_eq(store_stats(s).used, used);
	kvstore_watchers_add(s, -1);
	kvstore_unlock(s);
	munmap(zone, size);
}
END_TEST

/* kvstore_alloc_spare takes the larger slot only when it is free or still
 * to be carved: in a full store it falls back to the slot the value needs,
 * evicting no more than that needs. */
START_TEST(kvstore_alloc_spare_takes_room_only_when_free)
{
	void *zone;
	size_t size;
	int64_t now = 0;
	struct kvstore *s = store_new(&zone, &size, KVSTORE_LRU);
	kvstore_lock(s);
	kvstore_item *it = kvstore_alloc_spare(s, "a", 1, 100, 1000, &now);
	ck_assert_ptr_nonnull(it);
	size_t vlen;
	kvstore_value(it, &vlen);
	ck_assert_uint_eq(vlen, 100);
	ck_assert_uint_gt(kvstore_item_bytes(s, it), 1100);
	ck_assert_int_eq(kvstore_set_length(s, it, 1100), 0);
	kvstore_link(s, it, 0);

	/* Fill the store with 1000-byte values until the first eviction. */
	char key[32];
	int n = 0;
	while (store_stats(s).evicted == 0) {
		snprintf(key, sizeof(key), "k%d", n++);
		ck_assert_int_eq(store_put(s, key, 1000), 0);
	}
	uint64_t keys = store_stats(s).keys, evicted = store_stats(s).evicted;
	it = kvstore_alloc_spare(s, "b", 1, 1000, 1000, &now);
	ck_assert_ptr_nonnull(it);
	ck_assert_uint_lt(kvstore_item_bytes(s, it), 2000);
	ck_assert_uint_eq(store_stats(s).evicted, evicted + 1);
	kvstore_link(s, it, 0);
	ck_assert_uint_eq(store_stats(s).keys, keys);
	ck_assert_uint_eq(store_stats(s).oom, 0);
	kvstore_unlock(s);
	munmap(zone, size);
}
END_TEST

static Suite *kvstore_suite(void)
{
	Suite *s = suite_create("kvstore");
	TCase *tc = tcase_create("kvstore");
	tcase_add_test(tc, kvstore_watch_versions_move_while_watched);
	tcase_add_test(tc, kvstore_lock_taken_over_from_a_dead_holder);
	tcase_add_test(tc, kvstore_reattach_keeps_keys_and_applies_the_policy);
	tcase_add_test(tc, kvstore_table_grows_while_serving);
	tcase_add_test(tc, kvstore_scan_sees_every_key_while_the_table_grows);
	tcase_add_test(tc, kvstore_value_length_changes_in_its_slot);
	tcase_add_test(tc, kvstore_alloc_spare_takes_room_only_when_free);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(kvstore_suite());
}
