/* host/metrics.c — metrics in shared memory.  The master maps one area
 * before forking: the family and series tables (changed only under a
 * process-shared robust mutex) and one row of value cells per worker slot
 * (written by that worker alone, with plain stores).  A scrape sums the
 * rows.  Series are found without the lock through an append-only hash
 * index.  See doc/internals/metrics.md. */
#include "build-config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "buf.h"
#include "conn.h"
#include "config.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "shm.h"
#include "worker.h"

#define METRICS_LABEL_NAME_MAX 64
#define METRICS_INDEX_SIZE     (METRICS_MAX_SERIES * 2) /* a power of two */
#define METRICS_ROWS           (SHM_MAX_SLOTS + 1)
#define METRICS_MASTER_ROW     SHM_MAX_SLOTS /* the master, and workers = 0 */
#define METRICS_NONE           UINT32_MAX

/* A family: what metric_register returns (the ABI's opaque mh_metric). */
struct mh_metric {
	uint32_t type; /* enum mh_metric_type */
	uint32_t n_labels;
	uint32_t n_buckets;   /* finite upper bounds; +Inf is implied */
	uint32_t n_cells;     /* per series: 1, or n_buckets + 2 (+Inf bucket, sum) */
	uint32_t first, last; /* series indices + 1, in creation order; 0 = none */
	char name[METRICS_NAME_MAX];
	char help[METRICS_HELP_MAX];
	char labels[METRICS_MAX_LABELS][METRICS_LABEL_NAME_MAX];
	double buckets[METRICS_MAX_BUCKETS];
};

struct metrics_series {
	uint32_t hash;
	uint32_t family; /* index in families */
	uint32_t cell;   /* its first cell, the same in every row */
	uint32_t values; /* pool offset: n_labels NUL-terminated strings */
	uint32_t next;   /* next series of the family + 1; 0 = last */
};

struct metrics_area {
	pthread_mutex_t lock; /* creating families and series, rendering */
	uint32_t n_families, n_series, n_cells, pool_used;
	uint32_t full; /* a table ran out: new series are dropped without locking */
	uint32_t index[METRICS_INDEX_SIZE]; /* series index + 1; published last */
	struct mh_metric families[METRICS_MAX_FAMILIES];
	struct metrics_series series[METRICS_MAX_SERIES];
	char pool[METRICS_POOL];
};

static struct metrics_area *area;
static double *rows; /* METRICS_ROWS x METRICS_CELLS */

/* The host's own families. */
static struct {
	mh_metric *accepted, *closed, *active, *bytes_in, *bytes_out, *msgs_in, *msgs_out;
	mh_metric *errors, *limits, *tls, *restarts, *reloads, *load_failures, *hooks;
	mh_metric *dropped, *start_time, *build_info;
	uint32_t dropped_cell;
} host;

static const double metrics_default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                 0.5,   1,    2.5,   5,    10};
static const double metrics_hook_buckets[] = {0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005,
                                              0.01,    0.05,    0.1,    0.5,    1};

static int metrics_register_host(void);

/* ---- the area ------------------------------------------------------------- */

