/* cnm: the CNI plugin (CNI spec 0.4.0, 1.0.0 and 1.1.0's GC and STATUS).
 *
 * It does no network work. It wraps the CNI request (the CNI_* environment and the network
 * configuration read from stdin) in one JSON document, posts it to cnmd on its Unix socket and
 * prints cnmd's answer: a result (exit 0) or a CNI error (exit 1). A runtime runs it for every
 * container it starts and stops, so it is C: no interpreter to load (see bench/cni).
 *
 * cnmd's socket comes from the configuration's "socket" key (written by `cnm cni install`),
 * because runtimes do not pass their own environment on (podman's clean-up DEL after `run --rm`
 * comes from another process); then $CNM_SOCKET, then /run/cnm/cnm.sock.
 *
 * VERSION is answered here, so a runtime's probe works while cnmd is down. Anything else while
 * cnmd is down is CNI error 11 ("try again later"), or 50 ("not available") for STATUS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/cnm/cnm.sock"
#define MAX_CONFIG (1 << 20)
#define MAX_RESPONSE (4 << 20)
/* A runtime waits for its plugins; cnmd answers in milliseconds unless the kernel stalls. */
#define ANSWER_TIMEOUT_SECONDS 120
#define SUPPORTED "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]"

/* CNI's well-known error codes (SPEC.md "Error"). */
enum { INCOMPATIBLE_VERSION = 1, INVALID_ENVIRONMENT = 4, IO_FAILURE = 5, DECODE_FAILURE = 6, TRY_AGAIN_LATER = 11, NOT_AVAILABLE = 50 };

struct buffer {
  char *data;
  size_t len, cap;
};

static void append(struct buffer *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) {
      fputs("cnm: out of memory\n", stderr);
      exit(1);
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void append_str(struct buffer *b, const char *s) { append(b, s, strlen(s)); }

/* s as a JSON string literal. */
static void append_json_string(struct buffer *b, const char *s) {
  append_str(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      append(b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      append_str(b, esc);
    } else {
      append(b, (const char *)p, 1);
    }
  }
  append_str(b, "\"");
}

static const char *request_version = "1.0.0";

/* Prints a CNI error and exits 1: the runtime shows msg (and details) to its user. */
static void fail(int code, const char *msg, const char *details) {
  struct buffer out = {0};
  char num[16];
  append_str(&out, "{\"cniVersion\":");
  append_json_string(&out, request_version);
  snprintf(num, sizeof num, "%d", code);
  append_str(&out, ",\"code\":");
  append_str(&out, num);
  append_str(&out, ",\"msg\":");
  append_json_string(&out, msg);
  if (details && *details) {
    append_str(&out, ",\"details\":");
    append_json_string(&out, details);
  }
  append_str(&out, "}\n");
  fwrite(out.data, 1, out.len, stdout);
  exit(1);
}

/* ---- a JSON scanner just good enough to read two top-level string members ---- */

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* Past the string starting at p (which points at its opening quote), or NULL if unterminated. */
static const char *skip_string(const char *p) {
  for (p++; *p; p++) {
    if (*p == '\\') {
      if (!*++p) return NULL;
    } else if (*p == '"') {
      return p + 1;
    }
  }
  return NULL;
}

static const char *skip_value(const char *p, int depth) {
  p = skip_ws(p);
  if (depth > 64) return NULL;
  if (*p == '"') return skip_string(p);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = skip_ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        if (*p != '"' || !(p = skip_string(p))) return NULL;
        p = skip_ws(p);
        if (*p++ != ':') return NULL;
      }
      if (!(p = skip_value(p, depth + 1))) return NULL;
      p = skip_ws(p);
      if (*p == ',') {
        p = skip_ws(p + 1);
        continue;
      }
      return *p == close ? p + 1 : NULL;
    }
  }
  /* numbers, true, false, null */
  const char *start = p;
  while (*p && strchr("+-.0123456789eEtruefalsn", *p)) p++;
  return p > start ? p : NULL;
}

/* Copies the string member `key` of the top-level object into out (escapes other than \" and \\
 * are not expected in a socket path or a version). Returns -1 if json is not one object. */
static int top_level_string(const char *json, const char *key, char *out, size_t size) {
  const char *p = skip_ws(json);
  out[0] = '\0';
  if (*p++ != '{') return -1;
  p = skip_ws(p);
  if (*p == '}') return *skip_ws(p + 1) ? -1 : 0;
  for (;;) {
    if (*p != '"') return -1;
    const char *name = p + 1, *end = skip_string(p);
    if (!end) return -1;
    size_t name_len = (size_t)(end - 1 - name);
    p = skip_ws(end);
    if (*p++ != ':') return -1;
    p = skip_ws(p);
    if (name_len == strlen(key) && memcmp(name, key, name_len) == 0 && *p == '"') {
      size_t n = 0;
      for (const char *s = p + 1; *s && *s != '"' && n + 1 < size; s++) {
        if (*s == '\\' && s[1]) s++;
        out[n++] = *s;
      }
      out[n] = '\0';
    }
    if (!(p = skip_value(p, 0))) return -1;
    p = skip_ws(p);
    if (*p == ',') {
      p = skip_ws(p + 1);
      continue;
    }
    if (*p != '}') return -1;
    return *skip_ws(p + 1) ? -1 : 0;
  }
}

