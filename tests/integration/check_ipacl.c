/* tests/integration/check_ipacl.c — the ipacl auth module on the real
 * modhostd, over HTTP from several loopback addresses (any of 127.0.0.0/8
 * is the loopback's): first match wins, deny is 403 on a connection that
 * stays open, an address family no rule names falls through, next leaves
 * the request to the next module (and an exhausted chain is 401), and bad
 * rules are configuration errors with file and line. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define CONF                                                                                       \
	"[server]\nworkers = 1\nshutdown_timeout = 5s\n"                                           \
	"[log]\nlevel = info\nformat = text\n"                                                     \
	"[module http1]\n[module fixed]\nbody = hello\n"                                           \
	"[module acl]\nfile = %s/ipacl.so\n"                                                       \
	"rules = deny 127.0.0.2, allow 127.0.0.0/8, deny ::/0\n"                                   \
	"[module inner]\nfile = %s/ipacl.so\nrules = next 127.0.0.0/8, deny all\n"                 \
	"[module outer]\nfile = %s/ipacl.so\nrules = allow 127.0.0.1\n"                            \
	"[listener web]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = fixed\nauth = acl\n"       \
	"[listener chain]\nlisten = 127.0.0.1:0\ncodec = http1\nhandler = fixed\n"                 \
	"auth = inner, outer\n"

static struct harness_daemon *start(void)
{
	const char *modules = harness_env("MODHOST_MODULE_PATH");
	return harness_start_ready(CONF, modules, modules, modules);
}

/* GET / from source (NULL: 127.0.0.1) on a new connection, twice, which
 * must get the same status (a denial does not close); returns it. */
static int get_from(int port, const char *source)
{
	int fd = source ? harness_connect_from(port, source) : harness_connect(port);
	harness_assert(fd >= 0, "connect from %s: %s", source ? source : "127.0.0.1",
	               strerror(errno));
	int closing;
	int first = harness_http_get(fd, "/", NULL, 0, &closing);
	harness_assert(!closing, "status %d closed the connection", first);
	int second = harness_http_get(fd, "/", NULL, 0, NULL);
	harness_assert(second == first, "the same connection got %d, then %d", first, second);
	close(fd);
	return first;
}

START_TEST(test_first_matching_rule_decides)
{
	struct harness_daemon *d = start();
	int web = harness_port(d, "web");
	harness_assert(get_from(web, NULL) == 200, "127.0.0.1 is allowed by 127.0.0.0/8");
	harness_assert(get_from(web, "127.0.0.2") == 403, "127.0.0.2 is denied by its own rule");
	harness_assert(get_from(web, "127.0.0.3") == 200, "127.0.0.3 is allowed by 127.0.0.0/8");
}
END_TEST

/* ::1 matches no IPv4 rule; ::/0 denies it.  Needs an IPv6 loopback. */
START_TEST(test_rules_match_their_address_family)
{
	int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int have6 = probe >= 0 && bind(probe, (struct sockaddr *)&any6, sizeof(any6)) == 0;
	if (probe >= 0)
		close(probe);
	if (!have6) {
		fprintf(stderr,
		        "check_ipacl: no IPv6 loopback here; the address family test is skipped\n");
		return;
	}
	const char *modules = harness_env("MODHOST_MODULE_PATH");
	struct harness_daemon *d = harness_start_ready(
	    CONF "[listener web6]\nlisten = [::1]:0\ncodec = http1\nhandler = fixed\nauth = acl\n",
	    modules, modules, modules);
	static const char re[] = "listener 'web6' listening on \\[::1\\]:([0-9]+)";
	char group[16] = "";
	harness_wait_log(d, 0, re);
	harness_log_count(d, 0, re, 1, NULL, group, sizeof(group));
	int port = atoi(group);
	int fd = harness_connect6(port);
	harness_assert(fd >= 0, "connect to [::1]:%d: %s", port, strerror(errno));
	harness_assert(harness_http_get(fd, "/", NULL, 0, NULL) == 403, "::1 was not denied");
	close(fd);
}
END_TEST

/* inner passes 127.0.0.0/8 on (next); outer allows 127.0.0.1 only, and
 * says nothing of 127.0.0.3, so for it the chain ends with nobody
 * allowing: 401. */
START_TEST(test_next_leaves_the_request_to_the_next_module)
{
	struct harness_daemon *d = start();
	int chain = harness_port(d, "chain");
	harness_assert(get_from(chain, NULL) == 200, "inner passed, outer allowed");
	harness_assert(get_from(chain, "127.0.0.3") == 401, "nobody allowed 127.0.0.3");
}
END_TEST

START_TEST(test_bad_rules_are_configuration_errors)
{
	char head[512];
	snprintf(head, sizeof(head), "[module acl]\nfile = %s/ipacl.so\n",
	         harness_env("MODHOST_MODULE_PATH"));
	static const struct {
		const char *name, *rules, *want;
	} cases[] = {
	    {"verb.ini", "permit 10.0.0.0/8", "'permit' is not allow, deny or next"},
	    {"host-bits.ini", "allow 10.1.2.3/8",
	     "'10.1.2.3/8' is not an address, ADDRESS/PREFIX with no host bits set, or all"},
	    {"prefix.ini", "allow 10.0.0.0/33", "'10.0.0.0/33' is not an address"},
	    {"name.ini", "deny localhost", "'localhost' is not an address"},
	    {"alone.ini", "allow 10.0.0.0/8, deny", "'deny' has no address after it"},
	    {"empty.ini", "", "none given"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[1024], want[256];
		snprintf(text, sizeof(text), "%srules = %s\n", head, cases[i].rules);
		snprintf(want, sizeof(want), "rules: %s", cases[i].want);
		harness_expect_config_error(cases[i].name, text, 1, want);
	}
}
END_TEST

static Suite *ipacl_suite(void)
{
	Suite *s = suite_create("ipacl");
	TCase *tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, NULL, harness_cleanup);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_first_matching_rule_decides);
	tcase_add_test(tc, test_rules_match_their_address_family);
	tcase_add_test(tc, test_next_leaves_the_request_to_the_next_module);
	tcase_add_test(tc, test_bad_rules_are_configuration_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return harness_run_suite(ipacl_suite(), CK_ENV);
}