static int metrics_map(char *err, size_t errlen)
{
	if (area)
		return 0;
	size_t rows_size = (size_t)METRICS_ROWS * METRICS_CELLS * sizeof(double);
	void *a =
	    mmap(NULL, sizeof(*area), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *r = mmap(NULL, rows_size, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED || r == MAP_FAILED) {
		snprintf(err, errlen, "cannot map the metrics area: %s", strerror(errno));
		if (a != MAP_FAILED)
			munmap(a, sizeof(*area));
		if (r != MAP_FAILED)
			munmap(r, rows_size);
		return -1;
	}
	struct metrics_area *ar = a;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	int rc = pthread_mutex_init(&ar->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc != 0) {
		snprintf(err, errlen, "cannot make the metrics lock: %s", strerror(rc));
		munmap(a, sizeof(*area));
		munmap(r, rows_size);
		return -1;
	}
	area = ar;
	rows = r;
	return metrics_register_host() < 0 ? -1 : 0;
}

int metrics_init(char *err, size_t errlen)
{
	if (metrics_map(err, errlen) < 0)
		return -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	metrics_set(host.start_time, NULL, (double)ts.tv_sec + ts.tv_nsec / 1e9);
	return 0;
}

/* Outside the master (modhostd -t, unit suites) the area is made on first
 * use, private to the process. */
static int metrics_ready(void)
{
	char err[256];
	if (area)
		return 1;
	if (metrics_map(err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 0;
	}
	return 1;
}

/* A process-shared robust lock: a worker that died holding it does not
 * block the others (what it was creating is either published or not). */
static void metrics_lock(void)
{
	if (pthread_mutex_lock(&area->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&area->lock);
}

static void metrics_unlock(void)
{
	pthread_mutex_unlock(&area->lock);
}

/* The calling process's row: its worker slot's, or the master's row.
 * Cached per slot: a forked worker's slot is set once, after fork. */
static double *metrics_row(void)
{
	static const struct shm_slot *cached_for = (const struct shm_slot *)1;
	static double *cached;
	struct shm_slot *self = shm_self();
	if (self != cached_for) {
		struct shm_zone *zone = shm_get();
		size_t r = (self && zone) ? (size_t)(self - zone->slots) : METRICS_MASTER_ROW;
		cached = rows + r * METRICS_CELLS;
		cached_for = self;
	}
	return cached;
}

static double cell_load(const double *p)
{
	double v;
	__atomic_load(p, &v, __ATOMIC_RELAXED);
	return v;
}

static void cell_store(double *p, double v)
{
	__atomic_store(p, &v, __ATOMIC_RELAXED);
}

/* One writer per row, so a load and a store make an add. */
static void cell_add(uint32_t cell, double v)
{
	if (cell == METRICS_NONE)
		return;
	double *p = metrics_row() + cell;
	cell_store(p, cell_load(p) + v);
}

/* ---- names and values ----------------------------------------------------- */

static int name_char(char ch, int first, int colon)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_')
		return 1;
	if (colon && ch == ':')
		return 1;
	return !first && ch >= '0' && ch <= '9';
}

/* Whether s is a metric name (colon = 1) or a label name. */
static int valid_name(const char *s, size_t len, int colon)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i], i == 0, colon))
			return 0;
	return 1;
}

/* Copy a label value into out (METRICS_VALUE_MAX bytes): NULL is "", bytes
 * that are not UTF-8 become '?', and a long value is cut at a character
 * boundary.  Lookups and creation both see values through this, so the same
 * input always finds the same series. */
static void value_normalize(const char *v, char *out)
{
	size_t o = 0;
	const unsigned char *s = (const unsigned char *)(v ? v : "");
	while (*s) {
		size_t n = *s < 0x80             ? 1
		           : (*s & 0xe0) == 0xc0 ? 2
		           : (*s & 0xf0) == 0xe0 ? 3
		           : (*s & 0xf8) == 0xf0 ? 4
		                                 : 0;
		for (size_t k = 1; k < n; k++)
			if ((s[k] & 0xc0) != 0x80)
				n = 0;
		if (o + (n ? n : 1) >= METRICS_VALUE_MAX)
			break;
		if (n == 0) {
			out[o++] = '?';
			s++;
			continue;
		}
		memcpy(out + o, s, n);
		o += n;
		s += n;
	}
	out[o] = '\0';
}

static uint32_t hash_bytes(uint32_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t series_hash(uint32_t family, char values[][METRICS_VALUE_MAX], uint32_t n)
{
	uint32_t h = hash_bytes(2166136261u, &family, sizeof(family));
	for (uint32_t i = 0; i < n; i++)
		h = hash_bytes(h, values[i], strlen(values[i]) + 1);
	return h;
}

static int series_matches(const struct metrics_series *s, uint32_t family, uint32_t hash,
                          char values[][METRICS_VALUE_MAX], uint32_t n)
{
	if (s->hash != hash || s->family != family)
		return 0;
	const char *v = area->pool + s->values;
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(v, values[i]) != 0)
			return 0;
		v += strlen(v) + 1;
	}
	return 1;
}

/* Probe the index; returns the series index or -1.  Safe without the lock:
 * entries are only ever added, each after its series is written. */
static int series_probe(uint32_t family, uint32_t hash, char values[][METRICS_VALUE_MAX],
                        uint32_t n)
{
	for (uint32_t i = hash & (METRICS_INDEX_SIZE - 1);;
	     i = (i + 1) & (METRICS_INDEX_SIZE - 1)) {
		uint32_t e = __atomic_load_n(&area->index[i], __ATOMIC_ACQUIRE);
		if (e == 0)
			return -1;
		if (series_matches(&area->series[e - 1], family, hash, values, n))
			return (int)(e - 1);
	}
}