/* ---- I/O ---- */

static void read_all(int fd, struct buffer *b, size_t limit, const char *what) {
  char chunk[16384];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n == 0) return;
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(IO_FAILURE, what, strerror(errno));
    }
    if (b->len + (size_t)n > limit) fail(IO_FAILURE, what, "too large");
    append(b, chunk, (size_t)n);
  }
}

static void write_all(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(IO_FAILURE, "cannot send the request to cnmd", strerror(errno));
    }
    data += n;
    len -= (size_t)n;
  }
}

static const char *env_or_empty(const char *name) {
  const char *v = getenv(name);
  return v ? v : "";
}

int main(void) {
  static char version[32], socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  const char *command = getenv("CNI_COMMAND");
  struct buffer config = {0};
  append_str(&config, "");

  if (!command || !*command) fail(INVALID_ENVIRONMENT, "CNI_COMMAND is not set", "run cnm as a CNI plugin: a runtime sets CNI_COMMAND to ADD, DEL, CHECK, VERSION, GC or STATUS");
  read_all(0, &config, MAX_CONFIG, "cannot read the network configuration from stdin");
  int has_config = *skip_ws(config.data) != '\0';
  if (has_config && top_level_string(config.data, "cniVersion", version, sizeof version) < 0) {
    fail(DECODE_FAILURE, "the network configuration on stdin is not a JSON object", NULL);
  }
  if (version[0]) request_version = version;

  if (strcmp(command, "VERSION") == 0) {
    printf("{\"cniVersion\":\"%s\",\"supportedVersions\":" SUPPORTED "}\n", version[0] ? version : "1.1.0");
    return 0;
  }
  if (!has_config) fail(DECODE_FAILURE, "no network configuration on stdin", "a runtime passes the network's configuration on stdin");

  top_level_string(config.data, "socket", socket_path, sizeof socket_path);
  if (!socket_path[0]) {
    const char *env = getenv("CNM_SOCKET");
    snprintf(socket_path, sizeof socket_path, "%s", env && *env ? env : DEFAULT_SOCKET);
  }

  struct buffer body = {0};
  append_str(&body, "{\"command\":");
  append_json_string(&body, command);
  append_str(&body, ",\"containerId\":");
  append_json_string(&body, env_or_empty("CNI_CONTAINERID"));
  append_str(&body, ",\"netns\":");
  append_json_string(&body, env_or_empty("CNI_NETNS"));
  append_str(&body, ",\"ifName\":");
  append_json_string(&body, env_or_empty("CNI_IFNAME"));
  append_str(&body, ",\"args\":");
  append_json_string(&body, env_or_empty("CNI_ARGS"));
  append_str(&body, ",\"path\":");
  append_json_string(&body, env_or_empty("CNI_PATH"));
  append_str(&body, ",\"config\":");
  append(&body, config.data, config.len);
  append_str(&body, "}");

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(IO_FAILURE, "cannot create a socket", strerror(errno));
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    char msg[512];
    int err = errno;
    snprintf(msg, sizeof msg, "cnmd is not answering on %s: start cnmd (or point the configuration's \"socket\" at it) and try again", socket_path);
    fail(strcmp(command, "STATUS") == 0 ? NOT_AVAILABLE : TRY_AGAIN_LATER, msg, strerror(err));
  }
  struct timeval timeout = {.tv_sec = ANSWER_TIMEOUT_SECONDS};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);

  char head[160];
  int head_len = snprintf(head, sizeof head, "POST /cni HTTP/1.0\r\nHost: cnm\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", body.len);
  write_all(fd, head, (size_t)head_len);
  write_all(fd, body.data, body.len);

  struct buffer response = {0};
  append_str(&response, "");
  read_all(fd, &response, MAX_RESPONSE, "cannot read cnmd's answer");
  close(fd);

  int status = 0;
  const char *payload = strstr(response.data, "\r\n\r\n");
  if (sscanf(response.data, "HTTP/1.%*d %d", &status) != 1 || !payload) fail(IO_FAILURE, "cnmd's answer is not HTTP", response.data);
  payload += 4;
  /* 204: success with nothing to print (DEL, CHECK, GC, STATUS); 200: a result; anything else
   * carries a CNI error object. */
  if (status == 204) return 0;
  if (!*payload) fail(IO_FAILURE, "cnmd's answer is empty", NULL);
  fputs(payload, stdout);
  return status == 200 ? 0 : 1;
}
