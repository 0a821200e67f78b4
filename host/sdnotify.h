/* host/sdnotify.h — telling a service manager how the daemon is doing:
 * systemd's notification protocol (sd_notify(3)), written here since it is
 * one datagram per state change.  With Type=notify in the unit, systemd
 * then knows when modhostd serves (READY=1), reloads (RELOADING=1) and
 * drains (STOPPING=1), and shows STATUS= in `systemctl status`.
 *
 * Only the master speaks: sdnotify_open takes NOTIFY_SOCKET out of the
 * environment (so that no child inherits it), and a forked worker calls
 * sdnotify_close.  Without NOTIFY_SOCKET every call does nothing. */
#ifndef MH_SDNOTIFY_H
#define MH_SDNOTIFY_H

/* Read and unset NOTIFY_SOCKET and open a socket for it.  An address this
 * cannot use is logged and ignored. */
void sdnotify_open(void);
void sdnotify_close(void);

/* The service is ready; status is a line for `systemctl status`. */
void sdnotify_ready(const char *status_fmt, ...) __attribute__((format(printf, 1, 2)));
/* A reload starts (READY follows when it is done, failed or not). */
void sdnotify_reloading(void);
/* The daemon drains and stops. */
void sdnotify_stopping(void);

#endif
