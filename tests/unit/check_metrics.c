/* tests/unit/check_metrics.c — the metrics area (host/metrics.c) in one
 * process: the exposition text (names, escapes, numbers, histograms),
 * registration rules, per-worker rows summed and a dead worker's gauges
 * dropped, listener_stats over them, and a full series table that drops and counts instead of
 * failing.  Each test runs in its own forked process, so each starts from
 * an empty area. */
#include "build-config.h"

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "buf.h"
#include "metrics.h"
#include "shm.h"

/* The whole exposition, as a malloc'ed string. */
static char *render(void)
{
	struct mh_buf *b = buf_new();
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(metrics_render(b), 0);
	size_t n = buf_length(b);
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	buf_peek(b, s, n);
	s[n] = '\0';
	buf_free(b);
	return s;
}

/* text must contain line as a whole line. */
static void expect_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	ck_abort_msg("line '%s' not in:\n%s", line, text);
}

static void expect_no(const char *text, const char *part)
{
	ck_assert_msg(strstr(text, part) == NULL, "'%s' unexpectedly in:\n%s", part, text);
}

START_TEST(test_counter_gets_total_suffix_help_and_samples)
{
	mh_metric *c = metrics_register(NULL, MH_METRIC_COUNTER, "t_requests",
	                                "Requests\\seen\nhere.", "code, path", NULL, 0);
	ck_assert_ptr_nonnull(c);
	metrics_add(c, (const char *const[]){"200", "/a"}, 1);
	metrics_add(c, (const char *const[]){"200", "/a"}, 2);
	metrics_add(c, (const char *const[]){"404", "/b"}, 1);
	metrics_add(c, (const char *const[]){"404", "/b"}, -5); /* counters never go down */
	char *t = render();
	expect_line(t, "# HELP t_requests_total Requests\\\\seen\\nhere.");
	expect_line(t, "# TYPE t_requests_total counter");
	expect_line(t, "t_requests_total{code=\"200\",path=\"/a\"} 3");
	expect_line(t, "t_requests_total{code=\"404\",path=\"/b\"} 1");
	free(t);
}
END_TEST

START_TEST(test_label_values_are_escaped_and_made_utf8)
{
	mh_metric *g = metrics_register(NULL, MH_METRIC_GAUGE, "t_odd", "odd values", "v", NULL, 0);
	ck_assert_ptr_nonnull(g);
	metrics_set(g, (const char *const[]){"a\"b\\c\nd"}, 1.5);
	metrics_set(g, (const char *const[]){"bad\xff\xc3-byte"}, 2);
	metrics_set(g, (const char *const[]){"caf\xc3\xa9"}, 3);
	metrics_set(g, (const char *const[]){NULL}, 4);
	char *t = render();
	expect_line(t, "t_odd{v=\"a\\\"b\\\\c\\nd\"} 1.5");
	expect_line(t, "t_odd{v=\"bad?"
	               "?-byte\"} 2");
	expect_line(t, "t_odd{v=\"caf\xc3\xa9\"} 3");
	expect_line(t, "t_odd{v=\"\"} 4");
	free(t);
	/* The same odd input finds the same series again. */
	metrics_set(g, (const char *const[]){"bad\xff\xc3-byte"}, 7);
	t = render();
	expect_line(t, "t_odd{v=\"bad?"
	               "?-byte\"} 7");
	free(t);
}
END_TEST

START_TEST(test_long_label_value_is_cut_at_a_character)
{
	char v[400];
	mh_metric *g = metrics_register(NULL, MH_METRIC_GAUGE, "t_long", "", "v", NULL, 0);
	memset(v, 'x', sizeof(v));
	memcpy(v + 126, "\xc3\xa9", 2); /* é across the cut */
	v[sizeof(v) - 1] = '\0';
	metrics_set(g, (const char *const[]){v}, 1);
	char *t = render();
	char want[256];
	snprintf(want, sizeof(want), "t_long{v=\"%.126s\"} 1", v);
	expect_line(t, want);
	free(t);
}
END_TEST

