/* tests/abi/probe.c — an object that uses every type of api/, so that its
 * debug info describes the whole ABI; abi-check.sh dumps it with abidw and
 * compares it with the committed baseline (modhost-abi.xml).  A new type in
 * api/ must be added here as a parameter. */
#include "modhost.h"

void mh_abi_probe(const mh_module_desc *desc, const mh_host_api *host, const mh_codec_ops *codec,
                  const mh_handler_ops *handler, const mh_auth_ops *auth,
                  const mh_policy_ops *policy, const mh_observer_ops *observer,
                  const mh_event *event, const mh_config_key *key, mh_module *module, mh_conn *conn,
                  mh_msg *msg, mh_buf *buf, mh_timer *timer, enum mh_role role,
                  enum mh_log_level level, enum mh_config_type config_type, enum mh_status status,
                  enum mh_decode_result decoded, enum mh_handle_result handled,
                  enum mh_auth_result authed, enum mh_policy_result policed,
                  enum mh_event_type event_type, enum mh_offload_status offloaded);

void mh_abi_probe(const mh_module_desc *desc, const mh_host_api *host, const mh_codec_ops *codec,
                  const mh_handler_ops *handler, const mh_auth_ops *auth,
                  const mh_policy_ops *policy, const mh_observer_ops *observer,
                  const mh_event *event, const mh_config_key *key, mh_module *module, mh_conn *conn,
                  mh_msg *msg, mh_buf *buf, mh_timer *timer, enum mh_role role,
                  enum mh_log_level level, enum mh_config_type config_type, enum mh_status status,
                  enum mh_decode_result decoded, enum mh_handle_result handled,
                  enum mh_auth_result authed, enum mh_policy_result policed,
                  enum mh_event_type event_type, enum mh_offload_status offloaded)
{
}
