/* tests/unit/check_pollctl.c — busy_poll = auto's controller
 * (host/pollctl.c), driven with simulated load windows: a worker load
 * where polling carries more traffic than blocking engages polling and
 * keeps it; a load where both carry the same (an open-loop client, a
 * light load) stays blocking and probes ever more rarely; a few
 * connections or an idle worker never probe; and an engaged worker lets
 * go when the load changes. */
#include "build-config.h"

#include <check.h>

#include "unit.h"
#include "pollctl.h"

/* A simulated load: bytes per 1 ms window when the worker blocks and when
 * it polls, the worker's CPU share, and the busy connections. */
struct load {
	uint64_t blocking_bytes, polling_bytes;
	double util;
	unsigned conns;
};

struct outcome {
	unsigned engaged;  /* windows spent polling */
	unsigned switches; /* changes of mode */
	int last;          /* the mode at the end */
};

static struct outcome run(struct pollctl *pc, const struct load *l, unsigned windows)
{
	struct outcome o = {0, 0, pc->engaged};
	for (unsigned i = 0; i < windows; i++) {
		struct pollctl_sample s = {
		    .wall_us = POLLCTL_WINDOW_US,
		    .cpu_us = (uint64_t)(l->util * POLLCTL_WINDOW_US),
		    .bytes_in = o.last ? l->polling_bytes : l->blocking_bytes,
		    .conns = l->conns,
		};
		int next = pollctl_window(pc, &s);
		o.engaged += o.last;
		o.switches += next != o.last;
		o.last = next;
	}
	return o;
}

/* Many connections, a busy worker, and polling carries 20 % more. */
static const struct load closed_loop = {100000, 120000, 0.8, 50};
/* The same, but the traffic does not depend on the mode. */
static const struct load open_loop = {100000, 100000, 0.6, 32};

START_TEST(test_engages_when_polling_carries_more)
{
	struct pollctl pc;
	pollctl_init(&pc);
	ck_assert_int_eq(pc.engaged, 0);
	struct outcome o = run(&pc, &closed_loop, 5000);
	ck_assert_int_eq(o.last, 1);
	/* After the first probe (by window ~125) it polls nearly throughout:
	 * later probes of blocking lose and are spaced out. */
	ck_assert_uint_gt(o.engaged, 4700);
}
END_TEST

START_TEST(test_stays_blocking_when_polling_carries_the_same)
{
	struct pollctl pc;
	pollctl_init(&pc);
	struct outcome o = run(&pc, &open_loop, 10000);
	ck_assert_int_eq(o.last, 0);
	/* Probes cost little: each loses, and the gap between them doubles
	 * up to 1600 windows, so under 3 % of the time is spent polling. */
	ck_assert_uint_gt(o.switches, 0);
	ck_assert_uint_lt(o.engaged, 300);
	struct outcome later = run(&pc, &open_loop, 10000);
	ck_assert_uint_le(later.switches, 2 * (10000 / 1600 + 1));
	ck_assert_uint_lt(later.engaged, 200);
}
END_TEST

START_TEST(test_a_small_gain_is_not_enough)
{
	/* Polling costs CPU; 3 % more traffic does not pay for it. */
	struct load l = {100000, 103000, 0.8, 50};
	struct pollctl pc;
	pollctl_init(&pc);
	struct outcome o = run(&pc, &l, 10000);
	ck_assert_int_eq(o.last, 0);
	ck_assert_uint_lt(o.engaged, 300);
}
END_TEST

START_TEST(test_few_connections_or_an_idle_worker_never_probe)
{
	struct load few = closed_loop, idle = closed_loop;
	few.conns = 4;
	idle.util = 0.2;
	struct pollctl pc;
	pollctl_init(&pc);
	struct outcome o = run(&pc, &few, 5000);
	ck_assert_uint_eq(o.engaged, 0);
	ck_assert_uint_eq(o.switches, 0);
	o = run(&pc, &idle, 5000);
	ck_assert_uint_eq(o.engaged, 0);
	ck_assert_uint_eq(o.switches, 0);
}
END_TEST

START_TEST(test_lets_go_when_the_load_changes)
{
	struct pollctl pc;
	pollctl_init(&pc);
	ck_assert_int_eq(run(&pc, &closed_loop, 2000).last, 1);
	/* The clients turn open-loop: blocking keeps up at the next probe. */
	struct outcome o = run(&pc, &open_loop, 2000);
	ck_assert_int_eq(o.last, 0);
	ck_assert_uint_lt(o.engaged, 1700);
	/* Engaged again, then most connections leave: it blocks at once. */
	ck_assert_int_eq(run(&pc, &closed_loop, 2000).last, 1);
	struct load few = closed_loop;
	few.conns = 2;
	o = run(&pc, &few, 1);
	ck_assert_int_eq(o.last, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pollctl");
	TCase *tc = tcase_create("pollctl");
	tcase_add_test(tc, test_engages_when_polling_carries_more);
	tcase_add_test(tc, test_stays_blocking_when_polling_carries_the_same);
	tcase_add_test(tc, test_a_small_gain_is_not_enough);
	tcase_add_test(tc, test_few_connections_or_an_idle_worker_never_probe);
	tcase_add_test(tc, test_lets_go_when_the_load_changes);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
