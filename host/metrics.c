/* host/metrics.c — the metric store, in shared memory.  The master maps one
 * area before forking: the family and series tables (changed only under a
 * process-shared robust mutex) and one row of value cells per worker slot
 * (written by that worker alone, with plain stores).  A scrape sums the
 * rows.  Series are found without the lock through an append-only hash
 * index.  The host's own families are hostmetrics.c's.  See
 * doc/internals/metrics.md. */
#include "build-config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "buf.h"
#include "loader.h"
#include "log.h"
#include "metrics-int.h"
#include "metrics.h"
#include "shm.h"

#define METRICS_INDEX_SIZE (METRICS_MAX_SERIES * 2) /* a power of two */

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
double *metrics_rows; /* METRICS_ROWS x METRICS_CELLS */

/* modhost_metric_series_dropped_total, the store's own counter. */
static uint32_t dropped_cell = METRICS_NONE;

static const double metrics_default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                 0.5,   1,    2.5,   5,    10};

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
	metrics_rows = r;
	/* The store's counter first, so that it renders first. */
	mh_metric *dropped = metrics_register_family(
	    NULL, MH_METRIC_COUNTER, "modhost_metric_series_dropped_total",
	    "Metric updates dropped because the series table was full.", NULL, NULL, 0);
	if (dropped)
		dropped_cell = metrics_series_cell(dropped, NULL);
	int rc_host = metrics_host_register();
	return !dropped || rc_host < 0 ? -1 : 0;
}

int metrics_init(char *err, size_t errlen)
{
	if (metrics_map(err, errlen) < 0)
		return -1;
	metrics_host_started();
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
uint32_t metrics_series_cell(struct mh_metric *f, const char *const *label_values)
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
		cell_add(dropped_cell, 1);
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
mh_metric *metrics_register_family(const char *who, int type, const char *name, const char *help,
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
		metrics_series_cell(found, NULL); /* a plain metric shows 0 from the start */
	return found;
}

mh_metric *metrics_register(mh_module *m, int type, const char *name, const char *help,
                            const char *label_names, const double *buckets, size_t n_buckets)
{
	if (!metrics_ready())
		return NULL;
	return metrics_register_family(m ? m->name : NULL, type, name, help, label_names, buckets,
	                               n_buckets);
}

/* ---- updating --------------------------------------------------------------- */

void metrics_add(mh_metric *f, const char *const *label_values, double value)
{
	if (!f || f->type == MH_METRIC_HISTOGRAM || isnan(value))
		return;
	if (f->type == MH_METRIC_COUNTER && value < 0)
		return; /* counters only go up */
	cell_add(metrics_series_cell(f, label_values), value);
}

void metrics_set(mh_metric *f, const char *const *label_values, double value)
{
	if (!f || f->type != MH_METRIC_GAUGE)
		return;
	uint32_t cell = metrics_series_cell(f, label_values);
	if (cell != METRICS_NONE)
		cell_store(metrics_row() + cell, value);
}

void metrics_observe(mh_metric *f, const char *const *label_values, double value)
{
	if (!f || f->type != MH_METRIC_HISTOGRAM || isnan(value))
		return;
	uint32_t cell = metrics_series_cell(f, label_values);
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
			rc |= buf_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le) < 0;
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
	double v = cell_load(&metrics_rows[(size_t)METRICS_MASTER_ROW * METRICS_CELLS + cell]);
	for (uint32_t r = 0; r < used && r < SHM_MAX_SLOTS; r++)
		v += cell_load(&metrics_rows[(size_t)r * METRICS_CELLS + cell]);
	return v;
}

/* The total over every row of the series of f whose label values match
 * match (n_labels entries, NULL = any value; match NULL = every series).
 * Returns -1 when no series matched, else 0 with the total in *total. */
int metrics_family_total(const struct mh_metric *f, const char *const *match, double *total)
{
	char want[METRICS_MAX_LABELS][METRICS_VALUE_MAX];
	int found = 0;
	*total = 0;
	if (!metrics_ready() || !f || f->type == MH_METRIC_HISTOGRAM)
		return -1;
	for (uint32_t i = 0; match && i < f->n_labels; i++)
		if (match[i])
			value_normalize(match[i], want[i]);
	metrics_lock();
	for (uint32_t s = f->first; s; s = area->series[s - 1].next) {
		const struct metrics_series *series = &area->series[s - 1];
		const char *v = area->pool + series->values;
		int matches = 1;
		for (uint32_t i = 0; i < f->n_labels && matches; i++, v += strlen(v) + 1)
			matches = !match || !match[i] || strcmp(v, want[i]) == 0;
		if (matches) {
			*total += cell_sum(series->cell);
			found = 1;
		}
	}
	metrics_unlock();
	return found ? 0 : -1;
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
	double *row = metrics_rows + (size_t)slot * METRICS_CELLS;
	metrics_lock();
	for (uint32_t i = 0; i < area->n_series; i++) {
		const struct metrics_series *s = &area->series[i];
		if (area->families[s->family].type == MH_METRIC_GAUGE)
			cell_store(&row[s->cell], 0);
	}
	metrics_unlock();
}