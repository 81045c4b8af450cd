/* Network namespaces as files: create one bind-mounted at a path, run a JS function with
 * the calling thread inside one, delete one. Only the calling (main) thread switches, and it
 * always switches back before returning to JS: libuv's other threads never move. */
#include "common.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static int open_current_netns(void) {
  return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

/* See common.h: returning cannot be allowed to fail. */
void cnm_restore_netns(int saved) {
  if (setns(saved, CLONE_NEWNET) != 0) {
    fprintf(stderr, "cnm native: cannot return to the daemon's network namespace: %s\n", strerror(errno));
    abort();
  }
  close(saved);
}

/* Enters the namespace at path; returns the fd of the one we left, or -1 with an exception. */
static int enter_netns(napi_env env, const char *path) {
  int saved = open_current_netns();
  if (saved < 0) {
    cnm_throw_errno(env, errno, "open", "/proc/thread-self/ns/net");
    return -1;
  }
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(saved);
    cnm_throw_errno(env, err, "open", path);
    return -1;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(target);
    close(saved);
    cnm_throw_errno(env, err, "setns", path);
    return -1;
  }
  close(target);
  return saved;
}

static int set_loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP;
    rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
  }
  int err = errno;
  close(fd);
  errno = err;
  return rc;
}

/* runInNetns(path, fn): calls fn() with this thread inside the namespace at path. */
static napi_value run_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[CNM_PATH_MAX];
  if (argc < 2 || cnm_arg_string(env, argv[0], path, sizeof path, "path") != 0) {
    if (argc < 2) cnm_throw_message(env, "runInNetns(path, fn) needs two arguments");
    return NULL;
  }
  int saved = enter_netns(env, path);
  if (saved < 0) return NULL;
  napi_value global, result = NULL;
  napi_get_global(env, &global);
  napi_call_function(env, global, argv[1], 0, NULL, &result);
  cnm_restore_netns(saved);
  return result;
}

/* createNetns(path): a new namespace with lo up, kept alive by a bind mount at path. */
static napi_value create_netns(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[CNM_PATH_MAX];
  if (argc < 1 || cnm_arg_string(env, argv[0], path, sizeof path, "path") != 0) return NULL;

  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) {
    cnm_throw_errno(env, errno, "create", path);
    return NULL;
  }
  close(fd);
  int saved = open_current_netns();
  if (saved < 0) {
    int err = errno;
    unlink(path);
    cnm_throw_errno(env, err, "open", "/proc/thread-self/ns/net");
    return NULL;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    int err = errno;
    close(saved);
    unlink(path);
    cnm_throw_errno(env, err, "unshare", path);
    return NULL;
  }
  const char *step = NULL;
  int err = 0;
  if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) != 0) {
    err = errno;
    step = "mount";
  } else if (set_loopback_up() != 0) {
    err = errno;
    step = "loopback up";
    umount2(path, MNT_DETACH);
  }
  cnm_restore_netns(saved);
  if (step) {
    unlink(path);
    cnm_throw_errno(env, err, step, path);
    return NULL;
  }
  return NULL;
}

/* deleteNetns(path): unmount and remove; a path that is already gone is not an error. */
static napi_value delete_netns(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[CNM_PATH_MAX];
  if (argc < 1 || cnm_arg_string(env, argv[0], path, sizeof path, "path") != 0) return NULL;
  if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    cnm_throw_errno(env, errno, "umount", path);
    return NULL;
  }
  if (unlink(path) != 0 && errno != ENOENT) {
    cnm_throw_errno(env, errno, "unlink", path);
    return NULL;
  }
  return NULL;
}

/* isNetnsMount(path): true when path is a live namespace mount (not a leftover plain file). */
static napi_value is_netns_mount(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[CNM_PATH_MAX];
  if (argc < 1 || cnm_arg_string(env, argv[0], path, sizeof path, "path") != 0) return NULL;
  struct statfs st;
  bool live = statfs(path, &st) == 0 && (unsigned long)st.f_type == (unsigned long)NSFS_MAGIC;
  napi_value result;
  napi_get_boolean(env, live, &result);
  return result;
}

napi_value cnm_netns_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"runInNetns", NULL, run_in_netns, NULL, NULL, NULL, napi_default, NULL},
      {"createNetns", NULL, create_netns, NULL, NULL, NULL, napi_default, NULL},
      {"deleteNetns", NULL, delete_netns, NULL, NULL, NULL, napi_default, NULL},
      {"isNetnsMount", NULL, is_netns_mount, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