/* Make a series under the lock; returns its index or -1 when a table is
 * full. */
static int series_create(uint32_t family, uint32_t hash, char values[][METRICS_VALUE_MAX],
                         uint32_t n)
{
	struct mh_metric *f = &area->families[family];
	size_t bytes = 0;
	for (uint32_t i = 0; i < n; i++)
		bytes += strlen(values[i]) + 1;
	if (area->n_series >= METRICS_MAX_SERIES || area->n_cells + f->n_cells > METRICS_CELLS ||
	    area->pool_used + bytes > METRICS_POOL) {
		if (!area->full)
			log_warn("metrics: no room for a new series of %s; further new series are "
			         "dropped (see modhost_metric_series_dropped_total)",
			         f->name);
		__atomic_store_n(&area->full, 1, __ATOMIC_RELAXED);
		return -1;
	}
	uint32_t idx = area->n_series++;
	struct metrics_series *s = &area->series[idx];
	s->hash = hash;
	s->family = family;
	s->cell = area->n_cells;
	area->n_cells += f->n_cells;
	s->values = area->pool_used;
	for (uint32_t i = 0; i < n; i++) {
		size_t len = strlen(values[i]) + 1;
		memcpy(area->pool + area->pool_used, values[i], len);
		area->pool_used += (uint32_t)len;
	}
	s->next = 0;
	/* Cells are never reused and only written once their series is found,
	 * so a new series starts at zero in every row. */
	uint32_t i = hash & (METRICS_INDEX_SIZE - 1);
	while (area->index[i])
		i = (i + 1) & (METRICS_INDEX_SIZE - 1);
	__atomic_store_n(&area->index[i], idx + 1, __ATOMIC_RELEASE);
	if (f->last)
		area->series[f->last - 1].next = idx + 1;
	else
		f->first = idx + 1;
	f->last = idx + 1;
	return (int)idx;
}

/* The first cell of the series of f with these label values, made on first
 * use; METRICS_NONE when it cannot be made (counted as dropped). */
static uint32_t series_cell(struct mh_metric *f, const char *const *label_values)
{
	char values[METRICS_MAX_LABELS][METRICS_VALUE_MAX];
	uint32_t family = (uint32_t)(f - area->families);
	for (uint32_t i = 0; i < f->n_labels; i++)
		value_normalize(label_values ? label_values[i] : NULL, values[i]);
	uint32_t hash = series_hash(family, values, f->n_labels);
	int s = series_probe(family, hash, values, f->n_labels);
	if (s < 0 && !__atomic_load_n(&area->full, __ATOMIC_RELAXED)) {
		metrics_lock();
		s = series_probe(family, hash, values, f->n_labels);
		if (s < 0)
			s = series_create(family, hash, values, f->n_labels);
		metrics_unlock();
	}
	if (s < 0) {
		cell_add(host.dropped_cell, 1);
		return METRICS_NONE;
	}
	return area->series[s].cell;
}

/* ---- registering ---------------------------------------------------------- */

/* Split "a, b" into f->labels; returns 0, or -1 with why. */
static int parse_labels(struct mh_metric *f, const char *label_names, const char **why)
{
	const char *p = label_names ? label_names : "";
	f->n_labels = 0;
	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		size_t len = (size_t)(p - start);
		if (f->n_labels == METRICS_MAX_LABELS) {
			*why = "more than 8 labels";
			return -1;
		}
		if (!valid_name(start, len, 0) || len >= METRICS_LABEL_NAME_MAX ||
		    (len >= 2 && start[0] == '_' && start[1] == '_')) {
			*why = "a label name is not [a-zA-Z_][a-zA-Z0-9_]* (or starts with __)";
			return -1;
		}
		if (f->type == MH_METRIC_HISTOGRAM && len == 2 && memcmp(start, "le", 2) == 0) {
			*why = "a histogram cannot have a label named le";
			return -1;
		}
		memcpy(f->labels[f->n_labels], start, len);
		f->labels[f->n_labels][len] = '\0';
		for (uint32_t i = 0; i < f->n_labels; i++)
			if (strcmp(f->labels[i], f->labels[f->n_labels]) == 0) {
				*why = "a label name appears twice";
				return -1;
			}
		f->n_labels++;
	}
	return 0;
}

