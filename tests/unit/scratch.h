/* tests/unit/scratch.h — scratch folders and files for the unit suites that
 * write files (check_config, check_modconf, check_log, check_loader,
 * check_modset): a fresh folder per test case or test, files written into
 * it, and its removal. */
#ifndef MH_TEST_SCRATCH_H
#define MH_TEST_SCRATCH_H

/* Make a new empty folder BASE/PREFIX-XXXXXX (mkdtemp), where BASE is
 * $MH_BUILDDIR/tests/tmp (made if missing) when MH_BUILDDIR is set, else
 * $TMPDIR, else /tmp.  Returns its path, malloc'ed (the caller frees it),
 * or NULL with errno set.  It does not fail the test itself, so that an
 * unchecked fixture can call it. */
char *scratch_mkdtemp(const char *prefix);

/* Remove path and everything below it, depth first, without following
 * symbolic links.  path NULL does nothing; errors are ignored. */
void scratch_remove(const char *path);

/* Write text to DIR/REL, truncating it, after making REL's folders below
 * DIR.  Returns the file's path, malloc'ed (the caller frees it).  Fails
 * the test, naming the file and the error, if it cannot be written. */
char *scratch_write(const char *dir, const char *rel, const char *text);

/* A scratch root for a whole test case: scratch_case_setup and
 * scratch_case_teardown are its unchecked fixture (made once, removed
 * with everything in it), and scratch_case_dir makes a fresh folder in it
 * for one test (the caller frees the path). */
void scratch_case_setup(void);
void scratch_case_teardown(void);
char *scratch_case_dir(void);

#endif
