/* In-process nftables through libnftables: a context bound to one network namespace runs
 * nft command text as one atomic batch and hands back nft's own output and error text.
 *
 * Why in-process: spawning `nft` costs ~10 ms per batch, libnftables ~0.4 ms (see
 * docs/platform-notes.md and bench/nat). Runs happen on libuv's thread pool so a large ruleset
 * never blocks the event loop; the worker thread enters the context's namespace for the run and
 * always returns before the next job (libnftables may reopen its netlink socket, and a socket
 * opened on the worker must land in the right namespace). libnftables keeps process-wide state
 * (its parser and symbol tables are not documented as thread-safe), so runs are serialised by
 * one mutex across all contexts. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static pthread_mutex_t nft_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
  struct nft_ctx *ctx;
  int netns_fd; /* -1: the namespace of whichever thread runs the job (the daemon's) */
  bool busy;    /* a job holds the context: close waits for it */
  bool closed;
} nft_handle;

typedef struct {
  nft_handle *handle;
  char *commands;
  bool json;
  int rc;
  int setns_errno;
  char *output;
  char *error;
  napi_deferred deferred;
  napi_async_work work;
  napi_ref handle_ref; /* keeps the handle's JS object (and so the handle) alive during the job */
} nft_job;

static void free_handle(nft_handle *h) {
  if (h->ctx) nft_ctx_free(h->ctx);
  h->ctx = NULL;
  if (h->netns_fd >= 0) close(h->netns_fd);
  h->netns_fd = -1;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nft_handle *h = data;
  free_handle(h);
  free(h);
}

static nft_handle *get_handle(napi_env env, napi_value value) {
  nft_handle *h = NULL;
  if (napi_get_value_external(env, value, (void **)&h) != napi_ok || h == NULL) {
    napi_throw_type_error(env, NULL, "expected an nftables context");
    return NULL;
  }
  return h;
}

/* nftOpen(nsPath | null) -> context. With a path, every run happens inside that namespace. */
static napi_value nft_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int netns_fd = -1;
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type == napi_string) {
    char path[CNM_PATH_MAX];
    if (cnm_arg_string(env, argv[0], path, sizeof path, "nsPath") != 0) return NULL;
    netns_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) {
      cnm_throw_errno(env, errno, "open", path);
      return NULL;
    }
  } else if (type != napi_undefined && type != napi_null) {
    napi_throw_type_error(env, NULL, "nsPath must be a string or null");
    return NULL;
  }

  nft_handle *h = calloc(1, sizeof *h);
  if (!h) {
    if (netns_fd >= 0) close(netns_fd);
    cnm_throw_errno(env, ENOMEM, "calloc", "nft context");
    return NULL;
  }
  h->netns_fd = netns_fd;
  /* The context opens its netlink socket now, in this thread's namespace: create it inside
   * the target namespace so that socket belongs there too. */
  int saved = -1;
  if (netns_fd >= 0) {
    saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved < 0 || setns(netns_fd, CLONE_NEWNET) != 0) {
      int err = errno;
      if (saved >= 0) close(saved);
      free_handle(h);
      free(h);
      cnm_throw_errno(env, err, "setns", "nft context");
      return NULL;
    }
  }
  pthread_mutex_lock(&nft_lock);
  h->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  pthread_mutex_unlock(&nft_lock);
  if (saved >= 0) cnm_restore_netns(saved);
  if (!h->ctx) {
    free_handle(h);
    free(h);
    cnm_throw_message(env, "nft_ctx_new failed");
    return NULL;
  }

  napi_value external;
  if (napi_create_external(env, h, finalize_handle, NULL, &external) != napi_ok) {
    free_handle(h);
    free(h);
    return NULL;
  }
  return external;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

/* Runs the commands from a memfd rather than nft_run_cmd_from_buffer: with a buffer, libnftables
 * 1.0.6 shows the first line of the batch under every error instead of the offending one; from a
 * file it prints "<file>:<line>:<columns>: Error: ..." and the right line. */
