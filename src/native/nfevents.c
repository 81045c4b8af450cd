/* nftables change events (the NFNLGRP_NFTABLES multicast group, what `nft monitor` reads),
 * delivered to a JS callback on the main loop: nfEventsOpen(cb) opens the socket in the calling
 * thread's namespace (call it inside runInNetns for another one); cb(0, datagram) per datagram,
 * cb(errno) when events were lost (ENOBUFS: the socket overran; EMSGSIZE: a datagram was cut).
 *
 * Why not the `netlink` package's socket: when a multicast socket overruns, the kernel flags it
 * with ENOBUFS, libuv reports POLLERR, and that package's poll handler throws a C++ exception out
 * of the libuv callback: the process aborts. One cnm apply with ~1,000 published ports produces
 * enough events to overrun a default-sized buffer. Here the buffer is large (16 MB with
 * SO_RCVBUFFORCE, as `nft monitor` does; memory is only charged while events wait) and an
 * overrun is just a callback with ENOBUFS. */
#include "common.h"

#include <errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define RCVBUF_BYTES (16 << 20)
/* nf_tables coalesces notifications into NLMSG_GOODSIZE skbs: far below this. */
#define DATAGRAM_MAX 65536
/* Datagrams per poll callback, so a flood cannot starve the loop (poll is level-triggered). */
#define BATCH 64

typedef struct {
  napi_env env;
  int fd;
  uv_poll_t poll;
  napi_ref callback;
  napi_async_context async;
  bool closed;     /* no more callbacks; fd closed, handle closing */
  bool handle_gone; /* uv_close finished */
  bool finalized;   /* the JS handle was collected */
  char buffer[DATAGRAM_MAX];
} nfevents;

static void maybe_free(nfevents *w) {
  if (w->handle_gone && w->finalized) free(w);
}

static void on_handle_closed(uv_handle_t *handle) {
  nfevents *w = handle->data;
  w->handle_gone = true;
  maybe_free(w);
}

static void cleanup_hook(void *arg);

/* from_hook: called by the env's cleanup hook itself, which must not remove itself. */
static void do_close(nfevents *w, bool from_hook) {
  if (w->closed) return;
  w->closed = true;
  if (!from_hook) napi_remove_env_cleanup_hook(w->env, cleanup_hook, w);
  uv_poll_stop(&w->poll);
  close(w->fd);
  w->fd = -1;
  napi_delete_reference(w->env, w->callback);
  napi_async_destroy(w->env, w->async);
  uv_close((uv_handle_t *)&w->poll, on_handle_closed);
}

static void cleanup_hook(void *arg) { do_close(arg, true); }

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nfevents *w = data;
  do_close(w, false);
  w->finalized = true;
  maybe_free(w);
}

/* Calls cb(err, data) as a top-level callback (microtasks run after it); an exception it throws
 * becomes the process's uncaught exception, as for any other event callback. */
static void deliver(nfevents *w, int err, const char *data, size_t len) {
  napi_env env = w->env;
  napi_value cb, recv, argv[2], result;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv); /* MakeCallback needs an object receiver */
  napi_create_int32(env, err, &argv[0]);
  if (data) {
    void *copy;
    napi_create_buffer_copy(env, len, data, &copy, &argv[1]);
  } else {
    napi_get_undefined(env, &argv[1]);
  }
  napi_make_callback(env, w->async, recv, cb, 2, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

static void on_poll(uv_poll_t *poll, int status, int events) {
  (void)events;
  nfevents *w = poll->data;
  if (w->closed) return;
  /* POLLERR: an error is pending on the socket (libuv stopped the handle). The recv below
   * fetches and clears it; then watching goes on. */
  if (status < 0) uv_poll_start(&w->poll, UV_READABLE, on_poll);
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  for (int i = 0; i < BATCH && !w->closed; i++) {
    ssize_t n = recv(w->fd, w->buffer, sizeof w->buffer, MSG_TRUNC);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      deliver(w, err, NULL, 0);
      if (err != ENOBUFS) break;
      continue;
    }
    if ((size_t)n > sizeof w->buffer) deliver(w, EMSGSIZE, NULL, 0);
    else deliver(w, 0, w->buffer, (size_t)n);
  }
  napi_close_handle_scope(w->env, scope);
}

/* nfEventsOpen(callback) -> handle */
static napi_value nf_events_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype type = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, NULL, "nfEventsOpen(callback) needs a function");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER);
  if (fd < 0) {
    cnm_throw_errno(env, errno, "socket", "NETLINK_NETFILTER");
    return NULL;
  }
  int size = RCVBUF_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size); /* not root: rmem_max caps it */
  }
  struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
  int group = NFNLGRP_NFTABLES;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
    int err = errno;
    close(fd);
    cnm_throw_errno(env, err, "bind", "NFNLGRP_NFTABLES");
    return NULL;
  }
  uv_loop_t *loop;
  nfevents *w = calloc(1, sizeof *w);
  if (!w || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &w->poll, fd) != 0) {
    free(w);
    close(fd);
    cnm_throw_message(env, "nfEventsOpen: cannot watch the socket");
    return NULL;
  }
  w->env = env;
  w->fd = fd;
  w->poll.data = w;
  uv_unref((uv_handle_t *)&w->poll); /* an idle watch never keeps the process alive */
  napi_value name, handle;
  napi_create_string_utf8(env, "cnm.nfevents", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->async);
  napi_create_reference(env, argv[0], 1, &w->callback);
  napi_add_env_cleanup_hook(env, cleanup_hook, w);
  uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (napi_create_external(env, w, finalize, NULL, &handle) != napi_ok) {
    do_close(w, false);
    w->finalized = true;
    maybe_free(w);
    return NULL;
  }
  return handle;
}

/* nfEventsClose(handle): no callback after this; idempotent. */
static napi_value nf_events_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, NULL, "nfEventsClose(handle) needs a handle from nfEventsOpen");
    return NULL;
  }
  do_close(data, false);
  return NULL;
}

napi_value cnm_nfevents_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"nfEventsOpen", NULL, nf_events_open, NULL, NULL, NULL, napi_default, NULL},
      {"nfEventsClose", NULL, nf_events_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
