/* bench/tls-load.c — TLS load generator for bench/tls-bench.sh: full or
 * resumed handshakes per second, bulk lenprefix echo through TLS, or idle
 * TLS connections held open.  One thread, non-blocking GnuTLS sessions
 * multiplexed with poll(2); the server's certificate is not verified (the
 * client's own CPU is not what is measured).
 *
 *   tls-load --port P --handshakes [--resume] [-c 16] [-d 5]
 *   tls-load --port P --bulk [-c 4] [-s 65536] [-P 4] [-d 5]
 *   tls-load --port P --idle N [-c 16] [--hold S]
 *
 * --idle opens N connections with at most -c handshakes in progress at a
 * time (a server holding idle connections is not one in the middle of N
 * handshakes at once), then holds them, printing {"ready":true} when all
 * are established.
 *
 * Prints one line of JSON.  Exit 1 on any error (a failed handshake, an
 * echo that does not match). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

enum mode { M_HANDSHAKES, M_BULK, M_IDLE };
enum step { S_HANDSHAKE, S_BYE, S_DRAIN, S_ECHO, S_IDLE };

struct slot {
	int fd;
	gnutls_session_t s;
	int step;
	gnutls_datum_t ticket; /* --resume: session data from the first handshake */
	size_t sent_off;       /* bulk: bytes of the current frame sent */
	size_t want;           /* bulk: reply bytes still expected */
	int inflight;
	int started; /* the first ClientHello went out (until then: wait for connect) */
};

static struct {
	int mode, port, conns, depth, resume;
	size_t size;
	double secs, hold;
	unsigned idle;
	const char *prio;
} opt = {.mode = M_HANDSHAKES,
         .conns = 16,
         .depth = 4,
         .size = 65536,
         .secs = 5,
         .hold = 3600,
         .prio = "NORMAL:-VERS-ALL:+VERS-TLS1.3"};