static int parse_buckets(struct mh_metric *f, const double *buckets, size_t n, const char **why)
{
	if (!buckets || n == 0) {
		buckets = metrics_default_buckets;
		n = sizeof(metrics_default_buckets) / sizeof(metrics_default_buckets[0]);
	}
	if (isinf(buckets[n - 1]) && buckets[n - 1] > 0)
		n--; /* +Inf is always there */
	if (n == 0 || n > METRICS_MAX_BUCKETS) {
		*why = "a histogram needs 1 to 32 finite buckets";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
			*why = "histogram buckets must be finite and strictly ascending";
			return -1;
		}
		f->buckets[i] = buckets[i];
	}
	f->n_buckets = (uint32_t)n;
	return 0;
}

static int same_shape(const struct mh_metric *a, const struct mh_metric *b)
{
	if (a->type != b->type || a->n_labels != b->n_labels || a->n_buckets != b->n_buckets)
		return 0;
	for (uint32_t i = 0; i < a->n_labels; i++)
		if (strcmp(a->labels[i], b->labels[i]) != 0)
			return 0;
	for (uint32_t i = 0; i < a->n_buckets; i++)
		if (a->buckets[i] != b->buckets[i])
			return 0;
	return 1;
}

/* Build the family in a scratch copy, then find or add it under the lock. */
static mh_metric *register_family(const char *who, int type, const char *name, const char *help,
                                  const char *label_names, const double *buckets, size_t n_buckets)
{
	struct mh_metric f;
	const char *why = NULL;
	memset(&f, 0, sizeof(f));
	size_t len = name ? strlen(name) : 0;
	if (type != MH_METRIC_COUNTER && type != MH_METRIC_GAUGE && type != MH_METRIC_HISTOGRAM)
		why = "unknown metric type";
	else if (!valid_name(name, len, 1) || len + sizeof("_bucket") > METRICS_NAME_MAX)
		why = "the name is not [a-zA-Z_:][a-zA-Z0-9_:]* (at most 120 bytes)";
	f.type = (uint32_t)type;
	if (!why) {
		memcpy(f.name, name, len + 1);
		/* Prometheus names counters NAME_total; add it if missing. */
		if (type == MH_METRIC_COUNTER && (len < 6 || strcmp(name + len - 6, "_total") != 0))
			memcpy(f.name + len, "_total", 7);
		snprintf(f.help, sizeof(f.help), "%s", help ? help : "");
		parse_labels(&f, label_names, &why);
	}
	if (!why && type == MH_METRIC_HISTOGRAM)
		parse_buckets(&f, buckets, n_buckets, &why);
	if (why) {
		log_write(MH_LOG_ERROR, who, "metric '%s' refused: %s", name ? name : "(null)",
		          why);
		return NULL;
	}
	f.n_cells = type == MH_METRIC_HISTOGRAM ? f.n_buckets + 2 : 1;

	struct mh_metric *found = NULL;
	metrics_lock();
	for (uint32_t i = 0; i < area->n_families; i++) {
		if (strcmp(area->families[i].name, f.name) != 0)
			continue;
		found = same_shape(&area->families[i], &f) ? &area->families[i] : NULL;
		why = found ? NULL
		            : "a metric of that name exists with another type, labels or buckets";
		break;
	}
	if (!found && !why) {
		if (area->n_families == METRICS_MAX_FAMILIES) {
			why = "too many metric families (256)";
		} else {
			found = &area->families[area->n_families];
			*found = f;
			area->n_families++;
		}
	}
	metrics_unlock();
	if (why) {
		log_write(MH_LOG_ERROR, who, "metric '%s' refused: %s", f.name, why);
		return NULL;
	}
	if (found->n_labels == 0)
		series_cell(found, NULL); /* a plain metric shows 0 from the start */
	return found;
}

mh_metric *metrics_register(mh_module *m, int type, const char *name, const char *help,
                            const char *label_names, const double *buckets, size_t n_buckets)
{
	if (!metrics_ready())
		return NULL;
	return register_family(m ? m->name : NULL, type, name, help, label_names, buckets,
	                       n_buckets);
}

/* ---- updating --------------------------------------------------------------- */

void metrics_add(mh_metric *f, const char *const *label_values, double value)
{
	if (!f || f->type == MH_METRIC_HISTOGRAM || isnan(value))
		return;
	if (f->type == MH_METRIC_COUNTER && value < 0)
		return; /* counters only go up */
	cell_add(series_cell(f, label_values), value);
}

