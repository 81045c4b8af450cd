/* The supervisor half of cnm-exec: a pty or pipes around the program, its output framed into a
 * log file, signals passed on, and the program's exit status as its own. */
#ifndef CNM_SUPERVISE_H
#define CNM_SUPERVISE_H

struct supervise_opts {
  /* a pipe the daemon writes "ROWS COLS\n" lines to (terminal resize); -1 for none */
  int control_fd;
  /* framed output goes here (appended); NULL: raw output on fd 1 (only with tty) */
  const char *log_path;
  int tty;
  unsigned short rows, cols;
};

/* Forks the program, relays until it exits, returns the exit status to exit with. */
int supervise(const struct supervise_opts *o, char **argv);

/* execvp, or Docker's message for a program that cannot be run and exit 127 (not found) or 126. */
void exec_program(char **argv) __attribute__((noreturn));

#endif
