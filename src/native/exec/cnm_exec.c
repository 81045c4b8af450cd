/* cnm-exec: runs a host program inside a sandbox.
 *
 *   cnm-exec --net NSPATH [--hostname NAME] [--bind SRC:DST]... [--sysfs] [--cwd DIR]
 *            [--tty] [--size ROWSxCOLS] [--control FD] [--log FILE] -- CMD [ARG...]
 *
 * Joins the sandbox's network namespace, and when files or a hostname are given, a private
 * mount (and UTS) namespace of its own, so the program sees the sandbox's /etc/resolv.conf,
 * /etc/hosts and hostname while the host keeps its own; --sysfs mounts a /sys that shows the
 * sandbox's interfaces (as `ip netns exec` does). The program runs in --cwd (default "/").
 *
 * Without --tty and --log it then execs CMD. With either, it stays as a small supervisor
 * (what containerd's shim is to Docker) around CMD, which it forks (see supervise.c). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "supervise.h"

#define MAX_BINDS 8

static void die(const char *what, const char *detail) {
  fprintf(stderr, "cnm-exec: %s %s: %s\n", what, detail ? detail : "", strerror(errno));
  exit(126);
}

static void usage(void) {
  fprintf(stderr,
          "usage: cnm-exec --net NSPATH [--hostname NAME] [--bind SRC:DST]... [--sysfs] [--cwd DIR]\n"
          "                [--tty] [--size ROWSxCOLS] [--control FD] [--log FILE] -- CMD [ARG...]\n");
  exit(125);
}

int main(int argc, char **argv) {
  const char *net = NULL, *hostname = NULL, *cwd = "/";
  struct supervise_opts sup = {.control_fd = -1, .log_path = NULL, .tty = 0, .rows = 0, .cols = 0};
  char *binds[MAX_BINDS];
  int nbinds = 0, sysfs = 0, i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (strcmp(argv[i], "--sysfs") == 0) { sysfs = 1; continue; }
    if (strcmp(argv[i], "--tty") == 0) { sup.tty = 1; continue; }
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--net") == 0) net = argv[++i];
    else if (strcmp(argv[i], "--hostname") == 0) hostname = argv[++i];
    else if (strcmp(argv[i], "--cwd") == 0) cwd = argv[++i];
    else if (strcmp(argv[i], "--log") == 0) sup.log_path = argv[++i];
    else if (strcmp(argv[i], "--control") == 0) sup.control_fd = atoi(argv[++i]);
    else if (strcmp(argv[i], "--size") == 0) {
      if (sscanf(argv[++i], "%hux%hu", &sup.rows, &sup.cols) != 2) usage();
    } else if (strcmp(argv[i], "--bind") == 0 && nbinds < MAX_BINDS) binds[nbinds++] = argv[++i];
    else usage();
  }
  if (!net || i >= argc) usage();

  int fd = open(net, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("open", net);
  if (setns(fd, CLONE_NEWNET) != 0) die("setns", net);
  close(fd);

  if (nbinds > 0 || hostname || sysfs) {
    if (unshare(CLONE_NEWNS | (hostname ? CLONE_NEWUTS : 0)) != 0) die("unshare", "mount/uts");
    /* Nothing mounted here may leak back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("mount", "make / private");
    for (int b = 0; b < nbinds; b++) {
      char *sep = strchr(binds[b], ':');
      if (!sep) usage();
      *sep = '\0';
      if (mount(binds[b], sep + 1, NULL, MS_BIND, NULL) != 0) die("bind mount onto", sep + 1);
    }
    if (sysfs) {
      umount2("/sys", MNT_DETACH);
      if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL) != 0) die("mount", "sysfs on /sys");
    }
    if (hostname && sethostname(hostname, strlen(hostname)) != 0) die("sethostname", hostname);
  }
  if (chdir(cwd) != 0) die("chdir", cwd);
  if (sup.tty || sup.log_path) return supervise(&sup, &argv[i]);
  exec_program(&argv[i]);
  return 127; /* not reached */
}