void metrics_set(mh_metric *f, const char *const *label_values, double value)
{
	if (!f || f->type != MH_METRIC_GAUGE)
		return;
	uint32_t cell = series_cell(f, label_values);
	if (cell != METRICS_NONE)
		cell_store(metrics_row() + cell, value);
}

void metrics_observe(mh_metric *f, const char *const *label_values, double value)
{
	if (!f || f->type != MH_METRIC_HISTOGRAM || isnan(value))
		return;
	uint32_t cell = series_cell(f, label_values);
	if (cell == METRICS_NONE)
		return;
	uint32_t b = 0;
	while (b < f->n_buckets && value > f->buckets[b])
		b++;
	cell_add(cell + b, 1);                    /* its bucket, or +Inf */
	cell_add(cell + f->n_buckets + 1, value); /* the sum */
}

/* ---- rendering -------------------------------------------------------------- */

/* Shortest text that reads back as v, as Prometheus writes numbers. */
static void format_number(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, len, "%s", v > 0 ? "+Inf" : "-Inf");
	} else if (v < 1e15 && v > -1e15 && v == (double)(long long)v) {
		snprintf(buf, len, "%lld", (long long)v);
	} else {
		for (int p = 1; p <= 17; p++) {
			snprintf(buf, len, "%.*g", p, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
}

/* Append s with the escapes of a label value (quote = 1) or a HELP text. */
static int add_escaped(struct mh_buf *out, const char *s, int quote)
{
	const char *run = s;
	for (; *s; s++) {
		const char *esc = *s == '\\'             ? "\\\\"
		                  : *s == '\n'           ? "\\n"
		                  : (quote && *s == '"') ? "\\\""
		                                         : NULL;
		if (!esc)
			continue;
		if (buf_add(out, run, (size_t)(s - run)) < 0 || buf_add(out, esc, 2) < 0)
			return -1;
		run = s + 1;
	}
	return buf_add(out, run, (size_t)(s - run));
}

/* NAME{labels,le="x"} VALUE\n; le may be NULL. */
static int add_sample(struct mh_buf *out, const struct mh_metric *f, const char *suffix,
                      const char *values, const char *le, double value)
{
	char num[64];
	int rc = buf_printf(out, "%s%s", f->name, suffix) < 0 ? -1 : 0;
	if (f->n_labels || le) {
		rc |= buf_add(out, "{", 1);
		for (uint32_t i = 0; i < f->n_labels; i++) {
			rc |= buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]) < 0;
			rc |= add_escaped(out, values, 1);
			rc |= buf_add(out, "\"", 1);
			values += strlen(values) + 1;
		}
		if (le)
			rc |=
			    buf_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le) < 0;
		rc |= buf_add(out, "}", 1);
	}
	format_number(num, sizeof(num), value);
	rc |= buf_printf(out, " %s\n", num) < 0;
	return rc ? -1 : 0;
}

/* The sum of one cell over every row that was ever used. */
static double cell_sum(uint32_t cell)
{
	struct shm_zone *zone = shm_get();
	uint32_t used = zone ? __atomic_load_n(&zone->used_slots, __ATOMIC_RELAXED) : 0;
	double v = cell_load(&rows[(size_t)METRICS_MASTER_ROW * METRICS_CELLS + cell]);
	for (uint32_t r = 0; r < used && r < SHM_MAX_SLOTS; r++)
		v += cell_load(&rows[(size_t)r * METRICS_CELLS + cell]);
	return v;
}

static int render_series(struct mh_buf *out, const struct mh_metric *f,
                         const struct metrics_series *s)
{
	const char *values = area->pool + s->values;
	if (f->type != MH_METRIC_HISTOGRAM)
		return add_sample(out, f, "", values, NULL, cell_sum(s->cell));
	double cumulative = 0;
	char le[64];
	int rc = 0;
	for (uint32_t b = 0; b <= f->n_buckets; b++) {
		cumulative += cell_sum(s->cell + b);
		if (b < f->n_buckets)
			format_number(le, sizeof(le), f->buckets[b]);
		else
			snprintf(le, sizeof(le), "+Inf");
		rc |= add_sample(out, f, "_bucket", values, le, cumulative);
	}
	rc |= add_sample(out, f, "_sum", values, NULL, cell_sum(s->cell + f->n_buckets + 1));
	rc |= add_sample(out, f, "_count", values, NULL, cumulative);
	return rc;
}

