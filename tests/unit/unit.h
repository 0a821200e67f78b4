/* tests/unit/unit.h — what every unit suite's main does: run the suite
 * (output as CK_VERBOSITY asks, normal by default) and exit non-zero if
 * any test failed; and a small deterministic random generator, so that
 * failures of randomised tests reproduce. */
#ifndef MH_TEST_UNIT_H
#define MH_TEST_UNIT_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

static inline uint32_t unit_rng_next(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

#endif
