/* tests/unit/unit.h — what every unit suite's main does: run the suite
 * (output as CK_VERBOSITY asks, normal by default) and exit non-zero if
 * any test failed. */
#ifndef MH_TEST_UNIT_H
#define MH_TEST_UNIT_H

#include <check.h>
#include <stdlib.h>

static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
