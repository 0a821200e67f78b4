/* host/master.h — the master process: builds generations, forks and
 * supervises workers, and turns signals into drain, reload and log reopen
 * (DESIGN.md §2). */
#ifndef MH_MASTER_H
#define MH_MASTER_H

/* Serve with the configuration at main_path until stopped.  Returns the
 * process exit code. */
int master_run(const char *main_path);

#endif
