/* The resolver's native fast path: one thread per resolver that owns every sandbox's UDP socket
 * on 127.0.0.11:53 through epoll, reads and writes in batches (recvmmsg/sendmmsg) and answers
 * the queries it can from a table the TypeScript side compiled (src/resolver/native-table.ts).
 * Every other message (forwarded names, malformed, unusual, too large for the asker) is handed
 * to JavaScript unchanged through a threadsafe function, with the sandbox's slot and the
 * client's address; JavaScript sends its reply back on the same socket (dnsResponderSend).
 *
 * Concurrency: the thread holds `lock` while it serves one epoll batch and never while it
 * waits. A new table is swapped in under the lock, so a batch sees one table from start to
 * end; the old table is freed after the swap, when no batch can still hold it. A table is made
 * of one sub-table per network, built once and shared by the tables that follow until that
 * network changes (reference counts, changed on the JavaScript thread only). Sockets are
 * closed under the lock too, so the thread never reads an fd that has been closed or reused.
 *
 * The answers must be byte for byte those of src/resolver/{wire,answers,local}.ts: the parse
 * below mirrors parseQuery, and anything the TypeScript path would treat specially (several
 * records to shuffle, truncation, ANY, the REFUSED of an unknown sandbox) is left to it. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns_answer.h"

#define BATCH 32
/* parseQuery refuses anything longer than 4096 bytes (FORMERR from the header alone): one byte
 * more is enough for JavaScript to see "too long" and give the same answer. */
#define RECV_BYTES (CNM_DNS_MAX_QUERY + 1)
#define STOP_KEY UINT32_MAX
/* Fallback messages waiting for JavaScript; beyond this they are dropped (and counted). */
#define FALLBACK_QUEUE 8192

typedef struct {
  int fd; /* -1 when free */
} registration;

typedef struct {
  uint32_t slot;
  uint32_t address; /* network order */
  uint16_t port;
  uint32_t length;
  uint8_t data[];
} fallback_item;

typedef struct responder {
  pthread_mutex_t lock;
  pthread_t thread;
  int thread_started;
  int epoll_fd;
  int stop_fd;
  napi_threadsafe_function tsfn;
  cnm_dns_table *table;
  registration *slots;
  uint32_t slot_capacity;
  /* Metrics, written by the thread under the lock, read by JS under the lock. */
  uint8_t type_index[65536];
  uint32_t type_labels;
  double *counts;
  double bucket_bounds[CNM_DNS_BUCKETS];
  uint32_t bucket_count;
  double buckets[CNM_DNS_BUCKETS + 1];
  double seconds_sum;
  double fallbacks;
  double fallbacks_dropped;
  /* Batch buffers: the thread's only, allocated once. */
  struct mmsghdr in[BATCH];
  struct iovec in_iov[BATCH];
  struct sockaddr_in in_addr[BATCH];
  uint8_t in_buf[BATCH][RECV_BYTES];
  struct mmsghdr out[BATCH];
  struct iovec out_iov[BATCH];
  uint8_t out_buf[BATCH][CNM_DNS_MAX_REPLY];
  uint16_t answered_type[BATCH];
  int closed;
} responder;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void hand_to_js(responder *r, uint32_t slot, const struct sockaddr_in *from, const uint8_t *msg, uint32_t length) {
  fallback_item *item = malloc(sizeof *item + length);
  if (item == NULL) {
    r->fallbacks_dropped++;
    return;
  }
  item->slot = slot;
  item->address = from->sin_addr.s_addr;
  item->port = ntohs(from->sin_port);
  item->length = length;
  memcpy(item->data, msg, length);
  if (napi_call_threadsafe_function(r->tsfn, item, napi_tsfn_nonblocking) != napi_ok) {
    free(item);
    r->fallbacks_dropped++;
    return;
  }
  r->fallbacks++;
}