static int run_commands(struct nft_ctx *ctx, const char *commands) {
  int fd = memfd_create("cnm-nft", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = strlen(commands), done = 0;
  while (done < len) {
    ssize_t n = write(fd, commands + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
    done += (size_t)n;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int rc = nft_run_cmd_from_filename(ctx, path);
  close(fd);
  return rc;
}

static void run_job(napi_env env, void *data) {
  (void)env;
  nft_job *job = data;
  nft_handle *h = job->handle;
  int saved = -1;
  if (h->netns_fd >= 0) {
    saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved < 0 || setns(h->netns_fd, CLONE_NEWNET) != 0) {
      job->setns_errno = errno;
      if (saved >= 0) close(saved);
      return;
    }
  }
  pthread_mutex_lock(&nft_lock);
  unsigned int flags = nft_ctx_output_get_flags(h->ctx);
  if (job->json)
    flags |= NFT_CTX_OUTPUT_JSON;
  else
    flags &= ~(unsigned int)NFT_CTX_OUTPUT_JSON;
  nft_ctx_output_set_flags(h->ctx, flags);
  /* Fresh buffers for every run: an empty run must not return the previous run's text. */
  nft_ctx_unbuffer_output(h->ctx);
  nft_ctx_unbuffer_error(h->ctx);
  nft_ctx_buffer_output(h->ctx);
  nft_ctx_buffer_error(h->ctx);
  job->rc = run_commands(h->ctx, job->commands);
  job->output = dup_or_empty(nft_ctx_get_output_buffer(h->ctx));
  job->error = dup_or_empty(nft_ctx_get_error_buffer(h->ctx));
  pthread_mutex_unlock(&nft_lock);
  if (saved >= 0) cnm_restore_netns(saved);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value ? value : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void finish_job(napi_env env, napi_status status, void *data) {
  nft_job *job = data;
  nft_handle *h = job->handle;
  h->busy = false;
  if (status != napi_ok) {
    napi_value msg, err;
    napi_create_string_utf8(env, "nftables job cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  } else if (job->setns_errno) {
    napi_value msg, err;
    char text[128];
    snprintf(text, sizeof text, "setns into the nftables namespace: %s", strerror(job->setns_errno));
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  } else {
    napi_value result, ok;
    napi_create_object(env, &result);
    napi_get_boolean(env, job->rc == 0, &ok);
    napi_set_named_property(env, result, "ok", ok);
    set_string(env, result, "output", job->output);
    set_string(env, result, "error", job->error);
    napi_resolve_deferred(env, job->deferred, result);
  }
  if (h->closed) free_handle(h);
  napi_delete_reference(env, job->handle_ref);
  napi_delete_async_work(env, job->work);
  free(job->commands);
  free(job->output);
  free(job->error);
  free(job);
}

/* nftRun(context, commands, json) -> Promise<{ ok, output, error }>: one libnftables run, i.e. one
 * atomic transaction for everything in `commands`. */
static napi_value nft_run(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    cnm_throw_message(env, "nftRun(context, commands, json) needs three arguments");
    return NULL;
  }
  nft_handle *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  if (h->closed || !h->ctx) {
    cnm_throw_message(env, "nftables context is closed");
    return NULL;
  }
  if (h->busy) {
    cnm_throw_message(env, "nftables context is busy: wait for the previous run");
    return NULL;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "commands must be a string");
    return NULL;
  }
  bool json = false;
  if (napi_get_value_bool(env, argv[2], &json) != napi_ok) {
    napi_throw_type_error(env, NULL, "json must be a boolean");
    return NULL;
  }
  nft_job *job = calloc(1, sizeof *job);
  char *commands = malloc(len + 1);
  if (!job || !commands) {
    free(job);
    free(commands);
    cnm_throw_errno(env, ENOMEM, "malloc", "nft commands");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[1], commands, len + 1, &len);
  job->handle = h;
  job->commands = commands;
  job->json = json;

  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_reference(env, argv[0], 1, &job->handle_ref);
  napi_create_string_utf8(env, "cnm:nftables", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, run_job, finish_job, job, &job->work);
  h->busy = true;
  napi_queue_async_work(env, job->work);
  return promise;
}

/* nftClose(context): frees the context now, or as soon as its running job ends. */
static napi_value nft_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return NULL;
  nft_handle *h = get_handle(env, argv[0]);
  if (!h) return NULL;
  h->closed = true;
  if (!h->busy) free_handle(h);
  return NULL;
}

napi_value cnm_nftables_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"nftOpen", NULL, nft_open, NULL, NULL, NULL, napi_default, NULL},
      {"nftRun", NULL, nft_run, NULL, NULL, NULL, napi_default, NULL},
      {"nftClose", NULL, nft_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