static const char *type_name(uint32_t type)
{
	return type == MH_METRIC_COUNTER ? "counter"
	       : type == MH_METRIC_GAUGE ? "gauge"
	                                 : "histogram";
}

int metrics_render(struct mh_buf *out)
{
	int rc = 0;
	if (!metrics_ready())
		return -1;
	metrics_lock();
	for (uint32_t i = 0; i < area->n_families && rc == 0; i++) {
		const struct mh_metric *f = &area->families[i];
		rc |= buf_printf(out, "# HELP %s ", f->name) < 0;
		rc |= add_escaped(out, f->help, 0);
		rc |= buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type)) < 0;
		for (uint32_t s = f->first; s && rc == 0; s = area->series[s - 1].next)
			rc |= render_series(out, f, &area->series[s - 1]);
	}
	metrics_unlock();
	return rc ? -1 : 0;
}

void metrics_slot_exited(int slot)
{
	if (!area || slot < 0 || slot >= SHM_MAX_SLOTS)
		return;
	double *row = rows + (size_t)slot * METRICS_CELLS;
	metrics_lock();
	for (uint32_t i = 0; i < area->n_series; i++) {
		const struct metrics_series *s = &area->series[i];
		if (area->families[s->family].type == MH_METRIC_GAUGE)
			cell_store(&row[s->cell], 0);
	}
	metrics_unlock();
}

/* ---- the host's own metrics ------------------------------------------------- */

static mh_metric *host_family(int type, const char *name, const char *help, const char *labels,
                              const double *buckets, size_t n)
{
	return register_family(NULL, type, name, help, labels, buckets, n);
}

static int metrics_register_host(void)
{
	host.dropped_cell = METRICS_NONE;
	host.dropped =
	    host_family(MH_METRIC_COUNTER, "modhost_metric_series_dropped_total",
	                "Metric updates dropped because the series table was full.", NULL, NULL, 0);
	if (host.dropped)
		host.dropped_cell = series_cell(host.dropped, NULL);
	host.start_time =
	    host_family(MH_METRIC_GAUGE, "modhost_start_time_seconds",
	                "When the master started, in seconds since the epoch.", NULL, NULL, 0);
	host.build_info =
	    host_family(MH_METRIC_GAUGE, "modhost_build_info",
	                "Always 1: the product and ABI versions.", "version, abi", NULL, 0);
	host.accepted = host_family(MH_METRIC_COUNTER, "modhost_connections_accepted_total",
	                            "Connections accepted.", "listener", NULL, 0);
	host.closed = host_family(MH_METRIC_COUNTER, "modhost_connections_closed_total",
	                          "Connections closed.", "listener", NULL, 0);
	host.active = host_family(MH_METRIC_GAUGE, "modhost_connections_active",
	                          "Connections open now.", "listener", NULL, 0);
	host.bytes_in =
	    host_family(MH_METRIC_COUNTER, "modhost_bytes_in_total",
	                "Bytes read from connections (after TLS).", "listener", NULL, 0);
	host.bytes_out =
	    host_family(MH_METRIC_COUNTER, "modhost_bytes_out_total",
	                "Bytes written or queued to connections.", "listener", NULL, 0);
	host.msgs_in = host_family(MH_METRIC_COUNTER, "modhost_messages_in_total",
	                           "Requests decoded.", "listener", NULL, 0);
	host.msgs_out = host_family(MH_METRIC_COUNTER, "modhost_messages_out_total",
	                            "Replies encoded.", "listener", NULL, 0);
	host.errors =
	    host_family(MH_METRIC_COUNTER, "modhost_errors_total",
	                "Protocol errors and error replies, by kind.", "listener, kind", NULL, 0);
	host.limits = host_family(MH_METRIC_COUNTER, "modhost_limit_hits_total",
	                          "Limits reached: sizes, timeouts, connections, in-flight.",
	                          "listener, limit", NULL, 0);
	host.tls =
	    host_family(MH_METRIC_COUNTER, "modhost_tls_handshakes_total",
	                "TLS handshakes, by result (ok, failed).", "listener, result", NULL, 0);
	host.restarts = host_family(MH_METRIC_COUNTER, "modhost_worker_restarts_total",
	                            "Workers restarted after dying.", NULL, NULL, 0);
	host.reloads = host_family(MH_METRIC_COUNTER, "modhost_reloads_total",
	                           "Reloads, by result (ok, failed).", "result", NULL, 0);
	host.load_failures =
	    host_family(MH_METRIC_COUNTER, "modhost_module_load_failures_total",
	                "Modules refused or failing to load on reload.", "module", NULL, 0);
	host.hooks = host_family(MH_METRIC_HISTOGRAM, "modhost_module_hook_duration_seconds",
	                         "Time spent in module hooks (handle, auth, policy).",
	                         "module, hook", metrics_hook_buckets,
	                         sizeof(metrics_hook_buckets) / sizeof(metrics_hook_buckets[0]));
	if (!host.dropped || !host.start_time || !host.build_info || !host.accepted ||
	    !host.closed || !host.active || !host.bytes_in || !host.bytes_out || !host.msgs_in ||
	    !host.msgs_out || !host.errors || !host.limits || !host.tls || !host.restarts ||
	    !host.reloads || !host.load_failures || !host.hooks)
		return -1;
	char abi[16];
	snprintf(abi, sizeof(abi), "%d.%d", MH_ABI_MAJOR, MH_ABI_MINOR);
	metrics_set(host.build_info, (const char *const[]){PACKAGE_VERSION, abi}, 1);
	series_cell(host.reloads, (const char *const[]){"ok"});
	series_cell(host.reloads, (const char *const[]){"failed"});
	return 0;
}