/* Reads one batch from a sandbox's socket, answers what the table can, hands the rest to JS. */
static void serve_socket(responder *r, uint32_t slot) {
  if (slot >= r->slot_capacity || r->slots[slot].fd < 0) return;
  int fd = r->slots[slot].fd;
  for (int i = 0; i < BATCH; i++) {
    r->in_iov[i].iov_base = r->in_buf[i];
    r->in_iov[i].iov_len = RECV_BYTES;
    memset(&r->in[i].msg_hdr, 0, sizeof r->in[i].msg_hdr);
    r->in[i].msg_hdr.msg_iov = &r->in_iov[i];
    r->in[i].msg_hdr.msg_iovlen = 1;
    r->in[i].msg_hdr.msg_name = &r->in_addr[i];
    r->in[i].msg_hdr.msg_namelen = sizeof r->in_addr[i];
  }
  int n = recvmmsg(fd, r->in, BATCH, MSG_DONTWAIT, NULL);
  if (n <= 0) return;
  double started = now_seconds();
  const cnm_dns_table *table = r->table;
  int view = cnm_dns_view_of(table, slot);
  int replies = 0;
  for (int i = 0; i < n; i++) {
    uint32_t length = r->in[i].msg_len;
    if (r->in[i].msg_hdr.msg_namelen != sizeof(struct sockaddr_in) || r->in_addr[i].sin_family != AF_INET) continue;
    uint16_t qtype = 0;
    size_t reply = view >= 0 ? cnm_dns_answer(table, view, r->in_buf[i], length, r->out_buf[replies], &qtype) : 0;
    if (reply == 0) {
      hand_to_js(r, slot, &r->in_addr[i], r->in_buf[i], length);
      continue;
    }
    r->out_iov[replies].iov_base = r->out_buf[replies];
    r->out_iov[replies].iov_len = reply;
    memset(&r->out[replies].msg_hdr, 0, sizeof r->out[replies].msg_hdr);
    r->out[replies].msg_hdr.msg_iov = &r->out_iov[replies];
    r->out[replies].msg_hdr.msg_iovlen = 1;
    r->out[replies].msg_hdr.msg_name = &r->in_addr[i];
    r->out[replies].msg_hdr.msg_namelen = sizeof r->in_addr[i];
    r->answered_type[replies] = qtype;
    replies++;
  }
  for (int sent = 0; sent < replies;) {
    int k = sendmmsg(fd, r->out + sent, (unsigned)(replies - sent), MSG_DONTWAIT);
    if (k < 0) {
      if (errno == EINTR) continue;
      break; /* a full send buffer or a vanished client: the client retries, as with dgram */
    }
    sent += k;
  }
  if (replies == 0) return;
  double seconds = now_seconds() - started;
  uint32_t b = 0;
  while (b < r->bucket_count && seconds > r->bucket_bounds[b]) b++;
  r->buckets[b] += replies;
  r->seconds_sum += seconds * replies;
  for (int i = 0; i < replies; i++) r->counts[r->type_index[r->answered_type[i]]]++;
}

static void *run(void *arg) {
  responder *r = arg;
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(r->epoll_fd, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < n; i++) {
      if (events[i].data.u32 == STOP_KEY) {
        pthread_mutex_unlock(&r->lock);
        return NULL;
      }
      serve_socket(r, events[i].data.u32);
    }
    pthread_mutex_unlock(&r->lock);
  }
}

/* On the JS thread: one fallback message becomes onQuery(slot, address, port, msg). */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  fallback_item *item = data;
  if (env != NULL && callback != NULL) {
    napi_value argv[4], undefined;
    char text[INET_ADDRSTRLEN];
    struct in_addr in = {.s_addr = item->address};
    inet_ntop(AF_INET, &in, text, sizeof text);
    napi_create_uint32(env, item->slot, &argv[0]);
    napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_uint32(env, item->port, &argv[2]);
    void *copy;
    napi_create_buffer_copy(env, item->length, item->data, &copy, &argv[3]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 4, argv, NULL);
  }
  free(item);
}

static void stop_and_free(responder *r) {
  if (r->thread_started) {
    uint64_t one = 1;
    if (write(r->stop_fd, &one, sizeof one) < 0) { /* the thread also stops when epoll_wait fails */ }
    pthread_join(r->thread, NULL);
    r->thread_started = 0;
  }
  for (uint32_t i = 0; i < r->slot_capacity; i++)
    if (r->slots[i].fd >= 0) close(r->slots[i].fd);
  free(r->slots);
  r->slots = NULL;
  r->slot_capacity = 0;
  cnm_dns_table_free(r->table);
  r->table = NULL;
  if (r->epoll_fd >= 0) close(r->epoll_fd);
  if (r->stop_fd >= 0) close(r->stop_fd);
  r->epoll_fd = r->stop_fd = -1;
  free(r->counts);
  r->counts = NULL;
}

/* Tells V8 how much the networks and tables hold, so that it weighs them when it collects the
 * handles keeping them alive. */