START_TEST(test_histogram_buckets_are_cumulative)
{
	const double b[] = {0.1, 0.5, 1};
	mh_metric *h =
	    metrics_register(NULL, MH_METRIC_HISTOGRAM, "t_latency_seconds", "lat", "route", b, 3);
	ck_assert_ptr_nonnull(h);
	const char *const r[] = {"r1"};
	metrics_observe(h, r, 0.05);
	metrics_observe(h, r, 0.1); /* le is inclusive */
	metrics_observe(h, r, 0.7);
	metrics_observe(h, r, 3);
	char *t = render();
	expect_line(t, "# TYPE t_latency_seconds histogram");
	expect_line(t, "t_latency_seconds_bucket{route=\"r1\",le=\"0.1\"} 2");
	expect_line(t, "t_latency_seconds_bucket{route=\"r1\",le=\"0.5\"} 2");
	expect_line(t, "t_latency_seconds_bucket{route=\"r1\",le=\"1\"} 3");
	expect_line(t, "t_latency_seconds_bucket{route=\"r1\",le=\"+Inf\"} 4");
	expect_line(t, "t_latency_seconds_sum{route=\"r1\"} 3.85");
	expect_line(t, "t_latency_seconds_count{route=\"r1\"} 4");
	free(t);
}
END_TEST

START_TEST(test_histogram_default_buckets_without_labels)
{
	mh_metric *h =
	    metrics_register(NULL, MH_METRIC_HISTOGRAM, "t_plain_seconds", "p", NULL, NULL, 0);
	ck_assert_ptr_nonnull(h);
	char *t = render();
	/* A family without labels shows its one series from the start. */
	expect_line(t, "t_plain_seconds_bucket{le=\"0.005\"} 0");
	expect_line(t, "t_plain_seconds_bucket{le=\"10\"} 0");
	expect_line(t, "t_plain_seconds_bucket{le=\"+Inf\"} 0");
	expect_line(t, "t_plain_seconds_count 0");
	free(t);
}
END_TEST

START_TEST(test_registration_rules)
{
	const double bad[] = {1, 0.5};
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_COUNTER, "9lives", "", NULL, NULL, 0));
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_COUNTER, "a-b", "", NULL, NULL, 0));
	ck_assert_ptr_null(metrics_register(NULL, 42, "t_x", "", NULL, NULL, 0));
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_GAUGE, "t_x", "", "a b-c", NULL, 0));
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_GAUGE, "t_x", "", "__x", NULL, 0));
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_GAUGE, "t_x", "", "a, a", NULL, 0));
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_HISTOGRAM, "t_h", "", "le", NULL, 0));
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_HISTOGRAM, "t_h", "", NULL, bad, 2));
	mh_metric *a = metrics_register(NULL, MH_METRIC_GAUGE, "t_same", "", "x", NULL, 0);
	ck_assert_ptr_nonnull(a);
	/* The same family again (a reload's load hook) is the same handle. */
	ck_assert_ptr_eq(metrics_register(NULL, MH_METRIC_GAUGE, "t_same", "", "x", NULL, 0), a);
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_HISTOGRAM, "t_same", "", "x", NULL, 0));
	ck_assert_ptr_null(metrics_register(NULL, MH_METRIC_GAUGE, "t_same", "", "y", NULL, 0));
	/* Updates of the wrong kind, or on a refused (NULL) family, do nothing. */
	metrics_observe(a, (const char *const[]){"1"}, 1);
	metrics_add(NULL, NULL, 1);
	char *t = render();
	expect_no(t, "t_same{");
	expect_no(t, "9lives");
	free(t);
}
END_TEST

START_TEST(test_numbers_read_back_exactly)
{
	mh_metric *g = metrics_register(NULL, MH_METRIC_GAUGE, "t_num", "", "k", NULL, 0);
	metrics_set(g, (const char *const[]){"a"}, 0.1);
	metrics_set(g, (const char *const[]){"b"}, 1e-05);
	metrics_set(g, (const char *const[]){"c"}, 1795478922.20627);
	metrics_set(g, (const char *const[]){"d"}, -3);
	metrics_set(g, (const char *const[]){"e"}, 1e300);
	char *t = render();
	expect_line(t, "t_num{k=\"a\"} 0.1");
	expect_line(t, "t_num{k=\"b\"} 1e-05");
	expect_line(t, "t_num{k=\"c\"} 1795478922.20627");
	expect_line(t, "t_num{k=\"d\"} -3");
	expect_line(t, "t_num{k=\"e\"} 1e+300");
	free(t);
}
END_TEST

