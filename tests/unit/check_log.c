/* tests/unit/check_log.c — Check suite for the host's log (host/log.c):
 * level and format names, the text, logfmt and JSON line formats with
 * their escaping and truncation, and writing to files (reopened on
 * request).  Each test writes into a scratch folder from
 * tests/unit/scratch.c, removed after the test case. */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "log.h"
#include "scratch.h"

/* Read the whole file; the caller frees. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int c;

	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* Split buf into lines in place (each ended by '\n'); returns the count. */
static int split_lines(char *buf, char **lines, int max)
{
	int n = 0;
	for (char *p = buf; *p && n < max;) {
		char *nl = strchr(p, '\n');
		ck_assert_msg(nl != NULL, "line without newline: %s", p);
		*nl = '\0';
		lines[n++] = p;
		p = nl + 1;
	}
	return n;
}

static void assert_match(const char *re, const char *s)
{
	regex_t rx;
	ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_msg(regexec(&rx, s, 0, NULL, 0) == 0, "'%s' does not match /%s/", s, re);
	regfree(&rx);
}

static char *log_path(const char *dir, const char *name)
{
	char *p;
	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static void open_log(const char *path, int level, int format)
{
	char err[256] = "";
	ck_assert_msg(log_open(path, level, format, err, sizeof(err)) == 0, "%s", err);
}

#define TS_RE "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

/* A small JSON reader for one flat object of strings and integers:
 * returns the number of members, or -1 if s is not exactly such an object.
 * The decoded value of member `want` goes to out. */
static int json_string(const char **pp, char *out, size_t outlen)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p++ != '"')
		return -1;
	while (*p != '"') {
		unsigned cp;
		if ((unsigned char)*p < 0x20)
			return -1; /* raw control characters are not allowed */
		if (*p != '\\') {
			cp = (unsigned char)*p++;
			if (n + 1 < outlen)
				out[n++] = (char)cp;
			continue;
		}
		p++;
		switch (*p++) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (sscanf(p, "%4x", &cp) != 1)
				return -1;
			p += 4;
			break;
		default: return -1;
		}
		char enc[4];
		size_t el;
		if (cp < 0x80) {
			enc[0] = (char)cp;
			el = 1;
		} else if (cp < 0x800) {
			enc[0] = (char)(0xc0 | (cp >> 6));
			enc[1] = (char)(0x80 | (cp & 0x3f));
			el = 2;
		} else {
			enc[0] = (char)(0xe0 | (cp >> 12));
			enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			enc[2] = (char)(0x80 | (cp & 0x3f));
			el = 3;
		}
		for (size_t i = 0; i < el && n + 1 < outlen; i++)
			out[n++] = enc[i];
	}
	if (outlen)
		out[n] = '\0';
	*pp = p + 1;
	return 0;
}

