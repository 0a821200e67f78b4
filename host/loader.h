/* host/loader.h — opening module files and checking their descriptors
 * (DESIGN.md §4.4), and the module instances of one generation.
 *
 * A module library (one .so) is opened once per process with
 * RTLD_NOW|RTLD_LOCAL and kept open for the life of the process: new code
 * only arrives with a new process, never by dlclose/dlopen under traffic.
 * An instance (mh_module) is one [module NAME] section bound to a library
 * for one generation; a reload builds new instances. */
#ifndef MH_LOADER_H
#define MH_LOADER_H

#include <stddef.h>
#include <sys/types.h>

#include "modhost.h"

struct config;
struct modconf;

struct module_lib {
	char *path;
	void *handle;        /* lt_dlhandle */
	mh_module_desc desc; /* the checked copy; the host reads only this */
	dev_t dev;
	ino_t ino;
	int copy_fd; /* the private copy it was opened from (see loader.c), or -1 */
	struct module_lib *next;
};

struct mh_module {
	char *name; /* the section's name */
	struct module_lib *lib;
	const mh_module_desc *desc; /* &lib->desc */
	struct modconf *conf;
	void *data; /* module_set_data */
	int index;  /* position in its set */
	int loaded; /* load hook returned 0 */
	int worker_ready; /* worker_init returned 0 */
	unsigned offload_jobs; /* accepted by offload, done not yet called (worker's loop) */
	/* While its load hook runs: where its [module] section is, so that
	 * the errors it logs (bad settings) name file:line.  NULL otherwise. */
	const char *loading_file;
	int loading_line;
};

struct module_set {
	struct mh_module **mods; /* in dependency order: requirements first */
	size_t n;
};

/* Open path and check it: symbol, magic, ABI major, minor, struct_size,
 * reserved fields, flags, ops table sizes.  A file already opened (same
 * device and inode) returns the same library.  Returns 0, or -1 with the
 * one-line refusal "module 'NAME' (PATH): reason; what to do" in err. */
int loader_open(const char *name, const char *path, struct module_lib **out,
                char *err, size_t errlen);

/* The descriptor checks of loader_open, on memory already found: sym points
 * at symsize readable bytes (SIZE_MAX if unknown).  Returns 0 and the
 * descriptor in *copy, zero-extended to this host's size (its pointers still
 * point into the module), or -1 with the refusal in err. */
int loader_check_desc(const char *name, const char *path, const void *sym, size_t symsize,
                      mh_module_desc *copy, char *err, size_t errlen);

/* Write "module 'NAME' (PATH): " and the formatted reason into err. */
void loader_error(char *err, size_t errlen, const char *name, const char *path,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Build the instances the configuration asks for: open every module, refuse
 * duplicate descriptor names, validate each section against its key table,
 * order by `requires` (a missing or cyclic requirement is an error), then
 * call the load hooks in that order (and reconfigure, with the instance of
 * the same name in previous, if any).  On failure nothing of the new set is
 * left (load hooks already run are undone with unload) and err holds the
 * reason.  Returns 0 and *out, or -1. */
int modules_load(const struct config *cfg, const struct module_set *previous,
                 struct module_set **out, char *err, size_t errlen);
struct mh_module *modules_find(const struct module_set *set, const char *name);
/* worker_init hooks in order; on failure, fini the ones done and return -1. */
int modules_worker_init(struct module_set *set, char *err, size_t errlen);
/* worker_fini hooks in reverse order. */
void modules_worker_fini(struct module_set *set);
/* Whether a module of set has offloaded jobs whose done has not run. */
int modules_offloading(const struct module_set *set);
/* unload hooks in reverse order, then free the instances (libraries stay). */
void modules_free(struct module_set *set);

/* The host function table handed to every module (hostapi.c). */
extern const mh_host_api hostapi_table;

/* Record which module the calling process is running now (NULL: the host),
 * so that a crash report can name it.  Implemented in shm.c. */
void shm_mark_running(const struct mh_module *m);

#endif
