/* modules/lenprefix.c — the lenprefix codec: each message is a frame of a
 * 4-byte big-endian length followed by that many bytes of payload.
 *
 * A length over max_frame is refused from the header alone, before a byte of
 * its payload is waited for or allocated, so a peer cannot make us hold more
 * than max_frame + 4 bytes by declaring a large length.  Zero-length frames
 * are messages with an empty body.  The protocol has no error frame, so
 * encode_error is NULL: a protocol error (or a denial) closes the
 * connection, and the reason is in the host's log. */
#include <stdint.h>
#include <stdlib.h>

#include "modhost.h"

#define LENPREFIX_HEADER 4

static int lenprefix_load(mh_module *m, const mh_host_api *api);
static void lenprefix_unload(mh_module *m);
static uint64_t lenprefix_max_message(mh_module *m);
static int lenprefix_conn_init(mh_module *m, mh_conn *c, void *state);
static int lenprefix_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out);
static int lenprefix_encode(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out);

static const mh_config_key lenprefix_keys[] = {
    {"max_frame", MH_CONFIG_SIZE, "1MiB",
     "largest payload a frame may declare; a longer frame closes the connection"},
    {NULL, 0, NULL, NULL},
};

/* Per-connection state: a copy of the instance's limit, so that decode does
 * not look the instance up for every frame. */
struct lenprefix_conn {
	uint64_t max_frame;
};

static const mh_codec_ops lenprefix_codec = {
    .struct_size = sizeof(mh_codec_ops),
    .conn_state_size = sizeof(struct lenprefix_conn),
    .max_message = lenprefix_max_message,
    .conn_init = lenprefix_conn_init,
    .decode = lenprefix_decode,
    .encode = lenprefix_encode,
    .encode_error = NULL, /* no error frame in the protocol: errors close */
};

MH_MODULE_DECLARE(.name = "lenprefix", .version = "1.0", .license = "MIT",
                  .description = "u32 big-endian length + payload framing", .roles = MH_ROLE_CODEC,
                  .config_keys = lenprefix_keys, .load = lenprefix_load, .unload = lenprefix_unload,
                  .codec = &lenprefix_codec);

/* The host table, the same for every instance. */
static const mh_host_api *host;

/* Instance settings, malloc'ed in load and freed in unload. */
struct lenprefix_instance {
	uint64_t max_frame;
};

static int lenprefix_load(mh_module *m, const mh_host_api *api)
{
	host = api;
	struct lenprefix_instance *inst = malloc(sizeof(*inst));
	if (!inst) {
		host->log(m, MH_LOG_ERROR, "out of memory");
		return -1;
	}
	inst->max_frame = host->config_size(m, "max_frame");
	host->module_set_data(m, inst);
	return 0;
}

static void lenprefix_unload(mh_module *m)
{
	free(host->module_data(m));
	host->module_set_data(m, NULL);
}

/* A whole frame: the header plus the largest payload allowed. */
static uint64_t lenprefix_max_message(mh_module *m)
{
	const struct lenprefix_instance *inst = host->module_data(m);
	if (inst->max_frame > UINT64_MAX - LENPREFIX_HEADER)
		return UINT64_MAX;
	return inst->max_frame + LENPREFIX_HEADER;
}

static int lenprefix_conn_init(mh_module *m, mh_conn *c, void *state)
{
	const struct lenprefix_instance *inst = host->module_data(m);
	struct lenprefix_conn *st = state;
	st->max_frame = inst->max_frame;
	return 0;
}

/* Take one frame from the front of in.  Returns NEED_MORE until the header
 * and the whole payload are buffered; MESSAGE with *out owning the payload
 * (moved, not copied); or ERROR after conn_set_error when the declared
 * length is over max_frame or memory runs out. */
static int lenprefix_decode(mh_module *m, mh_conn *c, void *state, mh_buf *in, mh_msg **out)
{
	const struct lenprefix_conn *st = state;
	size_t have = host->buf_length(in);
	uint8_t hdr[LENPREFIX_HEADER];

	if (have < LENPREFIX_HEADER || host->buf_peek(in, hdr, sizeof(hdr)) != sizeof(hdr))
		return MH_DECODE_NEED_MORE;
	uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
	               (uint32_t)hdr[3];
	if (len > st->max_frame) {
		host->conn_set_error(c, MH_STATUS_TOO_LARGE,
		                     "frame of %u bytes exceeds max_frame %llu", len,
		                     (unsigned long long)st->max_frame);
		return MH_DECODE_ERROR;
	}
	if (have - LENPREFIX_HEADER < len)
		return MH_DECODE_NEED_MORE;

	mh_msg *msg = host->msg_new(c);
	mh_buf *body = msg ? host->msg_body(msg) : NULL;
	if (!body || host->buf_drain(in, LENPREFIX_HEADER) < 0 ||
	    host->buf_move(body, in, len) < 0) {
		/* Out of memory.  The host frees a message left in *out
		 * with an error result. */
		host->conn_set_error(c, MH_STATUS_INTERNAL, "out of memory decoding a frame");
		*out = msg;
		return MH_DECODE_ERROR;
	}
	*out = msg;
	return MH_DECODE_MESSAGE;
}

/* Append the reply as one frame: its body's length, then the body itself
 * (moved out of the reply).  Returns -1 for a body too long for a u32
 * length or when out of memory; the host then closes. */
static int lenprefix_encode(mh_module *m, mh_conn *c, void *state, mh_msg *reply, mh_buf *out)
{
	mh_buf *body = host->msg_body(reply);
	if (!body)
		return -1;
	size_t len = host->buf_length(body);
	if ((uint64_t)len > UINT32_MAX)
		return -1;
	uint8_t hdr[LENPREFIX_HEADER] = {
	    (uint8_t)(len >> 24),
	    (uint8_t)(len >> 16),
	    (uint8_t)(len >> 8),
	    (uint8_t)len,
	};
	if (host->buf_add(out, hdr, sizeof(hdr)) < 0)
		return -1;
	return host->buf_move(out, body, len);
}
