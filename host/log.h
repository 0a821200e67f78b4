/* host/log.h — the host's structured log: levels, text/logfmt/json, stderr
 * or a file reopened on SIGUSR1.  Every process (master and workers) writes
 * whole lines with one write(2), so lines never interleave. */
#ifndef MH_LOG_H
#define MH_LOG_H

#include <stdarg.h>

#include "modhost-t.h"

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

/* Levels are the ABI's: MH_LOG_ERROR < WARN < INFO < DEBUG. */

/* Parse "error|warn|info|debug"; returns the level or -1. */
int log_level_parse(const char *s);
/* Parse "text|logfmt|json"; returns the format or -1. */
int log_format_parse(const char *s);

/* Direct output to path (NULL or "stderr" = stderr) with the given level and
 * format.  Returns 0, or -1 with a message in err (the old target stays). */
int log_open(const char *path, int level, int format, char *err, size_t errlen);
/* Reopen the current file (after rotation).  Returns 0 or -1. */
int log_reopen(void);
/* Name this process in every line: "master", "worker 3", "single". */
void log_set_process(const char *role, int worker_id);

int log_enabled(int level);

/* Write one line.  module may be NULL; it appears as module=NAME. */
void log_write(int level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vwrite(int level, const char *module, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define log_error(...) log_write(MH_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) log_write(MH_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) log_write(MH_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...)                                          \
	do {                                                    \
		if (log_enabled(MH_LOG_DEBUG))                  \
			log_write(MH_LOG_DEBUG, NULL, __VA_ARGS__); \
	} while (0)

#endif
