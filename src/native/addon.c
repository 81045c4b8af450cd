/* cnm's one native addon: the few things Node cannot do itself: network
 * namespaces (create/enter/delete them, open sockets inside them), in-process nftables,
 * nftables change events, and the resolver's native UDP responder. */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *errno_code(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENOTDIR: return "ENOTDIR";
    case ENOSPC: return "ENOSPC";
    case ENOMEM: return "ENOMEM";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOSYS: return "ENOSYS";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return "EUNKNOWN";
  }
}

void cnm_throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  char message[CNM_PATH_MAX + 256];
  snprintf(message, sizeof message, "%s %s: %s", syscall, detail ? detail : "", strerror(err));
  napi_value msg, error, code, num, sys;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, -err, &num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "errno", num);
  napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
}

void cnm_throw_message(napi_env env, const char *message) { napi_throw_error(env, NULL, message); }

int cnm_arg_string(napi_env env, napi_value value, char *buf, size_t size, const char *what) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, buf, size, &len) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a string", what);
    napi_throw_type_error(env, NULL, message);
    return -1;
  }
  if (len + 1 >= size) {
    napi_throw_range_error(env, NULL, "string argument too long");
    return -1;
  }
  return 0;
}

int cnm_arg_int(napi_env env, napi_value value, int *out, const char *what) {
  if (napi_get_value_int32(env, value, out) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be an integer", what);
    napi_throw_type_error(env, NULL, message);
    return -1;
  }
  return 0;
}

static napi_value init(napi_env env, napi_value exports) {
  cnm_netns_init(env, exports);
  cnm_sockets_init(env, exports);
  cnm_nftables_init(env, exports);
  cnm_nfevents_init(env, exports);
  cnm_responder_init(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