static gnutls_certificate_credentials_t cred;
static uint64_t handshakes, resumed, bytes_echoed, errors;
static unsigned char *frame; /* bulk: 4-byte length + payload */
static volatile sig_atomic_t stop;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int slot_connect(struct slot *sl)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sl->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (sl->fd < 0)
		return -1;
	int one = 1;
	setsockopt(sl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(sl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return -1;
	gnutls_init(&sl->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	if (gnutls_priority_set_direct(sl->s, opt.prio, NULL) < 0)
		return -1;
	gnutls_credentials_set(sl->s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_server_name_set(sl->s, GNUTLS_NAME_DNS, "localhost", 9);
	if (opt.resume && sl->ticket.data)
		gnutls_session_set_data(sl->s, sl->ticket.data, sl->ticket.size);
	gnutls_transport_set_int(sl->s, sl->fd);
	sl->step = S_HANDSHAKE;
	sl->sent_off = sl->want = 0;
	sl->inflight = 0;
	sl->started = 0;
	return 0;
}

static void slot_close(struct slot *sl)
{
	if (sl->s)
		gnutls_deinit(sl->s);
	if (sl->fd >= 0)
		close(sl->fd);
	sl->s = NULL;
	sl->fd = -1;
}

/* A handshake connection is done (or failed): open the next one. */
static void slot_again(struct slot *sl, int failed)
{
	if (failed)
		errors++;
	slot_close(sl);
	if (!stop && slot_connect(sl) < 0)
		errors++;
}

/* --resume: keep the session of the first connection once the server's
 * ticket is in (TLS 1.3 sends it after the handshake; a server that then
 * closes without close_notify would make GnuTLS drop the session). */
static void slot_save_ticket(struct slot *sl)
{
	if (!opt.resume || sl->ticket.data)
		return;
	if (gnutls_protocol_get_version(sl->s) == GNUTLS_TLS1_3 &&
	    !(gnutls_session_get_flags(sl->s) & GNUTLS_SFLAGS_SESSION_TICKET))
		return;
	if (gnutls_session_get_data2(sl->s, &sl->ticket) < 0 || sl->ticket.size == 0) {
		gnutls_free(sl->ticket.data);
		sl->ticket.data = NULL;
	}
}

/* Bulk: send frames while fewer than depth are in flight, read replies. */
static int slot_bulk(struct slot *sl)
{
	unsigned char buf[65536];
	for (;;) {
		if (sl->inflight < opt.depth) {
			ssize_t r = gnutls_record_send(sl->s, frame + sl->sent_off,
			                               opt.size + 4 - sl->sent_off);
			if (r > 0) {
				sl->sent_off += (size_t)r;
				if (sl->sent_off == opt.size + 4) {
					sl->sent_off = 0;
					sl->inflight++;
					sl->want += opt.size + 4;
				}
				continue;
			}
			if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
				return -1;
		}
		ssize_t r = gnutls_record_recv(sl->s, buf, sizeof(buf));
		if (r > 0) {
			size_t n = (size_t)r;
			bytes_echoed += n;
			if (n > sl->want)
				return -1;
			sl->want -= n;
			/* Replies are whole frames in order: in-flight count follows. */
			sl->inflight = (int)((sl->want + opt.size + 3) / (opt.size + 4));
			continue;
		}
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return 0;
		return -1;
	}
}

static void slot_step(struct slot *sl)
{
	int r;
	switch (sl->step) {
	case S_HANDSHAKE:
		sl->started = 1;
		r = gnutls_handshake(sl->s);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return;
		if (r < 0) {
			fprintf(stderr, "tls-load: handshake: %s\n", gnutls_strerror(r));
			slot_again(sl, 1);
			return;
		}
		handshakes++;
		if (gnutls_session_is_resumed(sl->s))
			resumed++;
		slot_save_ticket(sl);
		if (opt.mode == M_BULK) {
			sl->step = S_ECHO;
			slot_step(sl);
		} else if (opt.mode == M_IDLE) {
			sl->step = S_IDLE;
		} else {
			sl->step = S_BYE;
			slot_step(sl);
		}
		return;
	case S_BYE:
		r = gnutls_bye(sl->s, GNUTLS_SHUT_WR);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			return;
		sl->step = S_DRAIN;
		/* read the server's tickets and close_notify */
		__attribute__((fallthrough));
	case S_DRAIN: {
		unsigned char buf[4096];
		for (;;) {
			ssize_t n = gnutls_record_recv(sl->s, buf, sizeof(buf));
			slot_save_ticket(sl);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				return;
			if (n > 0)
				continue;
			break; /* 0: close_notify; < 0: the server just closed */
		}
		slot_again(sl, 0);
		return;
	}
	case S_ECHO:
		if (slot_bulk(sl) < 0) {
			fprintf(stderr, "tls-load: bulk echo failed\n");
			errors++;
			slot_close(sl);
			stop = 1;
		}
		return;
	default: return;
	}
}

static short slot_events(const struct slot *sl)
{
	if (sl->fd < 0)
		return 0;
	if (sl->step == S_IDLE)
		return POLLIN;
	if (sl->step == S_HANDSHAKE && !sl->started)
		return POLLOUT; /* connected: send the ClientHello */
	short ev = gnutls_record_get_direction(sl->s) ? POLLOUT : POLLIN;
	if (sl->step == S_ECHO && sl->inflight < opt.depth)
		ev |= POLLOUT;
	if (sl->step == S_ECHO)
		ev |= POLLIN;
	return ev;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: tls-load --port P (--handshakes [--resume] | --bulk | --idle N) "
	        "[-c CONNS] [-d SECS] [-s SIZE] [-P DEPTH] [--hold SECS] [--priority STR]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"port", 1, 0, 'p'},     {"handshakes", 0, 0, 'H'},
	    {"resume", 0, 0, 'r'},   {"bulk", 0, 0, 'b'},
	    {"idle", 1, 0, 'i'},     {"hold", 1, 0, 'h'},
	    {"priority", 1, 0, 'x'}, {0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:d:s:P:", lo, NULL)) != -1) {
		switch (c) {
		case 'p': opt.port = atoi(optarg); break;
		case 'H': opt.mode = M_HANDSHAKES; break;
		case 'r': opt.resume = 1; break;
		case 'b': opt.mode = M_BULK; break;
		case 'i':
			opt.mode = M_IDLE;
			opt.idle = (unsigned)atoi(optarg);
			break;
		case 'h': opt.hold = atof(optarg); break;
		case 'x': opt.prio = optarg; break;
		case 'c': opt.conns = atoi(optarg); break;
		case 'd': opt.secs = atof(optarg); break;
		case 's': opt.size = (size_t)atol(optarg); break;
		case 'P': opt.depth = atoi(optarg); break;
		default: usage();
		}
	}
	if (!opt.port || opt.conns < 1)
		usage();
	int batch = opt.conns; /* --idle: handshakes in progress at most */
	if (opt.mode == M_IDLE)
		opt.conns = (int)opt.idle;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);
	gnutls_global_init();
	gnutls_certificate_allocate_credentials(&cred);
	if (opt.mode == M_BULK) {
		frame = malloc(opt.size + 4);
		frame[0] = (unsigned char)(opt.size >> 24);
		frame[1] = (unsigned char)(opt.size >> 16);
		frame[2] = (unsigned char)(opt.size >> 8);
		frame[3] = (unsigned char)opt.size;
		for (size_t i = 0; i < opt.size; i++)
			frame[4 + i] = (unsigned char)i;
	}
	struct slot *slots = calloc((size_t)opt.conns, sizeof(*slots));
	struct pollfd *pfd = calloc((size_t)opt.conns, sizeof(*pfd));
	int opened = 0;
	for (int i = 0; i < opt.conns; i++)
		slots[i].fd = -1;
	for (; opened < opt.conns && (opt.mode != M_IDLE || opened < batch); opened++) {
		if (slot_connect(&slots[opened]) < 0) {
			fprintf(stderr, "tls-load: connect: %s\n", strerror(errno));
			return 1;
		}
	}
	double t0 = now_s(), end = t0 + (opt.mode == M_IDLE ? opt.hold : opt.secs);
	int idle_reported = 0;
	uint64_t hs0 = 0, bytes0 = 0;
	while (!stop && now_s() < end) {
		for (int i = 0; i < opt.conns; i++) {
			pfd[i].fd = slots[i].fd;
			pfd[i].events = slot_events(&slots[i]);
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)opt.conns, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < opt.conns; i++)
			if (pfd[i].revents && slots[i].fd >= 0) {
				if (slots[i].step == S_IDLE &&
				    (pfd[i].revents & (POLLHUP | POLLERR))) {
					errors++;
					slot_close(&slots[i]);
				} else if (slots[i].step != S_IDLE) {
					slot_step(&slots[i]);
				}
			}
		/* --idle: start as many handshakes as finished. */
		while (opt.mode == M_IDLE && opened < opt.conns &&
		       (uint64_t)opened - handshakes < (uint64_t)batch) {
			if (slot_connect(&slots[opened++]) < 0)
				errors++;
		}
		if (opt.mode == M_IDLE && !idle_reported && handshakes == opt.idle) {
			printf("{\"idle\":%u,\"ready\":true}\n", opt.idle);
			fflush(stdout);
			idle_reported = 1;
		}
		(void)hs0;
		(void)bytes0;
	}
	double took = now_s() - t0;
	if (opt.mode == M_IDLE) {
		printf("{\"idle\":%u,\"handshakes\":%llu,\"errors\":%llu}\n", opt.idle,
		       (unsigned long long)handshakes, (unsigned long long)errors);
	} else {
		printf("{\"secs\":%.3f,\"handshakes\":%llu,\"resumed\":%llu,\"hs_per_s\":%.1f,"
		       "\"bytes_echoed\":%llu,\"mb_per_s\":%.1f,\"errors\":%llu}\n",
		       took, (unsigned long long)handshakes, (unsigned long long)resumed,
		       (double)handshakes / took, (unsigned long long)bytes_echoed,
		       (double)bytes_echoed / took / 1e6, (unsigned long long)errors);
	}
	return errors ? 1 : 0;
}
