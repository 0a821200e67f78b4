/* host/pollctl.c — `busy_poll = auto`.  Polling with naps pays off when
 * many busy connections wait on a worker that is itself the bottleneck:
 * the naps gather their messages into batches and spare every peer the
 * cost of waking the worker, so more requests go through.  Under lighter
 * load it only costs CPU, and with a few connections each waiting for its
 * reply it costs latency.  Nothing the worker can see in one window tells
 * these apart, so it measures: every so often it spends a probe of a few
 * windows in the other mode and keeps whichever carried more bytes.
 * Polling must win by GAIN_PERCENT; blocking, the cheaper mode, only has to
 * keep up.  A probe that changes nothing doubles the gap to the next. */
#include "build-config.h"

#include <string.h>

#include "pollctl.h"

#define MIN_CONNS 8         /* batches need several peers */
#define MIN_UTIL 0.4        /* a worker idle more than this has nothing to gain */
#define GAIN_PERCENT 5
#define PROBE_WINDOWS 20
#define SETTLE_WINDOWS 3    /* after a switch, before a window counts */
#define INTERVAL_MIN 100    /* windows between probes, doubling up to ... */
#define INTERVAL_MAX 1600

void pollctl_init(struct pollctl *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->interval = INTERVAL_MIN;
	pc->until_probe = INTERVAL_MIN;
}

static void pollctl_switch(struct pollctl *pc)
{
	pc->engaged = !pc->engaged;
	pc->settle = SETTLE_WINDOWS;
}

/* The probe is over: keep its mode if it carried enough, else go back. */
static void pollctl_judge(struct pollctl *pc)
{
	double probed = pc->probe_sum / pc->probe_n;
	double need = pc->engaged ? 1.0 + GAIN_PERCENT / 100.0 : 1.0 - GAIN_PERCENT / 200.0;

	pc->probing = 0;
	if (probed >= pc->baseline * need) {
		pc->baseline = probed;
		pc->interval = INTERVAL_MIN;
	} else {
		pollctl_switch(pc);
		pc->interval = pc->interval * 2 > INTERVAL_MAX ? INTERVAL_MAX : pc->interval * 2;
	}
	pc->until_probe = pc->interval;
}

int pollctl_window(struct pollctl *pc, const struct pollctl_sample *s)
{
	if (!s->wall_us)
		return pc->engaged;
	double rate = (double)s->bytes_in / (double)s->wall_us;
	double util = (double)s->cpu_us / (double)s->wall_us;

	if (s->conns < MIN_CONNS) { /* block, and start over when load returns */
		pollctl_init(pc);
		return 0;
	}
	if (pc->settle) {
		pc->settle--;
		return pc->engaged;
	}
	if (pc->probing) {
		pc->probe_sum += rate;
		if (++pc->probe_n == PROBE_WINDOWS)
			pollctl_judge(pc);
		return pc->engaged;
	}
	pc->baseline = pc->baseline > 0 ? pc->baseline * 0.9 + rate * 0.1 : rate;
	if (pc->until_probe) {
		pc->until_probe--;
		return pc->engaged;
	}
	if (pc->engaged || util >= MIN_UTIL) {
		pollctl_switch(pc);
		pc->probing = 1;
		pc->probe_sum = 0;
		pc->probe_n = 0;
	}
	return pc->engaged;
}
