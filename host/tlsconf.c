/* host/tlsconf.c — listener TLS settings (the tls_* keys) and the
 * credentials each generation builds from them: certificate/key pairs
 * chosen by SNI, OCSP responses, client CA and CRL, the priority string,
 * the ALPN map, and the session-ticket key made once in the master. */
#include "build-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "cfgval.h"
#include "config.h"
#include "generation.h"
#include "loader.h"
#include "log.h"
#include "tls.h"
#include "tlsconf.h"

/* The session-ticket master key (64 bytes).  Made in the master before any
 * fork and never changed: workers inherit it, so a ticket made by one is
 * read by any other, also across reloads.  GnuTLS derives the key that
 * actually encrypts tickets from it and the time (rotating every
 * 3 x ticket lifetime, the previous period's key still accepted). */
static gnutls_datum_t tlsconf_stek;

const gnutls_datum_t *tlsconf_ticket_key(void)
{
	return tlsconf_stek.data ? &tlsconf_stek : NULL;
}

/* ---- the keys ----------------------------------------------------------- */

static const char *const tlsconf_keys[] = {
    "tls",
    "tls_certificate",
    "tls_ocsp_response",
    "tls_priority",
    "tls_alpn",
    "tls_alpn_required",
    "tls_tickets",
    "tls_ticket_rotate",
    "tls_client_ca",
    "tls_client_crl",
    "tls_verify_client",
    "tls_handshake_timeout",
    NULL,
};

int tlsconf_is_key(const char *key)
{
	for (size_t i = 0; tlsconf_keys[i]; i++)
		if (strcmp(tlsconf_keys[i], key) == 0)
			return 1;
	return 0;
}

static struct tls_settings *tlsconf_new(void)
{
	struct tls_settings *ts = calloc(1, sizeof(*ts));
	if (!ts)
		return NULL;
	ts->tickets = 1;
	ts->ticket_rotate_ms = 3600 * 1000;
	ts->handshake_timeout_ms = 10 * 1000;
	return ts;
}

/* A list of paths, each made absolute against base_dir. */
static int tlsconf_paths(const char *value, const char *base_dir, char ***out, size_t *n,
                         char *reason, size_t rlen)
{
	char **items;
	if (cfgval_list(value, &items, n, reason, rlen) < 0)
		return -1;
	if (*n == 0) {
		cfgval_list_free(items);
		snprintf(reason, rlen, "empty value");
		return -1;
	}
	for (size_t i = 0; i < *n; i++) {
		char *abs;
		if (cfgval_path(items[i], base_dir, &abs, reason, rlen) < 0) {
			cfgval_list_free(items);
			return -1;
		}
		free(items[i]);
		items[i] = abs;
	}
	cfgval_list_free(*out);
	*out = items;
	return 0;
}

static int tlsconf_path(const char *value, const char *base_dir, char **out, char *reason,
                        size_t rlen)
{
	char *abs;
	if (!*value) {
		snprintf(reason, rlen, "empty value");
		return -1;
	}
	if (cfgval_path(value, base_dir, &abs, reason, rlen) < 0)
		return -1;
	free(*out);
	*out = abs;
	return 0;
}

/* "id:codec, id:codec": the id is everything before the last ':' (ALPN ids
 * such as "http/1.1" hold no ':' in practice, but a codec name never does). */
static int tlsconf_alpn(struct tls_settings *ts, const char *value, char *reason, size_t rlen)
{
	char **items;
	size_t n;
	if (cfgval_list(value, &items, &n, reason, rlen) < 0)
		return -1;
	char **ids = calloc(n + 1, sizeof(*ids)), **codecs = calloc(n + 1, sizeof(*codecs));
	if (!ids || !codecs)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		char *colon = strrchr(items[i], ':');
		if (!colon || colon == items[i] || !colon[1]) {
			snprintf(reason, rlen, "'%s' is not PROTOCOL:CODEC (e.g. http/1.1:http1)",
			         items[i]);
			goto fail;
		}
		if (colon - items[i] > 255) {
			snprintf(reason, rlen, "ALPN id '%.*s...' is longer than 255 bytes", 20,
			         items[i]);
			goto fail;
		}
		*colon = '\0';
		if (!(ids[i] = strdup(items[i])) || !(codecs[i] = strdup(colon + 1)))
			goto oom;
	}
	cfgval_list_free(items);
	cfgval_list_free(ts->alpn_ids);
	cfgval_list_free(ts->alpn_codecs);
	ts->alpn_ids = ids;
	ts->alpn_codecs = codecs;
	ts->n_alpn = n;
	return 0;
