/* host/loader.c — opening a module file and checking its descriptor before
 * any of its code runs (DESIGN.md §4.4; the rules are in doc/internals/abi.md).
 * Libraries that pass stay open for the life of the process. */
#include "build-config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <ltdl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "log.h"
#include "modconf.h"

/* Bytes from the start of a struct to the end of member m: the size of a
 * table as it was in the minor that added m as its last member. */
#define END_OF(type, m) (offsetof(type, m) + sizeof(((type *)0)->m))

/* What must be readable before anything else: magic, versions, size. */
#define DESC_HEADER_SIZE END_OF(mh_module_desc, struct_size)
/* The descriptor of ABI 1.0: the least any 1.x module may export. */
#define DESC_SIZE_1_0 END_OF(mh_module_desc, reserved)

#define ROLES_1_0                                                                                  \
	(MH_ROLE_CODEC | MH_ROLE_AUTH | MH_ROLE_POLICY | MH_ROLE_HANDLER | MH_ROLE_OBSERVER)
#define DESC_FLAGS_1_0      0u
#define CONFIG_TYPE_MAX_1_0 MH_CONFIG_PATH

/* A library with the host's own copies of its ops tables, each zero-extended
 * to the host's size so that host code never reads past a module's table. */
struct lib_block {
	struct module_lib lib;
	mh_codec_ops codec;
	mh_auth_ops auth;
	mh_policy_ops policy;
	mh_handler_ops handler;
	mh_observer_ops observer;
};

struct op_need {
	const char *name;
	size_t off;
};

/* One role: its bit, where its table sits in the descriptor and in the
 * lib_block, its ABI 1.0 size, and the ops it cannot do without. */
struct role_rule {
	uint32_t bit;
	const char *role;  /* "codec" */
	const char *macro; /* "MH_ROLE_CODEC" */
	const char *type;  /* "mh_codec_ops" */
	size_t desc_off;   /* of the table pointer in mh_module_desc */
	size_t block_off;  /* of the host's copy in lib_block */
	size_t size_1_0;
	size_t host_size;
	struct op_need need[3];
	const char *need_text; /* "max_message, decode and encode" */
};

/* clang-format off */
#define OP(type, f) { #f, offsetof(type, f) }

static const struct role_rule role_rules[] = {
	{ MH_ROLE_CODEC, "codec", "MH_ROLE_CODEC", "mh_codec_ops",
	  offsetof(mh_module_desc, codec), offsetof(struct lib_block, codec),
	  END_OF(mh_codec_ops, conn_fini), sizeof(mh_codec_ops),
	  { OP(mh_codec_ops, max_message), OP(mh_codec_ops, decode), OP(mh_codec_ops, encode) },
	  "max_message, decode and encode" },
	{ MH_ROLE_AUTH, "auth", "MH_ROLE_AUTH", "mh_auth_ops",
	  offsetof(mh_module_desc, auth), offsetof(struct lib_block, auth),
	  END_OF(mh_auth_ops, check), sizeof(mh_auth_ops),
	  { OP(mh_auth_ops, check) }, "check" },
	{ MH_ROLE_POLICY, "policy", "MH_ROLE_POLICY", "mh_policy_ops",
	  offsetof(mh_module_desc, policy), offsetof(struct lib_block, policy),
	  END_OF(mh_policy_ops, check), sizeof(mh_policy_ops),
	  { OP(mh_policy_ops, check) }, "check" },
	{ MH_ROLE_HANDLER, "handler", "MH_ROLE_HANDLER", "mh_handler_ops",
	  offsetof(mh_module_desc, handler), offsetof(struct lib_block, handler),
	  END_OF(mh_handler_ops, cancel), sizeof(mh_handler_ops),
	  { OP(mh_handler_ops, handle) }, "handle" },
	{ MH_ROLE_OBSERVER, "observer", "MH_ROLE_OBSERVER", "mh_observer_ops",
	  offsetof(mh_module_desc, observer), offsetof(struct lib_block, observer),
	  END_OF(mh_observer_ops, event), sizeof(mh_observer_ops),
	  { OP(mh_observer_ops, event) }, "event" },
};
/* clang-format on */

/* Libraries opened by this process, newest first. */
static struct module_lib *loader_libs;
static int loader_ltdl_ready;

