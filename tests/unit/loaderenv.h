/* tests/unit/loaderenv.h — what the loader's unit suites (check_loader,
 * check_modset) share: paths of the test and bundled modules, a scratch
 * folder holding a minimal configuration, and the loader's error text. */
#ifndef MH_TEST_LOADERENV_H
#define MH_TEST_LOADERENV_H

/* The error text the loader and modules_load write. */
extern char lenv_err[1024];
/* The test's scratch folder (lenv_make_dir), or NULL. */
extern char *lenv_dir;

/* A malloc'ed printf. */
char *lenv_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Path of test module NAME: $MH_TEST_MODULES/NAME.so (malloc'ed). */
char *lenv_test_module(const char *name);
/* Path of bundled module NAME: $MODHOST_MODULE_PATH/NAME.so (malloc'ed). */
char *lenv_bundled_module(const char *name);
/* A new scratch folder in lenv_dir, holding modhost.ini ("[server]
 * workers = 0") and an empty conf.d; lenv_remove_dir removes it. */
void lenv_make_dir(void);
void lenv_remove_dir(void);

#endif