static void report_memory(napi_env env) {
  static int64_t reported;
  int64_t live = (int64_t)cnm_dns_live_bytes(), ignored;
  if (live != reported) napi_adjust_external_memory(env, live - reported, &ignored);
  reported = live;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  responder *r = data;
  if (!r->closed) {
    stop_and_free(r);
    report_memory(env);
    napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
  }
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static responder *unwrap(napi_env env, napi_value value) {
  responder *r = NULL;
  if (napi_get_value_external(env, value, (void **)&r) != napi_ok || r == NULL) {
    napi_throw_type_error(env, NULL, "not a DNS responder handle");
    return NULL;
  }
  if (r->closed) {
    cnm_throw_message(env, "the DNS responder is closed");
    return NULL;
  }
  return r;
}

/* dnsResponderOpen(onQuery, typeIndex: Uint8Array(65536), labels, bucketBounds: Float64Array) */
static napi_value responder_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    cnm_throw_message(env, "dnsResponderOpen(onQuery, typeIndex, labels, bucketBounds) needs four arguments");
    return NULL;
  }
  uint8_t *types;
  size_t types_len;
  napi_typedarray_type kind;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[1], &kind, &types_len, (void **)&types, &ab, &offset) != napi_ok || kind != napi_uint8_array || types_len != 65536) {
    napi_throw_type_error(env, NULL, "typeIndex must be a Uint8Array of 65536 entries");
    return NULL;
  }
  uint32_t labels;
  if (napi_get_value_uint32(env, argv[2], &labels) != napi_ok || labels == 0 || labels > 256) {
    napi_throw_type_error(env, NULL, "labels must be between 1 and 256");
    return NULL;
  }
  double *bounds;
  size_t bounds_len;
  if (napi_get_typedarray_info(env, argv[3], &kind, &bounds_len, (void **)&bounds, &ab, &offset) != napi_ok || kind != napi_float64_array || bounds_len > CNM_DNS_BUCKETS) {
    napi_throw_type_error(env, NULL, "bucketBounds must be a Float64Array of at most 32 bounds");
    return NULL;
  }
  responder *r = calloc(1, sizeof *r);
  if (r == NULL) {
    cnm_throw_errno(env, ENOMEM, "calloc", "DNS responder");
    return NULL;
  }
  pthread_mutex_init(&r->lock, NULL);
  memcpy(r->type_index, types, sizeof r->type_index);
  for (size_t i = 0; i < 65536; i++)
    if (r->type_index[i] >= labels) r->type_index[i] = 0;
  r->type_labels = labels;
  r->counts = calloc(labels, sizeof *r->counts);
  memcpy(r->bucket_bounds, bounds, bounds_len * sizeof *bounds);
  r->bucket_count = (uint32_t)bounds_len;
  r->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int err = errno;
  const char *step = r->counts == NULL ? "calloc" : r->epoll_fd < 0 ? "epoll_create1" : r->stop_fd < 0 ? "eventfd" : NULL;
  if (step == NULL) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = STOP_KEY};
    if (epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, r->stop_fd, &ev) != 0) {
      err = errno;
      step = "epoll_ctl";
    }
  }
  napi_value name;
  napi_create_string_utf8(env, "cnm DNS responder", NAPI_AUTO_LENGTH, &name);
  if (step == NULL && napi_create_threadsafe_function(env, argv[0], NULL, name, FALLBACK_QUEUE, 1, NULL, NULL, NULL, call_js, &r->tsfn) != napi_ok) {
    err = EINVAL;
    step = "napi_create_threadsafe_function";
  }
  if (step == NULL) {
    /* The sockets keep nothing alive in Node's loop: the daemon's own servers do that. */
    napi_unref_threadsafe_function(env, r->tsfn);
    err = pthread_create(&r->thread, NULL, run, r);
    if (err != 0) {
      step = "pthread_create";
      napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
    } else {
      r->thread_started = 1;
    }
  }
  if (step != NULL) {
    stop_and_free(r);
    pthread_mutex_destroy(&r->lock);
    free(r);
    cnm_throw_errno(env, err, step, "DNS responder");
    return NULL;
  }
  napi_value handle;
  napi_create_external(env, r, finalize, NULL, &handle);
  return handle;
}