void loader_error(char *err, size_t errlen, const char *name, const char *path, const char *fmt,
                  ...)
{
	int n = snprintf(err, errlen, "module '%s' (%s): ", name, path);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* The size of the dynamic symbol that starts at addr, or SIZE_MAX when the
 * dynamic linker cannot tell. */
static size_t loader_symbol_size(const void *addr)
{
	Dl_info info;
	const ElfW(Sym) *sym = NULL;
	if (!dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
	    info.dli_saddr != addr || sym->st_size == 0)
		return SIZE_MAX;
	return (size_t)sym->st_size;
}

/* dlerror() text usually starts with the path we already print; drop it. */
static const char *loader_strip_path(const char *msg, const char *path)
{
	size_t n = strlen(path);
	if (msg && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg ? msg : "unknown error";
}

/* The "cannot open" refusal, with advice that fits why. */
static void loader_cannot_open(char *err, size_t errlen, const char *name, const char *path,
                               const char *why)
{
	if (strstr(why, "undefined symbol"))
		loader_error(err, errlen, name, path,
		             "cannot open: %s; the module uses a symbol that neither its libraries "
		             "nor the host provide: rebuild it with modhost-module (it links with "
		             "-z defs)",
		             why);
	else if (strstr(why, ": cannot open shared object file"))
		loader_error(err, errlen, name, path,
		             "cannot open: %s; install the library the module needs (ldd %s shows "
		             "which)",
		             why, path);
	else
		loader_error(err, errlen, name, path,
		             "cannot open: %s; check the path or the [module %s] file = setting",
		             why, name);
}

/* "built for ABI X.Y" for a descriptor of another major at sym, found under
 * the symbol name of major sym_major. */
static void loader_other_major(char *err, size_t errlen, const char *name, const char *path,
                               const void *sym, int sym_major)
{
	mh_module_desc head;
	char built[32];
	snprintf(built, sizeof(built), "%d.x", sym_major);
	if (loader_symbol_size(sym) >= DESC_HEADER_SIZE) {
		memcpy(&head, sym, DESC_HEADER_SIZE);
		if (head.magic == MH_MODULE_MAGIC)
			snprintf(built, sizeof(built), "%u.%u", head.abi_major, head.abi_minor);
	}
	loader_error(err, errlen, name, path,
	             "built for ABI %s, this host provides ABI %d.%d; rebuild the module "
	             "against SDK %d.%d",
	             built, MH_ABI_MAJOR, MH_ABI_MINOR, MH_ABI_MAJOR, MH_ABI_MINOR);
}

/* The address of the descriptor in h, or NULL with the refusal in err: a
 * descriptor under another major's name, or none at all. */
static const void *loader_find_desc(lt_dlhandle h, const char *name, const char *path, char *err,
                                    size_t errlen)
{
	static const int others[] = {2, 3, 4, 5, 6, 7, 8, 9, 0};
	const void *sym = lt_dlsym(h, MH_MODULE_SYMBOL_NAME);
	if (sym)
		return sym;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		char symname[32];
		if (others[i] == MH_ABI_MAJOR)
			continue;
		snprintf(symname, sizeof(symname), "mh_module_v%d", others[i]);
		sym = lt_dlsym(h, symname);
		if (sym) {
			loader_other_major(err, errlen, name, path, sym, others[i]);
			return NULL;
		}
	}
	loader_error(err, errlen, name, path,
	             "no modhost descriptor (symbol %s); not a modhost module, or built "
	             "without MH_MODULE_DECLARE",
	             MH_MODULE_SYMBOL_NAME);
	return NULL;
}

/* The version fields and the size, in the order of DESIGN.md §4.4. */
static int loader_check_versions(const char *name, const char *path, const void *sym,
                                 size_t symsize, mh_module_desc *d, char *err, size_t errlen)
{
	if (symsize < DESC_HEADER_SIZE) {
		loader_error(err, errlen, name, path,
		             "descriptor symbol %s is %zu bytes, too small for a descriptor; not a "
		             "modhost module",
		             MH_MODULE_SYMBOL_NAME, symsize);
		return -1;
	}
	memset(d, 0, sizeof(*d));
	memcpy(d, sym, DESC_HEADER_SIZE);
	if (d->magic != MH_MODULE_MAGIC) {
		loader_error(err, errlen, name, path,
		             "bad descriptor magic 0x%08x; not a modhost module", d->magic);
		return -1;
	}
	if (d->abi_major != MH_ABI_MAJOR) {
		loader_error(
		    err, errlen, name, path,
		    "built for ABI %u.%u, this host provides ABI %d.%d; rebuild the module "
		    "against SDK %d.%d",
		    d->abi_major, d->abi_minor, MH_ABI_MAJOR, MH_ABI_MINOR, MH_ABI_MAJOR,
		    MH_ABI_MINOR);
		return -1;
	}
	if (d->abi_minor > MH_ABI_MINOR) {
		loader_error(
		    err, errlen, name, path,
		    "needs ABI %u.%u, this host provides %d.%d; upgrade modhost or rebuild "
		    "the module against SDK %d.%d",
		    d->abi_major, d->abi_minor, MH_ABI_MAJOR, MH_ABI_MINOR, MH_ABI_MAJOR,
		    MH_ABI_MINOR);
		return -1;
	}
	if (d->struct_size < DESC_SIZE_1_0) {
		loader_error(
		    err, errlen, name, path,
		    "descriptor is %u bytes, ABI %d.0 needs at least %zu; rebuild the module",
		    d->struct_size, MH_ABI_MAJOR, DESC_SIZE_1_0);
		return -1;
	}
	if (d->struct_size > symsize) {
		loader_error(err, errlen, name, path,
		             "descriptor says it is %u bytes but its symbol holds %zu; the file is "
		             "damaged: rebuild the module",
		             d->struct_size, symsize);
		return -1;
	}
	/* A newer minor's descriptor is larger: the host reads only its own
	 * part.  An older one would be zero-extended. */
	size_t n = d->struct_size < sizeof(*d) ? d->struct_size : sizeof(*d);
	memcpy(d, sym, n);
	return 0;
}

/* Flags, reserved fields, name, roles and their ops tables. */
static int loader_check_roles(const char *name, const char *path, const mh_module_desc *d,
                              char *err, size_t errlen)
{
	if (d->roles & ~ROLES_1_0) {
		loader_error(
		    err, errlen, name, path,
		    "unknown role bits 0x%x; ABI %d.%d defines codec, auth, policy, handler "
		    "and observer",
		    d->roles & ~ROLES_1_0, MH_ABI_MAJOR, MH_ABI_MINOR);
		return -1;
	}
	for (size_t i = 0; i < sizeof(role_rules) / sizeof(role_rules[0]); i++) {
		const struct role_rule *r = &role_rules[i];
		const void *ops;
		uint32_t size;
		memcpy(&ops, (const char *)d + r->desc_off, sizeof(ops));
		if ((d->roles & r->bit) && !ops) {
			loader_error(
			    err, errlen, name, path,
			    "declares the %s role but has no .%s ops table; set .%s or drop %s",
			    r->role, r->role, r->role, r->macro);
			return -1;
		}
		if (!(d->roles & r->bit) && ops) {
			loader_error(
			    err, errlen, name, path,
			    "has a .%s ops table but does not declare %s in .roles; add it or "
			    "drop .%s",
			    r->role, r->macro, r->role);
			return -1;
		}
		if (!ops)
			continue;
		memcpy(&size, ops, sizeof(size));
		if (size < r->size_1_0) {
			loader_error(err, errlen, name, path,
			             "%s ops table is %u bytes, ABI %d.0 needs at least %zu; set "
			             ".struct_size = sizeof(%s) and rebuild the module",
			             r->role, size, MH_ABI_MAJOR, r->size_1_0, r->type);
			return -1;
		}
		for (size_t k = 0; k < sizeof(r->need) / sizeof(r->need[0]) && r->need[k].name;
		     k++) {
			void (*fn)(void);
			memcpy(&fn, (const char *)ops + r->need[k].off, sizeof(fn));
			if (!fn) {
				loader_error(err, errlen, name, path,
				             "%s ops table has no %s; a %s must provide %s",
				             r->role, r->need[k].name, r->role, r->need_text);
				return -1;
			}
		}
	}
	return 0;
}

/* The config key table and the requirement list. */
static int loader_check_tables(const char *name, const char *path, const mh_module_desc *d,
                               char *err, size_t errlen)
{
	static const char *const host_keys[] = MODCONF_HOST_KEYS;
	for (const mh_config_key *k = d->config_keys; k && k->name; k++) {
		if (!k->name[0]) {
			loader_error(err, errlen, name, path,
			             "config key %td has an empty name; fix its key table",
			             k - d->config_keys);
			return -1;
		}
		if (k->type < MH_CONFIG_STRING || k->type > CONFIG_TYPE_MAX_1_0) {
			loader_error(
			    err, errlen, name, path,
			    "config key '%s' has unknown type %d; ABI %d.%d defines types %d to "
			    "%d",
			    k->name, k->type, MH_ABI_MAJOR, MH_ABI_MINOR, MH_CONFIG_STRING,
			    CONFIG_TYPE_MAX_1_0);
			return -1;
		}
		for (const char *const *h = host_keys; *h; h++)
			if (strcmp(k->name, *h) == 0) {
				loader_error(err, errlen, name, path,
				             "config key '%s' is reserved for the host; rename it",
				             k->name);
				return -1;
			}
		for (const mh_config_key *o = d->config_keys; o < k; o++)
			if (strcmp(o->name, k->name) == 0) {
				loader_error(err, errlen, name, path,
				             "config key '%s' is declared twice; fix its key table",
				             k->name);
				return -1;
			}
	}
	for (const char *const *r = d->requires; r && *r; r++)
		if (!(*r)[0]) {
			loader_error(err, errlen, name, path,
			             "its requires list holds an empty module name; fix it");
			return -1;
		}
	return 0;
}

int loader_check_desc(const char *name, const char *path, const void *sym, size_t symsize,
                      mh_module_desc *copy, char *err, size_t errlen)
{
	mh_module_desc d;
	if (loader_check_versions(name, path, sym, symsize, &d, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(d.reserved) / sizeof(d.reserved[0]); i++)
		if (d.reserved[i]) {
			loader_error(
			    err, errlen, name, path,
			    "descriptor field reserved[%zu] is set; it must be NULL: declare "
			    "the descriptor with MH_MODULE_DECLARE",
			    i);
			return -1;
		}
	if (d.flags & ~DESC_FLAGS_1_0) {
		loader_error(err, errlen, name, path,
		             "unknown descriptor flags 0x%x (ABI %d.%d defines none); rebuild the "
		             "module against SDK %d.%d",
		             d.flags & ~DESC_FLAGS_1_0, MH_ABI_MAJOR, MH_ABI_MINOR, MH_ABI_MAJOR,
		             MH_ABI_MINOR);
		return -1;
	}
	if (!d.name || !d.name[0]) {
		loader_error(err, errlen, name, path,
		             "descriptor has no name; set .name in MH_MODULE_DECLARE");
		return -1;
	}
	if (loader_check_roles(name, path, &d, err, errlen) < 0 ||
	    loader_check_tables(name, path, &d, err, errlen) < 0)
		return -1;
	*copy = d;
	return 0;
}

static int loader_init(char *err, size_t errlen)
{
	if (loader_ltdl_ready)
		return 0;
	if (lt_dlinit() != 0) {
		snprintf(err, errlen, "cannot initialise libltdl: %s", lt_dlerror());
		return -1;
	}
	loader_ltdl_ready = 1;
	return 0;
}

/* lt_dlopenadvise with local symbols and no extension search.  libltdl's
 * dlopen loader asks for RTLD_LAZY; loader_open has already bound the file
 * with RTLD_NOW, so this adds a reference to the same mapping. */
static lt_dlhandle loader_ltdl_open(const char *path)
{
	lt_dladvise advise;
	lt_dlhandle h = NULL;
	if (lt_dladvise_init(&advise) != 0)
		return NULL;
	if (lt_dladvise_local(&advise) == 0)
		h = lt_dlopenadvise(path, advise);
	lt_dladvise_destroy(&advise);
	return h;
}

static struct module_lib *loader_find_lib(dev_t dev, ino_t ino, void *handle)
{
	for (struct module_lib *lib = loader_libs; lib; lib = lib->next)
		if ((lib->dev == dev && lib->ino == ino) || (handle && lib->handle == handle))
			return lib;
	return NULL;
}

/* Whether a library was opened from path before (it may since have been
 * replaced on disk: a new file under the old name). */
static int loader_path_seen(const char *path)
{
	for (struct module_lib *lib = loader_libs; lib; lib = lib->next)
		if (strcmp(lib->path, path) == 0)
			return 1;
	return 0;
}

/* A private, anonymous copy of the file at path (memfd), for a module file
 * replaced at a path loaded before: the dynamic linker knows libraries by
 * name and would hand back the old mapping, so the new code is opened as
 * /proc/self/fd/N instead.  The descriptor stays open as long as the library
 * (for the process's life): a closed one's number, reused, would name the
 * old library again.  Returns the descriptor, or -1 with errno. */
static int loader_private_copy(const char *path)
{
	int in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = memfd_create("modhost-module", MFD_CLOEXEC);
	char block[64 * 1024];
	ssize_t n = 0;
	while (out >= 0 && (n = read(in, block, sizeof(block))) > 0) {
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, block + done, (size_t)(n - done));
			if (w < 0) {
				n = -1;
				break;
			}
			done += w;
		}
		if (n < 0)
			break;
	}
	int saved = errno;
	close(in);
	if (out >= 0 && n < 0) {
		close(out);
		out = -1;
	}
	errno = saved;
	return out;
}

