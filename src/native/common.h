/* Shared helpers for the cnm native addon: errno-carrying JS errors and argument reading. */
#ifndef CNM_NATIVE_COMMON_H
#define CNM_NATIVE_COMMON_H

#include <node_api.h>
#include <stddef.h>

#define CNM_PATH_MAX 4096

/* Throws an Error whose message is "<syscall> <detail>: <strerror>" and which carries
 * .code ("ENOENT"...), .errno and .syscall, like Node's own system errors. */
void cnm_throw_errno(napi_env env, int err, const char *syscall, const char *detail);
void cnm_throw_message(napi_env env, const char *message);

/* Reads argv[index] as a UTF-8 string into buf; returns 0, or -1 with a pending exception. */
int cnm_arg_string(napi_env env, napi_value value, char *buf, size_t size, const char *what);
int cnm_arg_int(napi_env env, napi_value value, int *out, const char *what);

/* Returns the calling thread to the namespace whose fd is saved, and closes it; aborts if that
 * fails (every later socket would be created in the wrong namespace). */
void cnm_restore_netns(int saved);

napi_value cnm_netns_init(napi_env env, napi_value exports);
napi_value cnm_sockets_init(napi_env env, napi_value exports);
napi_value cnm_nftables_init(napi_env env, napi_value exports);
napi_value cnm_nfevents_init(napi_env env, napi_value exports);
napi_value cnm_responder_init(napi_env env, napi_value exports);

#endif