/* Per process: the cells of each listener's hot series, by listener index
 * in the generation, checked against the listener's name. */
struct listener_cells {
	char name[METRICS_VALUE_MAX];
	uint32_t accepted, closed, active, bytes_in, bytes_out, msgs_in, msgs_out;
};

static void listener_cells_fill(struct listener_cells *lc, const char *name)
{
	const char *const lv[] = {name};
	lc->accepted = series_cell(host.accepted, lv);
	lc->closed = series_cell(host.closed, lv);
	lc->active = series_cell(host.active, lv);
	lc->bytes_in = series_cell(host.bytes_in, lv);
	lc->bytes_out = series_cell(host.bytes_out, lv);
	lc->msgs_in = series_cell(host.msgs_in, lv);
	lc->msgs_out = series_cell(host.msgs_out, lv);
	snprintf(lc->name, sizeof(lc->name), "%s", name);
}

struct listener_cells *metrics_listener_cells(const char *listener)
{
	struct listener_cells *lc = calloc(1, sizeof(*lc));
	if (!lc)
		return NULL;
	snprintf(lc->name, sizeof(lc->name), "%s", listener);
	if (area)
		listener_cells_fill(lc, listener);
	return lc;
}

void metrics_listener_cells_free(struct listener_cells *lc)
{
	free(lc);
}

/* The cells of c's listener, resolved once when the worker set the
 * listener up: no lookup on the message path. */
static struct listener_cells *listener_cells_of(const struct mh_conn *c)
{
	static struct listener_cells none = {
		"", METRICS_NONE, METRICS_NONE, METRICS_NONE, METRICS_NONE,
		METRICS_NONE, METRICS_NONE, METRICS_NONE,
	};
	return c->sl->cells ? c->sl->cells : &none;
}

/* Add c's bytes since the last event.  Out counts what was written plus
 * what is queued, so that a reply is counted as soon as it is encoded. */
static void count_bytes(const struct listener_cells *lc, struct mh_conn *c)
{
	uint64_t out = c->bytes_out + (c->out ? buf_length(c->out) : 0);
	if (c->bytes_in > c->counted_in) {
		cell_add(lc->bytes_in, (double)(c->bytes_in - c->counted_in));
		c->counted_in = c->bytes_in;
	}
	if (out > c->counted_out) {
		cell_add(lc->bytes_out, (double)(out - c->counted_out));
		c->counted_out = out;
	}
}

void metrics_host_replies(struct mh_conn *c, uint32_t n)
{
	if (!area)
		return;
	struct listener_cells *lc = listener_cells_of(c);
	cell_add(lc->msgs_out, n);
	count_bytes(lc, c);
}