/* Rows are per worker slot: values from every slot are summed, and the
 * gauges of a slot whose worker died are dropped while its counters stay. */
START_TEST(test_worker_rows_are_summed_and_dead_gauges_dropped)
{
	char err[256];
	ck_assert_int_eq(shm_create(err, sizeof(err)), 0);
	ck_assert_int_eq(metrics_init(err, sizeof(err)), 0);
	mh_metric *c = metrics_register(NULL, MH_METRIC_COUNTER, "t_msgs_total", "", "l", NULL, 0);
	mh_metric *g = metrics_register(NULL, MH_METRIC_GAUGE, "t_open", "", "l", NULL, 0);
	const char *const l[] = {"x"};
	int s0 = shm_slot_claim(), s1 = shm_slot_claim();
	ck_assert_int_ge(s0, 0);
	ck_assert_int_ge(s1, 0);
	shm_get()->slots[s0].pid = 100;
	shm_get()->slots[s1].pid = 101;
	shm_set_self(s0);
	metrics_add(c, l, 3);
	metrics_add(g, l, 2);
	shm_set_self(s1);
	metrics_add(c, l, 4);
	metrics_add(g, l, 5);
	shm_set_self(-1); /* the master's own row */
	metrics_add(c, l, 1);
	char *t = render();
	expect_line(t, "t_msgs_total{l=\"x\"} 8");
	expect_line(t, "t_open{l=\"x\"} 7");
	free(t);
	metrics_slot_exited(s1);
	t = render();
	expect_line(t, "t_msgs_total{l=\"x\"} 8");
	expect_line(t, "t_open{l=\"x\"} 2");
	expect_line(t, "modhost_metric_series_dropped_total 0");
	free(t);
}
END_TEST

/* listener_stats (ABI 1.4): the host's per-listener series summed over
 * rows, per listener or over all of them, filling only what the caller's
 * struct_size covers. */
