/* host/modconf.c — a module instance's configuration: its [module NAME]
 * section checked against the module's key table, with defaults parsed by
 * the same value parsers as the file's text. */
#include "build-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgval.h"
#include "config.h"
#include "modconf.h"

static const char *const modconf_host_keys[] = MODCONF_HOST_KEYS;

static void modconf_error(char *err, size_t errlen, const char *file, int line, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));

/* "file:line: message", or just the message when there is no file. */
static void modconf_error(char *err, size_t errlen, const char *file, int line, const char *fmt,
                          ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (file)
		snprintf(err, errlen, "%s:%d: %s", file, line, msg);
	else
		snprintf(err, errlen, "%s", msg);
}

static int modconf_is_host_key(const char *key)
{
	for (int i = 0; modconf_host_keys[i]; i++)
		if (strcmp(modconf_host_keys[i], key) == 0)
			return 1;
	return 0;
}

/* Parse text as type into v (key and type already set).  Returns 0, or -1
 * with the reason in reason. */
static int modconf_parse(struct modconf_value *v, const char *text, const char *base_dir,
                         char *reason, size_t rlen)
{
	int b;

	switch (v->type) {
	case MH_CONFIG_STRING: break;
	case MH_CONFIG_INT:
		if (cfgval_int(text, INT64_MIN, INT64_MAX, &v->i, reason, rlen) < 0)
			return -1;
		break;
	case MH_CONFIG_BOOL:
		if (cfgval_bool(text, &b, reason, rlen) < 0)
			return -1;
		v->i = b;
		break;
	case MH_CONFIG_SIZE:
		if (cfgval_size(text, &v->u, reason, rlen) < 0)
			return -1;
		break;
	case MH_CONFIG_DURATION:
		if (cfgval_duration_ms(text, &v->u, reason, rlen) < 0)
			return -1;
		break;
	case MH_CONFIG_LIST:
		if (cfgval_list(text, &v->items, &v->n_items, reason, rlen) < 0)
			return -1;
		break;
	case MH_CONFIG_PATH: return cfgval_path(text, base_dir, &v->text, reason, rlen);
	default: snprintf(reason, rlen, "unknown key type %d", v->type); return -1;
	}
	v->text = strdup(text);
	if (!v->text) {
		snprintf(reason, rlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The table's key names, "a, b, c", for messages. */
static void modconf_known(const mh_config_key *keys, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const mh_config_key *k = keys; k && k->name && n < len; k++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", k->name);
	if (!buf[0])
		snprintf(buf, len, "none");
}

/* Check the table itself: a module bug is reported like a bad value. */
static int modconf_check_table(const char *name, const char *file, int line,
                               const mh_config_key *keys, char *err, size_t errlen)
{
	for (const mh_config_key *k = keys; k && k->name; k++) {
		if (modconf_is_host_key(k->name)) {
			modconf_error(err, errlen, file, line,
			              "module '%s' declares key '%s', which the host reserves",
			              name, k->name);
			return -1;
		}
		for (const mh_config_key *j = keys; j < k; j++) {
			if (strcmp(j->name, k->name) == 0) {
				modconf_error(err, errlen, file, line,
				              "module '%s' declares key '%s' twice", name, k->name);
				return -1;
			}
		}
	}
	return 0;
}

int modconf_build(const char *module_name, const struct cfg_section *sec, const mh_config_key *keys,
                  const char *base_dir, struct modconf **out, char *err, size_t errlen)
{
	const char *sfile = sec ? sec->file : NULL;
	int sline = sec ? sec->line : 0;
	struct modconf *mc;
	char reason[512];
	size_t n = 0;

	*out = NULL;
	if (modconf_check_table(module_name, sfile, sline, keys, err, errlen) < 0)
		return -1;
	for (const struct cfg_entry *e = sec ? sec->entries : NULL; e; e = e->next) {
		const mh_config_key *k = keys;
		while (k && k->name && strcmp(k->name, e->key) != 0)
			k++;
		if ((!k || !k->name) && !modconf_is_host_key(e->key)) {
			char known[512];
			modconf_known(keys, known, sizeof(known));
			modconf_error(err, errlen, e->file, e->line,
			              "module '%s' has no key '%s' (known: %s)", module_name,
			              e->key, known);
			return -1;
		}
	}
	for (const mh_config_key *k = keys; k && k->name; k++)
		n++;
	mc = calloc(1, sizeof(*mc));
	if (!mc || !(mc->values = calloc(n + 1, sizeof(*mc->values)))) {
		free(mc);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const mh_config_key *k = &keys[i];
		struct modconf_value *v = &mc->values[i];
		const struct cfg_entry *e = NULL;

		for (e = sec ? sec->entries : NULL; e && strcmp(e->key, k->name) != 0; e = e->next)
			;
		mc->n = i + 1;
		v->type = k->type;
		if (!(v->key = strdup(k->name))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (e) {
			if (modconf_parse(v, e->value, base_dir, reason, sizeof(reason)) < 0) {
				modconf_error(err, errlen, e->file, e->line,
				              "module '%s': bad value for '%s': %s", module_name,
				              k->name, reason);
				goto fail;
			}
		} else if (!k->def) {
			modconf_error(err, errlen, sfile, sline, "module '%s' needs key '%s'",
			              module_name, k->name);
			goto fail;
		} else if (modconf_parse(v, k->def, base_dir, reason, sizeof(reason)) < 0) {
			modconf_error(err, errlen, sfile, sline,
			              "module '%s': bad default for '%s' in its key table: %s",
			              module_name, k->name, reason);
			goto fail;
		}
	}
	*out = mc;
	return 0;
fail:
	modconf_free(mc);
	return -1;
}

const struct modconf_value *modconf_get(const struct modconf *mc, const char *key)
{
	for (size_t i = 0; i < mc->n; i++)
		if (strcmp(mc->values[i].key, key) == 0)
			return &mc->values[i];
	return NULL;
}

void modconf_free(struct modconf *mc)
{
	if (!mc)
		return;
	for (size_t i = 0; i < mc->n; i++) {
		free(mc->values[i].key);
		free(mc->values[i].text);
		cfgval_list_free(mc->values[i].items);
	}
	free(mc->values);
	free(mc);
}