static const char *status_kind(int status)
{
	switch (status) {
	case MH_STATUS_BAD_REQUEST: return "bad_request";
	case MH_STATUS_UNAUTHORIZED: return "unauthorized";
	case MH_STATUS_FORBIDDEN: return "forbidden";
	case MH_STATUS_NOT_FOUND: return "not_found";
	case MH_STATUS_TOO_LARGE: return "too_large";
	case MH_STATUS_TOO_MANY: return "too_many";
	case MH_STATUS_UNAVAILABLE: return "unavailable";
	case MH_STATUS_TIMEOUT: return "timeout";
	default: return "internal";
	}
}

void metrics_host_event(struct mh_conn *c, int type, struct mh_msg *msg, const char *detail,
                        uint64_t value)
{
	if (!area)
		return;
	struct listener_cells *lc = listener_cells_of(c);
	const char *name = c->sl->ls->name;
	switch (type) {
	case MH_EVENT_CONN_OPEN:
		cell_add(lc->accepted, 1);
		cell_add(lc->active, 1);
		break;
	case MH_EVENT_CONN_CLOSE:
		cell_add(lc->closed, 1);
		cell_add(lc->active, -1);
		count_bytes(lc, c);
		break;
	case MH_EVENT_MSG_IN:
		/* Counted at once, so that a request that crashes its worker
		 * is still in the total; bytes wait for the replies. */
		cell_add(lc->msgs_in, 1);
		break;
	case MH_EVENT_MSG_OUT:
		/* Replies and bytes: metrics_host_replies, per batch. */
		if (msg && (msg->is_error || msg->status != MH_STATUS_OK))
			metrics_add(host.errors,
			            (const char *const[]){name, status_kind(msg->status)}, 1);
		break;
	case MH_EVENT_LIMIT:
		metrics_add(host.limits, (const char *const[]){name, detail ? detail : "other"}, 1);
		break;
	case MH_EVENT_ERROR:
		metrics_add(host.errors, (const char *const[]){name, "protocol"}, 1);
		break;
	case MH_EVENT_TLS_HANDSHAKE:
		metrics_add(host.tls, (const char *const[]){name, value ? "ok" : "failed"}, 1);
		count_bytes(lc, c);
		break;
	default: break;
	}
}

void metrics_host_limit(const char *listener, const char *limit)
{
	if (area)
		metrics_add(host.limits, (const char *const[]){listener, limit}, 1);
}

void metrics_host_worker_restart(void)
{
	if (area)
		metrics_add(host.restarts, NULL, 1);
}

void metrics_host_reload(int ok, const char *err)
{
	if (!area)
		return;
	metrics_add(host.reloads, (const char *const[]){ok ? "ok" : "failed"}, 1);
	/* The loader's refusals read "[FILE:LINE: ]module 'NAME' (PATH): why". */
	char name[METRICS_VALUE_MAX];
	const char *p = ok || !err ? NULL : strstr(err, "module '");
	if (!p || (p != err && (p < err + 2 || p[-2] != ':' || p[-1] != ' ')))
		return;
	p += 8;
	const char *end = strstr(p, "' (");
	size_t len = end ? (size_t)(end - p) : 0;
	if (!len || len >= sizeof(name) || memchr(p, '\'', len))
		return;
	memcpy(name, p, len);
	name[len] = '\0';
	metrics_add(host.load_failures, (const char *const[]){name}, 1);
}

/* Per process: hook series by module instance and hook, checked against
 * the instance's name (instances are freed and remade on reload). */
struct hook_cells {
	const struct mh_module *m;
	const char *hook;
	char name[METRICS_VALUE_MAX];
	uint32_t cell;
};

static struct hook_cells hook_cache[64];

void metrics_host_hook(const struct mh_module *m, const char *hook, uint64_t us)
{
	if (!area || !host.hooks)
		return;
	size_t h = (((uintptr_t)m >> 4) ^ ((uintptr_t)hook >> 2)) & 63;
	struct hook_cells *hc = &hook_cache[h];
	if (hc->m != m || hc->hook != hook || strcmp(hc->name, m->name) != 0) {
		hc->m = m;
		hc->hook = hook;
		snprintf(hc->name, sizeof(hc->name), "%s", m->name);
		hc->cell = series_cell(host.hooks, (const char *const[]){m->name, hook});
	}
	if (hc->cell == METRICS_NONE)
		return;
	double v = (double)us / 1e6;
	const struct mh_metric *f = host.hooks;
	uint32_t b = 0;
	while (b < f->n_buckets && v > f->buckets[b])
		b++;
	cell_add(hc->cell + b, 1);
	cell_add(hc->cell + f->n_buckets + 1, v);
}