oom:
	snprintf(reason, rlen, "out of memory");
fail:
	cfgval_list_free(items);
	cfgval_list_free(ids);
	cfgval_list_free(codecs);
	return -1;
}

int tlsconf_key(struct tls_settings **tsp, const char *key, const char *value, const char *file,
                int line, const char *base_dir, char *reason, size_t rlen)
{
	if (!*tsp && !(*tsp = tlsconf_new())) {
		snprintf(reason, rlen, "out of memory");
		return -1;
	}
	struct tls_settings *ts = *tsp;
	struct tls_where at = {file, line};
	if (!ts->at_tls.file)
		ts->at_tls = at; /* the first tls key: where "tls = on" is missing */
	if (strcmp(key, "tls") == 0) {
		ts->at_tls = at;
		return cfgval_bool(value, &ts->enabled, reason, rlen);
	}
	if (strcmp(key, "tls_certificate") == 0) {
		ts->at_certs = at;
		if (tlsconf_paths(value, base_dir, &ts->certs, &ts->n_certs, reason, rlen) < 0)
			return -1;
		if (ts->n_certs % 2) {
			snprintf(
			    reason, rlen,
			    "expected pairs of files: CERT.pem KEY.pem [CERT2.pem KEY2.pem ...]");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "tls_ocsp_response") == 0) {
		ts->at_ocsp = at;
		return tlsconf_paths(value, base_dir, &ts->ocsp, &ts->n_ocsp, reason, rlen);
	}
	if (strcmp(key, "tls_priority") == 0) {
		ts->at_priority = at;
		if (!*value) {
			snprintf(reason, rlen, "empty value");
			return -1;
		}
		free(ts->priority);
		if (!(ts->priority = strdup(value))) {
			snprintf(reason, rlen, "out of memory");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "tls_alpn") == 0) {
		ts->at_alpn = at;
		return tlsconf_alpn(ts, value, reason, rlen);
	}
	if (strcmp(key, "tls_alpn_required") == 0)
		return cfgval_bool(value, &ts->alpn_required, reason, rlen);
	if (strcmp(key, "tls_tickets") == 0)
		return cfgval_bool(value, &ts->tickets, reason, rlen);
	if (strcmp(key, "tls_ticket_rotate") == 0) {
		if (cfgval_duration_ms(value, &ts->ticket_rotate_ms, reason, rlen) < 0)
			return -1;
		if (ts->ticket_rotate_ms < 3000 || ts->ticket_rotate_ms > 7ull * 24 * 3600 * 1000) {
			snprintf(reason, rlen, "must be between 3s and 7d");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "tls_client_ca") == 0) {
		ts->at_ca = at;
		return tlsconf_path(value, base_dir, &ts->client_ca, reason, rlen);
	}
	if (strcmp(key, "tls_client_crl") == 0) {
		ts->at_crl = at;
		return tlsconf_path(value, base_dir, &ts->client_crl, reason, rlen);
	}
	if (strcmp(key, "tls_verify_client") == 0) {
		if (strcasecmp(value, "off") == 0 || strcasecmp(value, "no") == 0)
			ts->verify_client = TLS_VERIFY_OFF;
		else if (strcasecmp(value, "optional") == 0)
			ts->verify_client = TLS_VERIFY_OPTIONAL;
		else if (strcasecmp(value, "require") == 0 || strcasecmp(value, "required") == 0)
			ts->verify_client = TLS_VERIFY_REQUIRE;
		else {
			snprintf(reason, rlen, "'%s' is not one of off, optional, require", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "tls_handshake_timeout") == 0) {
		if (cfgval_duration_ms(value, &ts->handshake_timeout_ms, reason, rlen) < 0)
			return -1;
		if (ts->handshake_timeout_ms == 0) {
			snprintf(reason, rlen, "must be more than 0");
			return -1;
		}
		return 0;
	}
	snprintf(reason, rlen, "unknown TLS key '%s'", key);
	return -1;
}

int tlsconf_check(struct tls_settings *ts, const char *listener, const char *file, int line,
                  char *err, size_t errlen)
{
	if (!ts || !ts->enabled)
		return 0; /* tls = off (or absent): the other keys are kept, unused */
	if (ts->n_certs == 0) {
		snprintf(err, errlen,
		         "%s:%d: listener '%s': tls = on needs tls_certificate = CERT.pem KEY.pem",
		         ts->at_tls.file ? ts->at_tls.file : file,
		         ts->at_tls.file ? ts->at_tls.line : line, listener);
		return -1;
	}
	if (ts->verify_client != TLS_VERIFY_OFF && !ts->client_ca) {
		snprintf(err, errlen,
		         "%s:%d: listener '%s': tls_verify_client needs tls_client_ca (the CA file "
		         "that signs client certificates)",
		         ts->at_tls.file, ts->at_tls.line, listener);
		return -1;
	}
	if ((ts->client_ca || ts->client_crl) && ts->verify_client == TLS_VERIFY_OFF) {
		const struct tls_where *w = ts->client_ca ? &ts->at_ca : &ts->at_crl;
		snprintf(err, errlen,
		         "%s:%d: listener '%s': %s is set but tls_verify_client is off (set it to "
		         "optional or require)",
		         w->file, w->line, listener,
		         ts->client_ca ? "tls_client_ca" : "tls_client_crl");
		return -1;
	}
	if (ts->client_crl && !ts->client_ca) {
		snprintf(err, errlen, "%s:%d: listener '%s': tls_client_crl needs tls_client_ca",
		         ts->at_crl.file, ts->at_crl.line, listener);
		return -1;
	}
	if (ts->alpn_required && ts->n_alpn == 0) {
		snprintf(
		    err, errlen,
		    "%s:%d: listener '%s': tls_alpn_required needs tls_alpn = PROTOCOL:CODEC, ...",
		    ts->at_tls.file, ts->at_tls.line, listener);
		return -1;
	}
	return 0;
}

void tlsconf_free_settings(struct tls_settings *ts)
{
	if (!ts)
		return;
	cfgval_list_free(ts->certs);
	cfgval_list_free(ts->ocsp);
	free(ts->priority);
	cfgval_list_free(ts->alpn_ids);
	cfgval_list_free(ts->alpn_codecs);
	free(ts->client_ca);
	free(ts->client_crl);
	free(ts);
}

/* ---- building the credentials ---------------------------------------------- */

/* "file:line: listener 'x': " then the message, into err. */
static int tlsconf_fail(char *err, size_t errlen, const struct tls_where *w, const char *listener,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int tlsconf_fail(char *err, size_t errlen, const struct tls_where *w, const char *listener,
                        const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%d: listener '%s': %s", w->file, w->line, listener, msg);
	return -1;
}

/* Why path cannot be loaded: the system's reason when it cannot be opened,
 * else GnuTLS's. */
static const char *tlsconf_why(const char *path, int gnutls_err)
{
	if (access(path, R_OK) < 0)
		return strerror(errno);
	if (gnutls_err == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		return "the private key does not match the certificate";
	return gnutls_strerror(gnutls_err);
}

/* Warn (not fail) about a certificate outside its validity period: a
 * server with an expired certificate is still better than none. */
static void tlsconf_check_dates(const char *listener, const char *path,
                                gnutls_certificate_credentials_t cred, unsigned idx)
{
	gnutls_datum_t der;
	gnutls_x509_crt_t crt;
	if (gnutls_certificate_get_crt_raw(cred, idx, 0, &der) < 0 ||
	    gnutls_x509_crt_init(&crt) < 0)
		return;
	if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) == 0) {
		time_t now = time(NULL);
		if (gnutls_x509_crt_get_expiration_time(crt) < now)
			log_warn("listener '%s': certificate %s has expired", listener, path);
		else if (gnutls_x509_crt_get_activation_time(crt) > now)
			log_warn("listener '%s': certificate %s is not valid yet", listener, path);
	}
	gnutls_x509_crt_deinit(crt);
}

static int tlsconf_load_certs(struct tls_listener *tl, char *err, size_t errlen)
{
	const struct tls_settings *ts = tl->ts;
	for (size_t i = 0; i + 1 < ts->n_certs; i += 2) {
		int r = gnutls_certificate_set_x509_key_file2(
		    tl->cred, ts->certs[i], ts->certs[i + 1], GNUTLS_X509_FMT_PEM, NULL, 0);
		if (r < 0) {
			const char *bad = access(ts->certs[i], R_OK) < 0       ? ts->certs[i]
			                  : access(ts->certs[i + 1], R_OK) < 0 ? ts->certs[i + 1]
			                                                       : NULL;
			if (bad)
				return tlsconf_fail(err, errlen, &ts->at_certs, tl->name,
				                    "tls_certificate: cannot read %s: %s", bad,
				                    strerror(errno));
			return tlsconf_fail(err, errlen, &ts->at_certs, tl->name,
			                    "tls_certificate: cannot load %s with key %s: %s",
			                    ts->certs[i], ts->certs[i + 1],
			                    tlsconf_why(ts->certs[i], r));
		}
		tlsconf_check_dates(tl->name, ts->certs[i], tl->cred, (unsigned)r);
	}
	return 0;
}

/* Each OCSP response belongs to one of the certificates: try them in turn. */
static int tlsconf_load_ocsp(struct tls_listener *tl, char *err, size_t errlen)
{
	const struct tls_settings *ts = tl->ts;
	for (size_t i = 0; i < ts->n_ocsp; i++) {
		int r = GNUTLS_E_OCSP_MISMATCH_WITH_CERTS;
		for (unsigned idx = 0;
		     idx < ts->n_certs / 2 && r == GNUTLS_E_OCSP_MISMATCH_WITH_CERTS; idx++)
			r = gnutls_certificate_set_ocsp_status_request_file2(
			    tl->cred, ts->ocsp[i], idx, GNUTLS_X509_FMT_DER);
		if (r == GNUTLS_E_OCSP_MISMATCH_WITH_CERTS)
			return tlsconf_fail(err, errlen, &ts->at_ocsp, tl->name,
			                    "tls_ocsp_response: %s is for none of the certificates",
			                    ts->ocsp[i]);
		if (r < 0)
			return tlsconf_fail(err, errlen, &ts->at_ocsp, tl->name,
			                    "tls_ocsp_response: cannot load %s: %s", ts->ocsp[i],
			                    tlsconf_why(ts->ocsp[i], r));
	}
	return 0;
}

static int tlsconf_load_client_ca(struct tls_listener *tl, char *err, size_t errlen)
{
	const struct tls_settings *ts = tl->ts;
	if (!ts->client_ca)
		return 0;
	int r =
	    gnutls_certificate_set_x509_trust_file(tl->cred, ts->client_ca, GNUTLS_X509_FMT_PEM);
	if (r <= 0)
		return tlsconf_fail(err, errlen, &ts->at_ca, tl->name,
		                    "tls_client_ca: cannot load %s: %s", ts->client_ca,
		                    r == 0 ? "no certificate in the file"
		                           : tlsconf_why(ts->client_ca, r));
	if (!ts->client_crl)
		return 0;
	r = gnutls_certificate_set_x509_crl_file(tl->cred, ts->client_crl, GNUTLS_X509_FMT_PEM);
	if (r <= 0)
		return tlsconf_fail(err, errlen, &ts->at_crl, tl->name,
		                    "tls_client_crl: cannot load %s: %s", ts->client_crl,
		                    r == 0 ? "no CRL in the file (or not signed by tls_client_ca)"
		                           : tlsconf_why(ts->client_crl, r));
	return 0;
}

static int tlsconf_load_alpn(struct tls_listener *tl, const struct generation *gen, char *err,
                             size_t errlen)
{
	const struct tls_settings *ts = tl->ts;
	if (ts->n_alpn == 0)
		return 0;
	tl->alpn = calloc(ts->n_alpn, sizeof(*tl->alpn));
	tl->alpn_codec = calloc(ts->n_alpn, sizeof(*tl->alpn_codec));
	if (!tl->alpn || !tl->alpn_codec)
		return tlsconf_fail(err, errlen, &ts->at_alpn, tl->name, "out of memory");
	for (size_t i = 0; i < ts->n_alpn; i++) {
		struct mh_module *m = modules_find(gen->mods, ts->alpn_codecs[i]);
		if (!m || !(m->desc->roles & MH_ROLE_CODEC))
			return tlsconf_fail(err, errlen, &ts->at_alpn, tl->name,
			                    "tls_alpn: module '%s' is not a codec",
			                    ts->alpn_codecs[i]);
		tl->alpn[i].data = (unsigned char *)ts->alpn_ids[i];
		tl->alpn[i].size = (unsigned)strlen(ts->alpn_ids[i]);
		tl->alpn_codec[i] = m;
	}
	tl->n_alpn = ts->n_alpn;
	return 0;
}

static void tlsconf_free_listener(struct tls_listener *tl)
{
	if (!tl)
		return;
	if (tl->cred)
		gnutls_certificate_free_credentials(tl->cred);
	if (tl->prio)
		gnutls_priority_deinit(tl->prio);
	free(tl->alpn);
	free(tl->alpn_codec);
	free(tl);
}

static int tlsconf_build_one(const struct generation *gen, const struct listener_settings *ls,
                             struct tls_listener **out, char *err, size_t errlen)
{
	const struct tls_settings *ts = ls->tls;
	struct tls_listener *tl = calloc(1, sizeof(*tl));
	const char *errpos = NULL;
	*out = tl;
	if (!tl || gnutls_certificate_allocate_credentials(&tl->cred) < 0) {
		snprintf(err, errlen, "%s:%d: listener '%s': out of memory", ls->file, ls->line,
		         ls->name);
		return -1;
	}
	tl->name = ls->name;
	tl->ts = ts;
	gnutls_certificate_set_flags(tl->cred,
	                             GNUTLS_CERTIFICATE_API_V2 | GNUTLS_CERTIFICATE_VERIFY_CRLS);
	if (tlsconf_load_certs(tl, err, errlen) < 0 || tlsconf_load_ocsp(tl, err, errlen) < 0 ||
	    tlsconf_load_client_ca(tl, err, errlen) < 0 ||
	    tlsconf_load_alpn(tl, gen, err, errlen) < 0)
		return -1;
	/* Only used if an operator's priority string enables DHE. */
	gnutls_certificate_set_known_dh_params(tl->cred, GNUTLS_SEC_PARAM_MEDIUM);
	if (ts->verify_client != TLS_VERIFY_OFF)
		gnutls_certificate_set_verify_function(tl->cred, tls_verify_client_cb);
	const char *prio = ts->priority ? ts->priority : TLS_DEFAULT_PRIORITY;
	int r = gnutls_priority_init(&tl->prio, prio, &errpos);
	if (r < 0) {
		struct tls_where w = ts->at_priority.file ? ts->at_priority : ts->at_tls;
		tl->prio = NULL;
		return tlsconf_fail(err, errlen, &w, tl->name, "bad tls_priority: %s%s%.40s%s",
		                    gnutls_strerror(r), errpos ? " at '" : "", errpos ? errpos : "",
		                    errpos ? "'" : "");
	}
	uint64_t expire = ts->ticket_rotate_ms / 3000;
	tl->expire_s = expire < 1 ? 1 : (unsigned)expire;
	if (ts->tickets && !tlsconf_stek.data &&
	    gnutls_session_ticket_key_generate(&tlsconf_stek) < 0) {
		tlsconf_stek.data = NULL;
		snprintf(err, errlen, "listener '%s': cannot make the session-ticket key",
		         ls->name);
		return -1;
	}
	return 0;
}

int tlsconf_build(struct generation *gen, char *err, size_t errlen)
{
	const struct config *cfg = gen->cfg;
	gen->tls = calloc(cfg->n_listeners + 1, sizeof(*gen->tls));
	if (!gen->tls) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->n_listeners; i++) {
		const struct listener_settings *ls = &cfg->listeners[i];
		if (!ls->tls || !ls->tls->enabled)
			continue;
		if (tlsconf_build_one(gen, ls, &gen->tls[i], err, errlen) < 0) {
			tlsconf_free(gen);
			return -1;
		}
	}
	return 0;
}

void tlsconf_free(struct generation *gen)
{
	if (!gen->tls)
		return;
	for (size_t i = 0; i < gen->cfg->n_listeners; i++)
		tlsconf_free_listener(gen->tls[i]);
	free(gen->tls);
	gen->tls = NULL;
}