static int json_object(const char *s, const char *want, char *out, size_t outlen)
{
	const char *p = s;
	int n = 0;
	char key[64], val[8192];

	if (*p++ != '{')
		return -1;
	for (;;) {
		if (json_string(&p, key, sizeof(key)) < 0 || *p++ != ':')
			return -1;
		if (*p == '"') {
			if (json_string(&p, val, sizeof(val)) < 0)
				return -1;
		} else {
			size_t k = 0;
			if (*p == '-')
				val[k++] = *p++;
			if (*p < '0' || *p > '9')
				return -1;
			while (*p >= '0' && *p <= '9' && k + 1 < sizeof(val))
				val[k++] = *p++;
			val[k] = '\0';
		}
		if (want && strcmp(key, want) == 0)
			snprintf(out, outlen, "%s", val);
		n++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p++ != '}' || *p != '\0')
			return -1;
		return n;
	}
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80             ? 0
		        : (*p & 0xe0) == 0xc0 ? 1
		        : (*p & 0xf0) == 0xe0 ? 2
		        : (*p & 0xf8) == 0xf0 ? 3
		                              : -1;
		if (n < 0)
			return 0;
		p++;
		for (int i = 0; i < n; i++, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

START_TEST(test_log_parse)
{
	ck_assert_int_eq(log_level_parse("error"), MH_LOG_ERROR);
	ck_assert_int_eq(log_level_parse("warn"), MH_LOG_WARN);
	ck_assert_int_eq(log_level_parse("info"), MH_LOG_INFO);
	ck_assert_int_eq(log_level_parse("DEBUG"), MH_LOG_DEBUG);
	ck_assert_int_eq(log_level_parse("trace"), -1);
	ck_assert_int_eq(log_format_parse("text"), LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_format_parse("logfmt"), LOG_FORMAT_LOGFMT);
	ck_assert_int_eq(log_format_parse("json"), LOG_FORMAT_JSON);
	ck_assert_int_eq(log_format_parse("xml"), -1);
	/* Before log_open: info and up. */
	ck_assert(log_enabled(MH_LOG_INFO));
	ck_assert(!log_enabled(MH_LOG_DEBUG));
}
END_TEST

START_TEST(test_log_text)
{
	char *dir = scratch_case_dir(), *path = log_path(dir, "text.log");
	char *buf, *lines[8], re[512];
	int pid = (int)getpid();

	open_log(path, MH_LOG_INFO, LOG_FORMAT_TEXT);
	log_set_process("worker", 3);
	log_write(MH_LOG_INFO, "echo", "hello %d", 42);
	log_debug("not shown at info");
	log_write(MH_LOG_DEBUG, NULL, "not shown either");
	log_set_process("master", -1);
	log_error("two\nlines\tand \"quotes\"");
	log_warn("warned");
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);

	buf = slurp(path);
	ck_assert_int_eq(split_lines(buf, lines, 8), 3);
	snprintf(re, sizeof(re), "^" TS_RE " INFO worker\\.3\\[%d\\]: module echo: hello 42$", pid);
	assert_match(re, lines[0]);
	snprintf(re, sizeof(re),
	         "^" TS_RE " ERROR master\\[%d\\]: two\\\\nlines\\\\tand \"quotes\"$", pid);
	assert_match(re, lines[1]);
	snprintf(re, sizeof(re), "^" TS_RE " WARN master\\[%d\\]: warned$", pid);
	assert_match(re, lines[2]);
	free(buf);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_log_logfmt)
{
	char *dir = scratch_case_dir(), *path = log_path(dir, "logfmt.log");
	char *buf, *lines[8], re[512];
	int pid = (int)getpid();

	open_log(path, MH_LOG_DEBUG, LOG_FORMAT_LOGFMT);
	log_set_process("worker", 1);
	log_write(MH_LOG_INFO, "echo", "say \"hi\" \\ done\nnext");
	log_debug("plain");
	log_write(MH_LOG_WARN, "odd name", "m");
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);

	buf = slurp(path);
	ck_assert_int_eq(split_lines(buf, lines, 8), 3);
	snprintf(re, sizeof(re),
	         "^ts=" TS_RE " level=info proc=worker\\.1 pid=%d module=echo "
	         "msg=\"say \\\\\"hi\\\\\" \\\\\\\\ done\\\\nnext\"$",
	         pid);
	assert_match(re, lines[0]);
	snprintf(re, sizeof(re), "^ts=" TS_RE " level=debug proc=worker\\.1 pid=%d msg=\"plain\"$",
	         pid);
	assert_match(re, lines[1]);
	snprintf(re, sizeof(re),
	         "^ts=" TS_RE " level=warn proc=worker\\.1 pid=%d module=\"odd name\" msg=\"m\"$",
	         pid);
	assert_match(re, lines[2]);
	free(buf);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_log_json)
{
	char *dir = scratch_case_dir(), *path = log_path(dir, "json.log");
	char *buf, *lines[8], val[8192], pidstr[32];
	const char *msg = "q\"b\\s/n\nt\tc\x01 caf\xc3\xa9 \xe2\x82\xac";

	open_log(path, MH_LOG_INFO, LOG_FORMAT_JSON);
	log_set_process("single", -1);
	log_write(MH_LOG_INFO, "echo", "%s", msg);
	log_error("bad byte \xff here");
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);

	buf = slurp(path);
	ck_assert_int_eq(split_lines(buf, lines, 8), 2);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)getpid());

	ck_assert_int_eq(json_object(lines[0], "msg", val, sizeof(val)), 6);
	ck_assert_str_eq(val, msg);
	json_object(lines[0], "level", val, sizeof(val));
	ck_assert_str_eq(val, "info");
	json_object(lines[0], "proc", val, sizeof(val));
	ck_assert_str_eq(val, "single");
	json_object(lines[0], "pid", val, sizeof(val));
	ck_assert_str_eq(val, pidstr);
	json_object(lines[0], "module", val, sizeof(val));
	ck_assert_str_eq(val, "echo");
	json_object(lines[0], "ts", val, sizeof(val));
	assert_match("^" TS_RE "$", val);
	/* Field order is fixed: ts, level, proc, pid, module, msg. */
	assert_match("^\\{\"ts\":\"[^\"]+\",\"level\":\"info\",\"proc\":\"single\",\"pid\":[0-9]+,"
	             "\"module\":\"echo\",\"msg\":\"",
	             lines[0]);

	/* No module member without a module; invalid UTF-8 becomes U+FFFD. */
	ck_assert_int_eq(json_object(lines[1], "msg", val, sizeof(val)), 5);
	ck_assert_str_eq(val, "bad byte \xef\xbf\xbd here");
	ck_assert(utf8_valid(lines[1]));
	free(buf);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_log_truncate)
{
	char *dir = scratch_case_dir(), *path = log_path(dir, "long.log");
	char *buf, *lines[8], *val = malloc(8192);
	char *big = malloc(10001), *wide = malloc(3 * 3000 + 1);

	memset(big, 'x', 10000);
	big[10000] = '\0';
	for (int i = 0; i < 3000; i++)
		memcpy(wide + 3 * i, "\xe2\x82\xac", 3); /* the euro sign */
	wide[9000] = '\0';

	for (int format = LOG_FORMAT_TEXT; format <= LOG_FORMAT_JSON; format++) {
		open_log(path, MH_LOG_INFO, format);
		log_write(MH_LOG_INFO, "m", "%s", big);
		log_write(MH_LOG_INFO, "m", "%s", wide);
	}
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);
	buf = slurp(path);
	ck_assert_int_eq(split_lines(buf, lines, 8), 6);
	for (int i = 0; i < 6; i++) {
		size_t len = strlen(lines[i]);
		ck_assert_uint_le(len + 1, 4096);
		ck_assert_uint_gt(len, 3900);
		ck_assert(utf8_valid(lines[i]));
	}
	ck_assert_str_eq(lines[0] + strlen(lines[0]) - 4, "x...");
	ck_assert_str_eq(lines[2] + strlen(lines[2]) - 5, "x...\"");
	for (int i = 4; i < 6; i++) {
		ck_assert_int_eq(json_object(lines[i], "msg", val, 8192), 6);
		ck_assert_str_eq(val + strlen(val) - 3, "...");
		ck_assert(utf8_valid(val));
	}
	free(val);
	free(big);
	free(wide);
	free(buf);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_log_files)
{
	char *dir = scratch_case_dir(), *path = log_path(dir, "r.log");
	char *rotated = log_path(dir, "r.log.1");
	char *buf, err[512];
	struct stat st;

	umask(022);
	open_log(path, MH_LOG_INFO, LOG_FORMAT_TEXT);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	log_info("first");

	/* A failed open keeps the old target. */
	ck_assert_int_eq(
	    log_open("/nonexistent-mh-dir/x.log", MH_LOG_DEBUG, LOG_FORMAT_JSON, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "cannot open log file /nonexistent-mh-dir/x.log: No such file or "
	                      "directory");
	ck_assert(!log_enabled(MH_LOG_DEBUG));
	log_info("second");

	/* Rotation: rename, reopen, and new lines go to the new file. */
	ck_assert_int_eq(rename(path, rotated), 0);
	ck_assert_int_eq(log_reopen(), 0);
	log_info("third");
	open_log("stderr", MH_LOG_INFO, LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_reopen(), 0); /* stderr: nothing to do */

	buf = slurp(rotated);
	ck_assert_ptr_nonnull(strstr(buf, ": first\n"));
	ck_assert_ptr_nonnull(strstr(buf, ": second\n"));
	ck_assert_ptr_null(strstr(buf, "third"));
	free(buf);
	buf = slurp(path);
	ck_assert_ptr_nonnull(strstr(buf, ": third\n"));
	ck_assert_ptr_null(strstr(buf, "first"));
	free(buf);

	/* Appending: reopening keeps what is there. */
	open_log(path, MH_LOG_INFO, LOG_FORMAT_TEXT);
	log_info("fourth");
	open_log(NULL, MH_LOG_INFO, LOG_FORMAT_TEXT);
	buf = slurp(path);
	ck_assert_ptr_nonnull(strstr(buf, ": third\n"));
	ck_assert_ptr_nonnull(strstr(buf, ": fourth\n"));
	free(buf);
	free(path);
	free(rotated);
	free(dir);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------------- */

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	tcase_add_unchecked_fixture(tc, scratch_case_setup, scratch_case_teardown);
	tcase_add_test(tc, test_log_parse);
	tcase_add_test(tc, test_log_text);
	tcase_add_test(tc, test_log_logfmt);
	tcase_add_test(tc, test_log_json);
	tcase_add_test(tc, test_log_truncate);
	tcase_add_test(tc, test_log_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return unit_run(log_suite());
}
