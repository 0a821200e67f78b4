/* tests/unit/check_peerlimit.c — the counting behind a listener's
 * max_connections_per_ip (host/peerlimit.c): keys per listener and
 * address (an IPv4-mapped IPv6 peer is its IPv4 self), exact counts
 * through heavy churn of distinct addresses (tombstones reused, the table
 * rebuilt), a full table that refuses only new addresses, and the sum over
 * the tables of every live worker in shared memory. */
#include "build-config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "peerlimit.h"
#include "shm.h"
#include "unit.h"

static struct sockaddr_in v4(uint32_t host_order)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(1234)};
	in.sin_addr.s_addr = htonl(host_order);
	return in;
}

static uint64_t key4(const char *listener, uint32_t addr)
{
	struct sockaddr_in in = v4(addr);
	return peerlimit_key(listener, (struct sockaddr *)&in);
}

/* Map the shared tables as the master does for a configuration with the
 * limit on a listener. */
static void prepare_shared(void)
{
	struct listener_settings ls = {.name = "l", .max_connections_per_ip = 1};
	struct config cfg = {.listeners = &ls, .n_listeners = 1};
	char err[256];
	ck_assert_int_eq(peerlimit_prepare(&cfg, err, sizeof(err)), 0);
}

START_TEST(test_keys_tell_listeners_and_addresses_apart)
{
	prepare_shared();
	ck_assert_uint_ne(key4("a", 0x7f000001), 0);
	ck_assert_uint_eq(key4("a", 0x7f000001), key4("a", 0x7f000001));
	ck_assert_uint_ne(key4("a", 0x7f000001), key4("b", 0x7f000001));
	ck_assert_uint_ne(key4("a", 0x7f000001), key4("a", 0x7f000002));

	struct sockaddr_in6 mapped = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
	ck_assert_uint_eq(peerlimit_key("a", (struct sockaddr *)&mapped), key4("a", 0x7f000001));
	struct sockaddr_in6 six = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "2001:db8::1", &six.sin6_addr);
	uint64_t k6 = peerlimit_key("a", (struct sockaddr *)&six);
	inet_pton(AF_INET6, "2001:db8::2", &six.sin6_addr);
	ck_assert_uint_ne(k6, 0);
	ck_assert_uint_ne(k6, peerlimit_key("a", (struct sockaddr *)&six));

	struct sockaddr un = {.sa_family = AF_UNIX};
	ck_assert_uint_eq(peerlimit_key("a", &un), 0);
}
END_TEST

START_TEST(test_counts_follow_adds_and_removes)
{
	peerlimit_start(-1);
	uint64_t k = key4("l", 0x0a000001), other = key4("l", 0x0a000002);
	ck_assert_uint_eq(peerlimit_count(k), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(peerlimit_add(k), 0);
	ck_assert_int_eq(peerlimit_add(other), 0);
	ck_assert_uint_eq(peerlimit_count(k), 3);
	ck_assert_uint_eq(peerlimit_count(other), 1);
	peerlimit_remove(k);
	ck_assert_uint_eq(peerlimit_count(k), 2);
	peerlimit_remove(other);
	peerlimit_remove(other); /* one too many: stays at 0 */
	ck_assert_uint_eq(peerlimit_count(other), 0);
	ck_assert_uint_eq(peerlimit_count(k), 2);
}
END_TEST

/* Far more distinct addresses than a table holds come and go (each one
 * added, then removed a while later), while a fixed set stays connected:
 * tombstones are reused and the table rebuilt, and no count is lost. */
START_TEST(test_churn_of_distinct_addresses_keeps_counts_exact)
{
	peerlimit_start(-1);
	enum { STAYING = 500, WINDOW = 1000, CHURN = 20 * PEERLIMIT_ENTRIES };
	for (uint32_t i = 0; i < STAYING; i++)
		for (uint32_t n = 0; n <= i % 3; n++)
			ck_assert_int_eq(peerlimit_add(key4("l", 0x0b000000 + i)), 0);
	for (uint32_t i = 0; i < CHURN; i++) {
		ck_assert_int_eq(peerlimit_add(key4("l", 0x0c000000 + i)), 0);
		if (i >= WINDOW)
			peerlimit_remove(key4("l", 0x0c000000 + i - WINDOW));
	}
	for (uint32_t i = 0; i < STAYING; i++)
		ck_assert_uint_eq(peerlimit_count(key4("l", 0x0b000000 + i)), i % 3 + 1);
	for (uint32_t i = CHURN - WINDOW; i < CHURN; i++)
		ck_assert_uint_eq(peerlimit_count(key4("l", 0x0c000000 + i)), 1);
	ck_assert_uint_eq(peerlimit_count(key4("l", 0x0c000000)), 0);
}
END_TEST

START_TEST(test_full_table_refuses_only_new_addresses)
{
	peerlimit_start(-1);
	for (uint32_t i = 0; i < PEERLIMIT_TRACKED; i++)
		ck_assert_int_eq(peerlimit_add(key4("l", 0x0d000000 + i)), 0);
	ck_assert_int_eq(peerlimit_add(key4("l", 0x0e000000)), -1);
	ck_assert_int_eq(peerlimit_add(key4("l", 0x0d000000)), 0); /* known: counted */
	ck_assert_uint_eq(peerlimit_count(key4("l", 0x0d000000)), 2);
	peerlimit_remove(key4("l", 0x0d000005));
	ck_assert_int_eq(peerlimit_add(key4("l", 0x0e000000)), 0);
	ck_assert_uint_eq(peerlimit_count(key4("l", 0x0e000000)), 1);
}
END_TEST

/* Two workers' tables in shared memory: each counts its own, and both see
 * the sum; a slot without a live process does not count. */
START_TEST(test_count_sums_every_live_worker)
{
	char err[256];
	ck_assert_int_eq(shm_create(err, sizeof(err)), 0);
	prepare_shared();
	int a = shm_slot_claim(), b = shm_slot_claim();
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	peerlimit_slot_reset(a);
	peerlimit_slot_reset(b);
	shm_get()->slots[a].pid = getpid();
	shm_get()->slots[b].pid = getpid();
	uint64_t k = key4("l", 0x7f000001);

	peerlimit_start(a);
	ck_assert_int_eq(peerlimit_add(k), 0);
	ck_assert_int_eq(peerlimit_add(k), 0);
	peerlimit_start(b);
	ck_assert_int_eq(peerlimit_add(k), 0);
	ck_assert_uint_eq(peerlimit_count(k), 3);
	peerlimit_start(a);
	ck_assert_uint_eq(peerlimit_count(k), 3);

	/* Worker a is gone: its slot is released, its connections with it. */
	shm_slot_release(a);
	peerlimit_start(b);
	ck_assert_uint_eq(peerlimit_count(k), 1);
	/* The next worker in a's slot starts from nothing. */
	ck_assert_int_eq(shm_slot_claim(), a);
	peerlimit_slot_reset(a);
	shm_get()->slots[a].pid = getpid();
	ck_assert_uint_eq(peerlimit_count(k), 1);
}
END_TEST

static Suite *peerlimit_suite(void)
{
	Suite *s = suite_create("peerlimit");
	TCase *tc = tcase_create("table");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_keys_tell_listeners_and_addresses_apart);
	tcase_add_test(tc, test_counts_follow_adds_and_removes);
	tcase_add_test(tc, test_churn_of_distinct_addresses_keeps_counts_exact);
	tcase_add_test(tc, test_full_table_refuses_only_new_addresses);
	tcase_add_test(tc, test_count_sums_every_live_worker);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(peerlimit_suite());
}
