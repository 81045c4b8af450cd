/* See supervise.h. Log records are what src/runtime/log-file.ts reads: a 16-byte header
 * (stream: 1 stdout, 2 stderr, 3 the exit status; three zero bytes; payload length, u32
 * big-endian; the time in nanoseconds since the epoch, u64 big-endian) and the payload, as the
 * program wrote it (for 3: the status, u32 big-endian, so it is known after a daemon restart). */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

void exec_program(char **argv) {
  execvp(argv[0], argv);
  int err = errno;
  if (err == ENOENT && !strchr(argv[0], '/'))
    fprintf(stderr, "exec: \"%s\": executable file not found in $PATH\n", argv[0]);
  else
    fprintf(stderr, "exec: \"%s\": %s\n", argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void put_be(unsigned char *p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--, v >>= 8) p[i] = (unsigned char)(v & 0xff);
}

/* One read's worth of output, framed into the log or raw on fd 1. Returns 0 at EOF. */
static int relay_output(int from, int stream, int log_fd) {
  char buf[16384];
  ssize_t n;
  do n = read(from, buf, sizeof buf); while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return 1;
  if (n <= 0) return 0; /* EOF, or EIO once a pty's slave side is closed */
  if (log_fd < 0) {
    write_all(1, buf, (size_t)n); /* a gone reader must not stop the program */
    return 1;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned char head[16] = {(unsigned char)stream, 0, 0, 0};
  put_be(head + 4, (uint64_t)n, 4);
  put_be(head + 8, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, 8);
  write_all(log_fd, head, sizeof head);
  write_all(log_fd, buf, (size_t)n);
  return 1;
}

static void log_exit(int log_fd, int status) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned char rec[20] = {3, 0, 0, 0};
  put_be(rec + 4, 4, 4);
  put_be(rec + 8, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, 8);
  put_be(rec + 16, (uint64_t)status, 4);
  write_all(log_fd, rec, sizeof rec);
}

static void resize(int master, const char *line) {
  struct winsize ws = {0};
  if (sscanf(line, "%hu %hu", &ws.ws_row, &ws.ws_col) == 2) ioctl(master, TIOCSWINSZ, &ws);
}

static int exit_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int supervise(const struct supervise_opts *o, char **argv) {
  int log_fd = -1, master = -1, outp[2] = {-1, -1}, errp[2] = {-1, -1};
  const char *slave_name = NULL;
  if (o->log_path) {
    log_fd = open(o->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0) { perror("cnm-exec: open log"); return 126; }
  }
  if (o->tty) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || !(slave_name = ptsname(master))) {
      perror("cnm-exec: pseudo-terminal");
      return 126;
    }
    if (o->rows && o->cols) {
      struct winsize ws = {.ws_row = o->rows, .ws_col = o->cols};
      ioctl(master, TIOCSWINSZ, &ws);
    }
  } else if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
    perror("cnm-exec: pipe");
    return 126;
  }

  /* No size yet: the client sends one right after the start (docker's resize); wait a moment for
   * it, so the program does not begin on a 0x0 terminal. */
  if (o->tty && !(o->rows && o->cols) && o->control_fd >= 0) {
    struct pollfd c = {o->control_fd, POLLIN, 0};
    if (poll(&c, 1, 300) == 1 && (c.revents & POLLIN)) {
      char line[64];
      ssize_t r = read(o->control_fd, line, sizeof line - 1);
      if (r > 0) {
        line[r] = '\0';
        resize(master, line);
      }
    }
  }

  /* The signals the daemon sends (stop, kill, docker kill -s) go to the program. */
  sigset_t mask, old;
  sigemptyset(&mask);
  int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t k = 0; k < sizeof forwarded / sizeof *forwarded; k++) sigaddset(&mask, forwarded[k]);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, &old);
  signal(SIGPIPE, SIG_IGN);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);

  pid_t pid = fork();
  if (pid < 0) { perror("cnm-exec: fork"); return 126; }
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    signal(SIGPIPE, SIG_DFL);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* the supervisor killed (rm -f): the program goes too */
    if (o->tty) {
      setsid();
      int slave = open(slave_name, O_RDWR);
      if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0) { perror("cnm-exec: open terminal"); _exit(126); }
      dup2(slave, 0);
      dup2(slave, 1);
      dup2(slave, 2);
      if (slave > 2) close(slave);
    } else {
      dup2(outp[1], 1);
      dup2(errp[1], 2);
    }
    if (o->control_fd >= 0) close(o->control_fd);
    exec_program(argv);
  }
  if (!o->tty) {
    close(outp[1]);
    close(errp[1]);
  }
  int outs[2] = {o->tty ? master : outp[0], o->tty ? -1 : errp[0]};
  for (int k = 0; k < 2; k++)
    if (outs[k] >= 0) fcntl(outs[k], F_SETFL, fcntl(outs[k], F_GETFL) | O_NONBLOCK);
  int in_fd = o->tty ? 0 : -1; /* without a tty the program reads fd 0 itself */
  int ctl_fd = o->control_fd;
  int status = -1;

  while (status < 0 || outs[0] >= 0 || outs[1] >= 0) {
    struct pollfd p[5] = {{sigfd, POLLIN, 0}, {outs[0], POLLIN, 0}, {outs[1], POLLIN, 0}, {in_fd, POLLIN, 0}, {ctl_fd, POLLIN, 0}};
    /* Once the program is gone, what is left in the pipes is drained without waiting: a
     * background child still holding them must not keep the sandbox "running". */
    int n = poll(p, 5, status < 0 ? -1 : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sigfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          int st;
          if (waitpid(pid, &st, WNOHANG) == pid) status = exit_status(st);
        } else {
          kill(pid, (int)si.ssi_signo);
        }
      }
    }
    for (int k = 0; k < 2; k++) {
      if (outs[k] >= 0 && (p[1 + k].revents & (POLLIN | POLLHUP | POLLERR)) && !relay_output(outs[k], k + 1, log_fd)) {
        close(outs[k]);
        outs[k] = -1;
      }
    }
    if (in_fd >= 0 && (p[3].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[4096];
      ssize_t r = read(in_fd, buf, sizeof buf);
      if (r > 0) write_all(master, buf, (size_t)r);
      else if (r == 0 || errno != EINTR) in_fd = -1;
    }
    if (ctl_fd >= 0 && (p[4].revents & (POLLIN | POLLHUP | POLLERR))) {
      char line[64];
      ssize_t r = read(ctl_fd, line, sizeof line - 1);
      if (r > 0) {
        line[r] = '\0';
        /* the last complete line wins: only the latest size matters */
        char *last = line, *nl;
        while ((nl = strchr(last, '\n')) && nl[1]) last = nl + 1;
        if (master >= 0) resize(master, last);
      } else if (r == 0 || errno != EINTR) {
        ctl_fd = -1; /* the daemon went away: the program goes on */
      }
    }
  }
  if (status < 0) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    status = exit_status(st);
  }
  if (log_fd >= 0) log_exit(log_fd, status);
  return status;
}