/* dnsResponderWatch(handle, slot, fd): the responder owns fd from now on (and closes it). */
static napi_value responder_watch(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = argc == 3 ? unwrap(env, argv[0]) : NULL;
  if (r == NULL) return NULL;
  uint32_t slot;
  int fd;
  if (napi_get_value_uint32(env, argv[1], &slot) != napi_ok || slot >= 1u << 24) {
    napi_throw_type_error(env, NULL, "slot must be an integer below 2^24");
    return NULL;
  }
  if (cnm_arg_int(env, argv[2], &fd, "fd") != 0) return NULL;
  pthread_mutex_lock(&r->lock);
  if (slot >= r->slot_capacity) {
    uint32_t capacity = r->slot_capacity == 0 ? 64 : r->slot_capacity;
    while (capacity <= slot) capacity *= 2;
    registration *grown = realloc(r->slots, capacity * sizeof *grown);
    if (grown == NULL) {
      pthread_mutex_unlock(&r->lock);
      cnm_throw_errno(env, ENOMEM, "realloc", "DNS responder slots");
      return NULL;
    }
    for (uint32_t i = r->slot_capacity; i < capacity; i++) grown[i].fd = -1;
    r->slots = grown;
    r->slot_capacity = capacity;
  }
  if (r->slots[slot].fd >= 0) {
    pthread_mutex_unlock(&r->lock);
    cnm_throw_message(env, "dnsResponderWatch: slot already in use");
    return NULL;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = slot};
  if (epoll_ctl(r->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int err = errno;
    pthread_mutex_unlock(&r->lock);
    cnm_throw_errno(env, err, "epoll_ctl", "DNS listener");
    return NULL;
  }
  r->slots[slot].fd = fd;
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

/* dnsResponderUnwatch(handle, slot): stops serving the slot and closes its socket. */
static napi_value responder_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = argc == 2 ? unwrap(env, argv[0]) : NULL;
  if (r == NULL) return NULL;
  uint32_t slot;
  if (napi_get_value_uint32(env, argv[1], &slot) != napi_ok) return NULL;
  pthread_mutex_lock(&r->lock);
  if (slot < r->slot_capacity && r->slots[slot].fd >= 0) {
    epoll_ctl(r->epoll_fd, EPOLL_CTL_DEL, r->slots[slot].fd, NULL);
    close(r->slots[slot].fd);
    r->slots[slot].fd = -1;
  }
  pthread_mutex_unlock(&r->lock);
  return NULL;
}

/* Swaps a built table in; the old one is freed once no batch can hold it (batches read the
 * table under the lock). */
static void swap_table(napi_env env, responder *r, cnm_dns_table *table) {
  pthread_mutex_lock(&r->lock);
  cnm_dns_table *old = r->table;
  r->table = table;
  pthread_mutex_unlock(&r->lock);
  cnm_dns_table_free(old);
  report_memory(env);
}

static void throw_problem(napi_env env, const char *what, const char *problem) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, problem ? problem : "out of memory");
  cnm_throw_message(env, message);
}

/* dnsResponderInstall(handle, table: Buffer): a whole compiled table, validated, indexed and
 * swapped in (tests, tools: the resolver installs networks). */
static napi_value responder_install(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = argc == 2 ? unwrap(env, argv[0]) : NULL;
  if (r == NULL) return NULL;
  uint8_t *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], (void **)&data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "table must be a Buffer");
    return NULL;
  }
  const char *problem = NULL;
  cnm_dns_table *table = cnm_dns_table_build(data, length, &problem);
  if (table == NULL) {
    report_memory(env);
    throw_problem(env, "dnsResponderInstall", problem);
    return NULL;
  }
  swap_table(env, r, table);
  return NULL;
}

/* A network sub-table as JavaScript holds it: released explicitly or when collected. */
typedef struct {
  cnm_dns_network *network;
} network_handle;

static void network_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  network_handle *h = data;
  cnm_dns_network_unref(h->network);
  free(h);
  report_memory(env);
}

static network_handle *unwrap_network(napi_env env, napi_value value) {
  network_handle *h = NULL;
  if (napi_get_value_external(env, value, (void **)&h) != napi_ok || h == NULL || h->network == NULL) {
    napi_throw_type_error(env, NULL, "not a live DNS network handle");
    return NULL;
  }
  return h;
}

