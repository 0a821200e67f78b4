/* tests/integration/check_testssl.c — runs tests/tls/testssl-check.sh (the
 * testssl.sh hardening check of a TLS listener) as part of `make check`:
 * its exit status is the test's (77 = skipped when testssl.sh, certtool or
 * openssl is missing). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	const char *src = getenv("MH_SRCDIR");
	const char *build = getenv("MH_BUILDDIR");
	char script[4096];
	if (!src || !build) {
		fprintf(stderr, "check_testssl: run through make check (MH_SRCDIR, MH_BUILDDIR)\n");
		return 99;
	}
	snprintf(script, sizeof(script), "%s/tests/tls/testssl-check.sh", src);
	execl("/bin/bash", "bash", script, build, (char *)NULL);
	perror("check_testssl: /bin/bash");
	return 99;
}