START_TEST(test_listener_stats_sum_rows_and_listeners)
{
	char err[256];
	ck_assert_int_eq(shm_create(err, sizeof(err)), 0);
	ck_assert_int_eq(metrics_init(err, sizeof(err)), 0);
	/* Registering a host family again returns it: add to its series. */
	mh_metric *accepted = metrics_register(
	    NULL, MH_METRIC_COUNTER, "modhost_connections_accepted_total", "", "listener", NULL, 0);
	mh_metric *active = metrics_register(NULL, MH_METRIC_GAUGE, "modhost_connections_active",
	                                     "", "listener", NULL, 0);
	mh_metric *msgs = metrics_register(NULL, MH_METRIC_COUNTER, "modhost_messages_in_total", "",
	                                   "listener", NULL, 0);
	mh_metric *errors = metrics_register(NULL, MH_METRIC_COUNTER, "modhost_errors_total", "",
	                                     "listener, kind", NULL, 0);
	ck_assert_ptr_nonnull(accepted);
	ck_assert_ptr_nonnull(active);
	ck_assert_ptr_nonnull(msgs);
	ck_assert_ptr_nonnull(errors);
	int s0 = shm_slot_claim(), s1 = shm_slot_claim();
	ck_assert_int_ge(s1, 0);
	shm_get()->slots[s0].pid = 100;
	shm_get()->slots[s1].pid = 101;
	struct listener_cells *a = metrics_listener_cells("a");
	struct listener_cells *b = metrics_listener_cells("b");
	shm_set_self(s0);
	metrics_add(accepted, (const char *const[]){"a"}, 3);
	metrics_add(active, (const char *const[]){"a"}, 2);
	metrics_add(msgs, (const char *const[]){"a"}, 10);
	metrics_add(errors, (const char *const[]){"a", "protocol"}, 1);
	metrics_host_limit("a", "max_connections");
	shm_set_self(s1);
	metrics_add(accepted, (const char *const[]){"a"}, 4);
	metrics_add(active, (const char *const[]){"a"}, 1);
	metrics_add(msgs, (const char *const[]){"b"}, 5);
	metrics_add(errors, (const char *const[]){"a", "not_found"}, 2);
	metrics_add(errors, (const char *const[]){"b", "protocol"}, 4);
	metrics_host_limit("a", "max_inflight");

	mh_listener_stats st = {.struct_size = sizeof(st)};
	ck_assert_int_eq(metrics_listener_stats("a", &st), 0);
	ck_assert_uint_eq(st.connections_accepted, 7);
	ck_assert_uint_eq(st.connections_active, 3);
	ck_assert_uint_eq(st.connections_rejected, 1);
	ck_assert_uint_eq(st.messages_in, 10);
	ck_assert_uint_eq(st.errors, 3);
	ck_assert_int_eq(metrics_listener_stats("b", &st), 0);
	ck_assert_uint_eq(st.connections_accepted, 0);
	ck_assert_uint_eq(st.messages_in, 5);
	ck_assert_uint_eq(st.errors, 4);
	ck_assert_uint_eq(st.connections_rejected, 0);
	ck_assert_int_eq(metrics_listener_stats(NULL, &st), 0);
	ck_assert_uint_eq(st.messages_in, 15);
	ck_assert_uint_eq(st.errors, 7);
	ck_assert_int_eq(metrics_listener_stats("never", &st), -1);

	/* A module built when the struct ended at connections_active. */
	mh_listener_stats small;
	memset(&small, 0xab, sizeof(small));
	small.struct_size = (uint32_t)(offsetof(mh_listener_stats, connections_active) +
	                               sizeof(small.connections_active));
	ck_assert_int_eq(metrics_listener_stats("a", &small), 0);
	ck_assert_uint_eq(small.connections_accepted, 7);
	ck_assert_uint_eq(small.connections_active, 3);
	ck_assert_uint_eq(small.messages_in, 0xababababababababull);

	/* A dead worker's open connections are no longer open. */
	metrics_slot_exited(s0);
	ck_assert_int_eq(metrics_listener_stats("a", &st), 0);
	ck_assert_uint_eq(st.connections_active, 1);
	ck_assert_uint_eq(st.connections_accepted, 7);
	metrics_listener_cells_free(a);
	metrics_listener_cells_free(b);
}
END_TEST

START_TEST(test_full_series_table_drops_and_counts)
{
	mh_metric *c = metrics_register(NULL, MH_METRIC_COUNTER, "t_many_total", "", "v", NULL, 0);
	char v[32];
	for (int i = 0; i < METRICS_MAX_SERIES + 100; i++) {
		snprintf(v, sizeof(v), "%d", i);
		metrics_add(c, (const char *const[]){v}, 1);
	}
	/* Existing series still count; families can still be registered. */
	metrics_add(c, (const char *const[]){"0"}, 1);
	ck_assert_ptr_nonnull(metrics_register(NULL, MH_METRIC_GAUGE, "t_late", "", "x", NULL, 0));
	char *t = render();
	expect_line(t, "t_many_total{v=\"0\"} 2");
	expect_no(t, "t_many_total{v=\"4100\"}");
	const char *d = strstr(t, "\nmodhost_metric_series_dropped_total ");
	ck_assert_ptr_nonnull(d);
	long dropped = strtol(d + strlen("\nmodhost_metric_series_dropped_total "), NULL, 10);
	ck_assert_int_ge(dropped, 100);
	free(t);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("area");
	tcase_add_test(tc, test_counter_gets_total_suffix_help_and_samples);
	tcase_add_test(tc, test_label_values_are_escaped_and_made_utf8);
	tcase_add_test(tc, test_long_label_value_is_cut_at_a_character);
	tcase_add_test(tc, test_histogram_buckets_are_cumulative);
	tcase_add_test(tc, test_histogram_default_buckets_without_labels);
	tcase_add_test(tc, test_registration_rules);
	tcase_add_test(tc, test_numbers_read_back_exactly);
	tcase_add_test(tc, test_worker_rows_are_summed_and_dead_gauges_dropped);
	tcase_add_test(tc, test_listener_stats_sum_rows_and_listeners);
	tcase_add_test(tc, test_full_series_table_drops_and_counts);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(metrics_suite());
}