static napi_value wrap_network(napi_env env, cnm_dns_network *network) {
  network_handle *h = malloc(sizeof *h);
  napi_value result;
  if (h == NULL || napi_create_external(env, h, network_finalize, NULL, &result) != napi_ok) {
    free(h);
    cnm_dns_network_unref(network);
    report_memory(env);
    cnm_throw_errno(env, ENOMEM, "malloc", "DNS network handle");
    return NULL;
  }
  h->network = network;
  report_memory(env);
  return result;
}

/* dnsNetworkBuild(entries: Buffer, count) -> handle: one network's entries, copied and indexed. */
static napi_value network_build(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *data;
  size_t length;
  uint32_t count;
  if (argc < 2 || napi_get_buffer_info(env, argv[0], (void **)&data, &length) != napi_ok || napi_get_value_uint32(env, argv[1], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "dnsNetworkBuild(entries: Buffer, count)");
    return NULL;
  }
  const char *problem = NULL;
  cnm_dns_network *network = cnm_dns_network_build(data, length, count, &problem);
  if (network == NULL) {
    throw_problem(env, "dnsNetworkBuild", problem);
    return NULL;
  }
  return wrap_network(env, network);
}

/* dnsNetworkDerive(base, delta: Buffer, count) -> handle: base with the delta applied (base
 * stays as it was: a table in force may use it). */
static napi_value network_derive(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  network_handle *base = argc == 3 ? unwrap_network(env, argv[0]) : NULL;
  if (base == NULL) return NULL;
  uint8_t *data;
  size_t length;
  uint32_t count;
  if (napi_get_buffer_info(env, argv[1], (void **)&data, &length) != napi_ok || napi_get_value_uint32(env, argv[2], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "dnsNetworkDerive(base, delta: Buffer, count)");
    return NULL;
  }
  const char *problem = NULL;
  cnm_dns_network *network = cnm_dns_network_derive(base->network, data, length, count, &problem);
  if (network == NULL) {
    report_memory(env);
    throw_problem(env, "dnsNetworkDerive", problem);
    return NULL;
  }
  return wrap_network(env, network);
}

/* dnsNetworkRelease(handle): JavaScript is done with it (tables in force keep their own). */
static napi_value network_release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  network_handle *h = argc == 1 ? unwrap_network(env, argv[0]) : NULL;
  if (h == NULL) return NULL;
  cnm_dns_network_unref(h->network);
  h->network = NULL;
  report_memory(env);
  return NULL;
}

/* dnsResponderInstallNetworks(handle, head: Buffer, networks: handle[]): a table from its head
 * (views and slots) and its networks' sub-tables, swapped in whole. */
static napi_value responder_install_networks(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = argc == 3 ? unwrap(env, argv[0]) : NULL;
  if (r == NULL) return NULL;
  uint8_t *head;
  size_t length;
  uint32_t count;
  bool is_array = false;
  if (napi_get_buffer_info(env, argv[1], (void **)&head, &length) != napi_ok || napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[2], &count) != napi_ok || count > 65535) {
    napi_throw_type_error(env, NULL, "dnsResponderInstallNetworks(handle, head: Buffer, networks: handle[])");
    return NULL;
  }
  cnm_dns_network **networks = calloc(count + 1, sizeof *networks);
  if (networks == NULL) {
    cnm_throw_errno(env, ENOMEM, "calloc", "DNS table");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    network_handle *h = NULL;
    if (napi_get_element(env, argv[2], i, &element) != napi_ok || (h = unwrap_network(env, element)) == NULL) {
      free(networks);
      return NULL;
    }
    networks[i] = h->network;
  }
  const char *problem = NULL;
  cnm_dns_table *table = cnm_dns_table_assemble(head, length, networks, count, &problem);
  free(networks);
  if (table == NULL) {
    throw_problem(env, "dnsResponderInstallNetworks", problem);
    return NULL;
  }
  swap_table(env, r, table);
  return NULL;
}

/* dnsResponderSend(handle, slot, reply, address, port): a JavaScript answer on the slot's socket. */
static napi_value responder_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = argc == 5 ? unwrap(env, argv[0]) : NULL;
  if (r == NULL) return NULL;
  uint32_t slot, port;
  void *data;
  size_t length;
  char address[INET_ADDRSTRLEN + 1];
  if (napi_get_value_uint32(env, argv[1], &slot) != napi_ok || napi_get_buffer_info(env, argv[2], &data, &length) != napi_ok ||
      cnm_arg_string(env, argv[3], address, sizeof address, "address") != 0 || napi_get_value_uint32(env, argv[4], &port) != napi_ok) {
    if (!r->closed) napi_throw_type_error(env, NULL, "dnsResponderSend(handle, slot, reply, address, port)");
    return NULL;
  }
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, address, &to.sin_addr) != 1) return NULL;
  /* Only this (JS) thread opens and closes slots, so the fd cannot change under us. */
  int fd = slot < r->slot_capacity ? r->slots[slot].fd : -1;
  if (fd >= 0) sendto(fd, data, length, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
  return NULL;
}