/* Keep lib with host copies of its ops tables.  Returns the library, or
 * NULL when out of memory. */
static struct module_lib *loader_keep(const char *path, lt_dlhandle h, const mh_module_desc *d,
                                      const struct stat *st)
{
	struct lib_block *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->lib.path = strdup(path);
	if (!b->lib.path) {
		free(b);
		return NULL;
	}
	b->lib.handle = h;
	b->lib.copy_fd = -1;
	b->lib.desc = *d;
	b->lib.dev = st->st_dev;
	b->lib.ino = st->st_ino;
	for (size_t i = 0; i < sizeof(role_rules) / sizeof(role_rules[0]); i++) {
		const struct role_rule *r = &role_rules[i];
		const void *ops;
		uint32_t size;
		void *copy = (char *)b + r->block_off;
		memcpy(&ops, (const char *)d + r->desc_off, sizeof(ops));
		if (!ops)
			continue;
		memcpy(&size, ops, sizeof(size));
		memcpy(copy, ops, size < r->host_size ? size : r->host_size);
		memcpy((char *)&b->lib.desc + r->desc_off, &copy, sizeof(copy));
	}
	b->lib.next = loader_libs;
	loader_libs = &b->lib;
	return &b->lib;
}

int loader_open(const char *name, const char *path, struct module_lib **out, char *err,
                size_t errlen)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		loader_cannot_open(err, errlen, name, path, strerror(errno));
		return -1;
	}
	struct module_lib *lib = loader_find_lib(st.st_dev, st.st_ino, NULL);
	if (lib) {
		*out = lib;
		return 0;
	}
	if (loader_init(err, errlen) < 0)
		return -1;

	/* A bare file name would make the dynamic linker search its paths;
	 * a file replaced at a path loaded before is opened from a copy. */
	char *open_path = NULL;
	int copy_fd = -1, named = 0;
	if (loader_path_seen(path)) {
		copy_fd = loader_private_copy(path);
		if (copy_fd < 0) {
			loader_cannot_open(err, errlen, name, path, strerror(errno));
			return -1;
		}
		named = asprintf(&open_path, "/proc/self/fd/%d", copy_fd);
	} else if (!strchr(path, '/')) {
		named = asprintf(&open_path, "./%s", path);
	}
	if (named < 0) {
		loader_error(err, errlen, name, path, "out of memory");
		if (copy_fd >= 0)
			close(copy_fd);
		return -1;
	}
	const char *p = open_path ? open_path : path;

	/* libltdl cannot ask for RTLD_NOW, so bind the file ourselves first: a
	 * missing symbol refuses the module here instead of killing a worker
	 * at its first call. */
	void *now = dlopen(p, RTLD_NOW | RTLD_LOCAL);
	if (!now) {
		loader_cannot_open(err, errlen, name, path, loader_strip_path(dlerror(), p));
		free(open_path);
		if (copy_fd >= 0)
			close(copy_fd);
		return -1;
	}
	lt_dlhandle h = loader_ltdl_open(p);
	free(open_path);
	if (!h) {
		loader_cannot_open(err, errlen, name, path, lt_dlerror());
		dlclose(now);
		if (copy_fd >= 0)
			close(copy_fd);
		return -1;
	}
	/* The same path opened before the file was replaced: the dynamic linker
	 * hands back the mapping it has, so the library is the one we know. */
	lib = loader_find_lib(st.st_dev, st.st_ino, h);
	if (lib) {
		log_warn("module '%s' (%s): the file changed since it was loaded; the loaded "
		         "code stays until modhostd restarts",
		         name, path);
		lt_dlclose(h);
		dlclose(now);
		if (copy_fd >= 0)
			close(copy_fd);
		*out = lib;
		return 0;
	}

	mh_module_desc desc;
	const void *sym = loader_find_desc(h, name, path, err, errlen);
	if (!sym ||
	    loader_check_desc(name, path, sym, loader_symbol_size(sym), &desc, err, errlen) < 0)
		goto refuse;
	lib = loader_keep(path, h, &desc, &st);
	if (!lib) {
		loader_error(err, errlen, name, path, "out of memory");
		goto refuse;
	}
	lib->copy_fd = copy_fd;
	if (copy_fd >= 0)
		log_info("module '%s' (%s): the file changed since it was first loaded; "
		         "its new code is loaded beside the old",
		         name, path);
	*out = lib;
	return 0;

refuse:
	/* No hook of a refused module has run; only its constructors, if any. */
	lt_dlclose(h);
	dlclose(now);
	if (copy_fd >= 0)
		close(copy_fd);
	return -1;
}