/* dnsResponderAnswer(handle, slot, msg) -> Buffer | null: the native answer, without sockets
 * (the differential test compares it with the TypeScript path's). */
static napi_value responder_answer(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = argc == 3 ? unwrap(env, argv[0]) : NULL;
  if (r == NULL) return NULL;
  uint32_t slot;
  uint8_t *msg;
  size_t length;
  if (napi_get_value_uint32(env, argv[1], &slot) != napi_ok || napi_get_buffer_info(env, argv[2], (void **)&msg, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "dnsResponderAnswer(handle, slot, msg: Buffer)");
    return NULL;
  }
  uint8_t out[CNM_DNS_MAX_REPLY];
  uint16_t qtype;
  pthread_mutex_lock(&r->lock);
  int view = cnm_dns_view_of(r->table, slot);
  /* As the thread: at most RECV_BYTES of a message are read. */
  size_t reply = view >= 0 ? cnm_dns_answer(r->table, view, msg, length > RECV_BYTES ? RECV_BYTES : length, out, &qtype) : 0;
  pthread_mutex_unlock(&r->lock);
  napi_value result;
  if (reply == 0) {
    napi_get_null(env, &result);
  } else {
    void *copy;
    napi_create_buffer_copy(env, reply, out, &copy, &result);
  }
  return result;
}

/* dnsResponderStats(handle) -> Float64Array: counts by type label, then the latency buckets,
 * then the sum of seconds, the fallbacks and the fallbacks dropped (queue full). */
static napi_value responder_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = argc == 1 ? unwrap(env, argv[0]) : NULL;
  if (r == NULL) return NULL;
  size_t total = r->type_labels + r->bucket_count + 1 + 3;
  napi_value ab, result;
  double *out;
  napi_create_arraybuffer(env, total * sizeof(double), (void **)&out, &ab);
  pthread_mutex_lock(&r->lock);
  memcpy(out, r->counts, r->type_labels * sizeof(double));
  memcpy(out + r->type_labels, r->buckets, (r->bucket_count + 1) * sizeof(double));
  out[total - 3] = r->seconds_sum;
  out[total - 2] = r->fallbacks;
  out[total - 1] = r->fallbacks_dropped;
  pthread_mutex_unlock(&r->lock);
  napi_create_typedarray(env, napi_float64_array, total, ab, 0, &result);
  return result;
}

/* dnsResponderClose(handle): stops the thread and closes every socket it owns. */
static napi_value responder_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  responder *r = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&r) != napi_ok || r == NULL || r->closed) return NULL;
  stop_and_free(r);
  report_memory(env);
  napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
  r->closed = 1;
  return NULL;
}

napi_value cnm_responder_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"dnsResponderOpen", NULL, responder_open, NULL, NULL, NULL, napi_default, NULL},
      {"dnsResponderWatch", NULL, responder_watch, NULL, NULL, NULL, napi_default, NULL},
      {"dnsResponderUnwatch", NULL, responder_unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"dnsResponderInstall", NULL, responder_install, NULL, NULL, NULL, napi_default, NULL},
      {"dnsResponderInstallNetworks", NULL, responder_install_networks, NULL, NULL, NULL, napi_default, NULL},
      {"dnsNetworkBuild", NULL, network_build, NULL, NULL, NULL, napi_default, NULL},
      {"dnsNetworkDerive", NULL, network_derive, NULL, NULL, NULL, napi_default, NULL},
      {"dnsNetworkRelease", NULL, network_release, NULL, NULL, NULL, napi_default, NULL},
      {"dnsResponderSend", NULL, responder_send, NULL, NULL, NULL, napi_default, NULL},
      {"dnsResponderAnswer", NULL, responder_answer, NULL, NULL, NULL, napi_default, NULL},
      {"dnsResponderStats", NULL, responder_stats, NULL, NULL, NULL, napi_default, NULL},
      {"dnsResponderClose", NULL, responder_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
