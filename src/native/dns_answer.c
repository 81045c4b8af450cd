/* Table and answers of the native resolver path (see dns_answer.h). Every rule here has its
 * twin in src/resolver/wire.ts (parseQuery, writeHeader, writeOpt, emptyResponse) and
 * src/resolver/local.ts (resolveLocal); the differential test keeps them identical. */
#include "dns_answer.h"

#include <stdlib.h>
#include <string.h>

#define TABLE_MAGIC 0x544d4e43u /* "CNMT" little-endian */
#define TABLE_VERSION 2u
#define KIND_NAMES 0
#define KIND_REVERSE 1
#define SEVERAL 0xffffu

#define TYPE_A 1
#define TYPE_PTR 12
#define TYPE_AAAA 28
#define TYPE_OPT 41
#define TYPE_ANY 255
#define CLASS_IN 1
#define HEADER 12
#define OPT_BYTES 11
#define CLASSIC_UDP 512
#define MAX_UDP 65507

typedef struct {
  uint32_t flags; /* bit 0: ndots set */
  uint32_t count;
  const uint32_t *networks; /* into views_data */
} view;

/* Entries as JavaScript sent them, shared by every version of a network that still indexes one
 * of them. Never changed once made. */
typedef struct {
  uint32_t refs;
  size_t length;
  uint8_t bytes[];
} chunk;

/* One network's entries and their index. Immutable once built: a change derives a new version
 * that shares the unchanged entries' chunks and copies only the index (pointers), so a reader
 * never sees one being changed. Reference counts change on the JavaScript thread only. */
struct cnm_dns_network {
  uint32_t refs;
  uint32_t chunk_count, chunk_capacity;
  chunk **chunks;
  size_t chunk_bytes, dead_bytes; /* all entries in the chunks; those no longer indexed */
  uint32_t live, tombstones;
  uint32_t index_mask;
  const uint8_t **index; /* the entry; NULL empty; TOMBSTONE where one was */
};

struct cnm_dns_table {
  uint8_t *head; /* views and slots, copied */
  uint32_t networks, view_count, slot_count;
  view *views;
  uint32_t *views_data;
  const uint8_t *slot_views; /* slot_count × i32 LE, in head */
  cnm_dns_network **nets;
};

#define DELETE 2u /* delta kinds 2 and 3: the key of kind (k & 1) goes */
#define MAX_CHUNKS 32 /* a derived network with more (or with as many dead bytes as live) is compacted */
static const uint8_t tombstone_byte;
#define TOMBSTONE (&tombstone_byte)

/* An entry, read in place: kind, key length, key, the three lengths, the records. */
typedef struct {
  const uint8_t *key;
  uint8_t kind, key_length;
  uint16_t a_length, aaaa_length, ptr_length;
  const uint8_t *a, *aaaa, *ptr;
} entry;

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static size_t live_bytes; /* malloc'd by networks and tables (reported to V8 by the addon) */

size_t cnm_dns_live_bytes(void) { return __atomic_load_n(&live_bytes, __ATOMIC_RELAXED); }
static void count_bytes(long delta) { __atomic_add_fetch(&live_bytes, (size_t)delta, __ATOMIC_RELAXED); }

static uint32_t hash_of(uint32_t kind, const uint8_t *key, size_t length) {
  uint32_t h = 2166136261u ^ kind;
  for (size_t i = 0; i < length; i++) h = (h ^ key[i]) * 16777619u;
  return h ^ (h >> 15);
}

/* Reads the entry at p (validated when it was added). */
static const uint8_t *read_entry(const uint8_t *p, entry *e) {
  e->kind = p[0];
  e->key_length = p[1];
  e->key = p + 2;
  p += 2 + e->key_length;
  e->a_length = le16(p);
  e->aaaa_length = le16(p + 2);
  e->ptr_length = le16(p + 4);
  p += 6;
  e->a = p;
  p += e->a_length == 16 ? 16 : 0;
  e->aaaa = p;
  p += e->aaaa_length == 28 ? 28 : 0;
  e->ptr = p;
  return p + e->ptr_length;
}

/* The size of the entry at p if it is well formed and fits before end (kinds up to max_kind;
 * a deletion carries no record), else 0. */
static size_t entry_size(const uint8_t *p, const uint8_t *end, uint8_t max_kind) {
  if (end - p < 8 || p[0] > max_kind || p[1] == 0 || end - p < 8 + p[1]) return 0;
  const uint8_t *lengths = p + 2 + p[1];
  uint16_t a = le16(lengths), aaaa = le16(lengths + 2), ptr = le16(lengths + 4);
  if ((a != 0 && a != 16 && a != SEVERAL) || (aaaa != 0 && aaaa != 28 && aaaa != SEVERAL) || (ptr != 0 && (ptr < 13 || ptr > 12 + 255))) return 0;
  size_t bytes = (a == 16 ? 16u : 0u) + (aaaa == 28 ? 28u : 0u) + ptr;
  if ((p[0] & DELETE) && (a | aaaa | ptr) != 0) return 0;
  if ((size_t)(end - lengths - 6) < bytes) return 0;
  return 8 + p[1] + bytes;
}

static size_t entry_bytes(const uint8_t *p) {
  entry e;
  return (size_t)(read_entry(p, &e) - p);
}

/* The index cell holding key of kind in n, or NULL. */
static const uint8_t **index_find(const cnm_dns_network *n, uint32_t kind, const uint8_t *key, size_t length) {
  uint32_t at = hash_of(kind, key, length) & n->index_mask;
  for (;;) {
    const uint8_t *p = n->index[at];
    if (p == NULL) return NULL;
    if (p != TOMBSTONE && p[0] == kind && p[1] == length && memcmp(p + 2, key, length) == 0) return &n->index[at];
    at = (at + 1) & n->index_mask;
  }
}

static void index_insert(cnm_dns_network *n, const uint8_t *p) {
  uint32_t at = hash_of(p[0], p + 2, p[1]) & n->index_mask;
  while (n->index[at] != NULL && n->index[at] != TOMBSTONE) at = (at + 1) & n->index_mask;
  if (n->index[at] == TOMBSTONE) n->tombstones--;
  n->index[at] = p;
}

static size_t index_bytes(const cnm_dns_network *n) { return n->index == NULL ? 0 : (n->index_mask + 1) * sizeof *n->index; }

/* A fresh index for n's entries (those of old_index, if given) with room for `room` more, at a
 * load of at most 1/2. */
static int reindex(cnm_dns_network *n, const uint8_t *const *old_index, uint32_t old_capacity, uint32_t room) {
  uint32_t capacity = 16;
  while (capacity < (n->live + room) * 2u) capacity *= 2;
  const uint8_t **index = calloc(capacity, sizeof *index);
  if (index == NULL) return -1;
  count_bytes((long)(capacity * sizeof *index) - (long)index_bytes(n));
  free(n->index);
  n->index = index;
  n->index_mask = capacity - 1;
  n->tombstones = 0;
  for (uint32_t i = 0; i < old_capacity; i++)
    if (old_index[i] != NULL && old_index[i] != TOMBSTONE) index_insert(n, old_index[i]);
  return 0;
}

static chunk *chunk_new(const uint8_t *bytes, size_t length) {
  chunk *c = malloc(sizeof *c + (length ? length : 1));
  if (c == NULL) return NULL;
  c->refs = 1;
  c->length = length;
  if (bytes != NULL) memcpy(c->bytes, bytes, length);
  count_bytes((long)(sizeof *c + length));
  return c;
}

static void chunk_unref(chunk *c) {
  if (c == NULL || --c->refs > 0) return;
  count_bytes(-(long)(sizeof *c + c->length));
  free(c);
}

void cnm_dns_network_unref(cnm_dns_network *n) {
  if (n == NULL || --n->refs > 0) return;
  for (uint32_t i = 0; i < n->chunk_count; i++) chunk_unref(n->chunks[i]);
  count_bytes(-(long)(index_bytes(n) + sizeof *n + (size_t)(n->chunk_capacity + 1) * sizeof *n->chunks));
  free(n->chunks);
  free(n->index);
  free(n);
}

static void cnm_dns_network_ref(cnm_dns_network *n) { n->refs++; }

static cnm_dns_network *network_fail(cnm_dns_network *n, const char **problem, const char *why) {
  *problem = why;
  cnm_dns_network_unref(n);
  return NULL;
}

/* A network with room for `chunks` chunks and no index yet. */
static cnm_dns_network *network_new(uint32_t chunks) {
  cnm_dns_network *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  n->refs = 1;
  n->chunks = calloc(chunks + 1, sizeof *n->chunks);
  n->chunk_capacity = chunks;
  count_bytes((long)(sizeof *n + (size_t)(chunks + 1) * sizeof *n->chunks));
  if (n->chunks == NULL) {
    cnm_dns_network_unref(n);
    return NULL;
  }
  return n;
}

/* Checks length bytes of entries (kinds up to max_kind); their number, or -1. */
static long count_entries(const uint8_t *entries, size_t length, uint8_t max_kind, uint32_t *added, size_t *added_bytes) {
  long seen = 0;
  for (const uint8_t *p = entries, *end = entries + length; p < end; seen++) {
    size_t size = entry_size(p, end, max_kind);
    if (size == 0) return -1;
    if (!(p[0] & DELETE)) {
      (*added)++;
      *added_bytes += size;
    }
    p += size;
  }
  return seen;
}

cnm_dns_network *cnm_dns_network_build(const uint8_t *entries, size_t length, uint32_t count, const char **problem) {
  *problem = NULL;
  uint32_t added = 0;
  size_t added_bytes = 0;
  if (count > (1u << 26) || count_entries(entries, length, KIND_REVERSE, &added, &added_bytes) != (long)count) {
    *problem = "bad entry, or entries do not match their count";
    return NULL;
  }
  cnm_dns_network *n = network_new(1);
  if (n == NULL) return NULL;
  if ((n->chunks[0] = chunk_new(entries, length)) == NULL) return network_fail(n, problem, "out of memory");
  n->chunk_count = 1;
  n->chunk_bytes = length;
  if (reindex(n, NULL, 0, count) != 0) return network_fail(n, problem, "out of memory");
  for (const uint8_t *p = n->chunks[0]->bytes, *end = p + length; p < end; p += entry_bytes(p)) {
    /* A key sent twice: the last one holds it (as a delta would). */
    const uint8_t **cell = index_find(n, p[0], p + 2, p[1]);
    if (cell != NULL) {
      n->dead_bytes += entry_bytes(*cell);
      *cell = p;
    } else {
      index_insert(n, p);
      n->live++;
    }
  }
  return n;
}

/* n's live entries copied into one new chunk, with a new index: the dead bytes go. */
static int compact(cnm_dns_network *n) {
  chunk *c = chunk_new(NULL, n->chunk_bytes - n->dead_bytes);
  if (c == NULL) return -1;
  const uint8_t **old = n->index;
  uint32_t old_capacity = n->index_mask + 1;
  size_t used = 0;
  for (uint32_t i = 0; i < old_capacity; i++) {
    if (old[i] == NULL || old[i] == TOMBSTONE) continue;
    size_t size = entry_bytes(old[i]);
    memcpy(c->bytes + used, old[i], size);
    old[i] = c->bytes + used;
    used += size;
  }
  for (uint32_t i = 0; i < n->chunk_count; i++) chunk_unref(n->chunks[i]);
  n->chunks[0] = c;
  n->chunk_count = 1;
  n->chunk_bytes = used;
  n->dead_bytes = 0;
  return 0;
}

cnm_dns_network *cnm_dns_network_derive(const cnm_dns_network *base, const uint8_t *delta, size_t length, uint32_t count, const char **problem) {
  *problem = NULL;
  uint32_t added = 0;
  size_t added_bytes = 0;
  if (count > (1u << 26) || count_entries(delta, length, KIND_REVERSE | DELETE, &added, &added_bytes) != (long)count) {
    *problem = "bad delta entry, or delta entries do not match their count";
    return NULL;
  }
  cnm_dns_network *n = network_new(base->chunk_count + 1);
  if (n == NULL) return NULL;
  for (uint32_t i = 0; i < base->chunk_count; i++) {
    n->chunks[i] = base->chunks[i];
    n->chunks[i]->refs++;
  }
  n->chunk_count = base->chunk_count;
  n->chunk_bytes = base->chunk_bytes;
  n->dead_bytes = base->dead_bytes;
  n->live = base->live;
  chunk *c = chunk_new(delta, length);
  if (c == NULL) return network_fail(n, problem, "out of memory");
  n->chunks[n->chunk_count++] = c;
  n->chunk_bytes += length;
  /* Deletions are kept in the chunk too (never indexed): counted dead from the start. */
  n->dead_bytes += length - added_bytes;
  uint32_t base_capacity = base->index_mask + 1;
  if ((base->live + base->tombstones + added) * 2u > base_capacity) {
    if (reindex(n, base->index, base_capacity, added) != 0) return network_fail(n, problem, "out of memory");
  } else {
    n->index = malloc(base_capacity * sizeof *n->index);
    if (n->index == NULL) return network_fail(n, problem, "out of memory");
    count_bytes((long)(base_capacity * sizeof *n->index));
    memcpy(n->index, base->index, base_capacity * sizeof *n->index);
    n->index_mask = base->index_mask;
    n->tombstones = base->tombstones;
  }
  for (const uint8_t *p = c->bytes, *end = p + length; p < end;) {
    size_t size = entry_bytes(p);
    const uint8_t **cell = index_find(n, p[0] & KIND_REVERSE, p + 2, p[1]);
    if (cell != NULL) {
      n->dead_bytes += entry_bytes(*cell);
      *cell = TOMBSTONE;
      n->tombstones++;
      n->live--;
    }
    if (!(p[0] & DELETE)) {
      index_insert(n, p);
      n->live++;
    }
    p += size;
  }
  if (n->chunk_count >= MAX_CHUNKS || (n->dead_bytes > 4096 && n->dead_bytes * 2 > n->chunk_bytes)) {
    if (compact(n) != 0) return network_fail(n, problem, "out of memory");
  }
  return n;
}

void cnm_dns_table_free(cnm_dns_table *t) {
  if (t == NULL) return;
  if (t->nets != NULL)
    for (uint32_t i = 0; i < t->networks; i++) cnm_dns_network_unref(t->nets[i]);
  free(t->nets);
  free(t->views);
  free(t->views_data);
  free(t->head);
  free(t);
}

static cnm_dns_table *fail(cnm_dns_table *t, const char **problem, const char *why) {
  *problem = why;
  cnm_dns_table_free(t);
  return NULL;
}

/* The length of the head (everything before the networks' entries) of a table, or 0. */
static size_t head_length(const uint8_t *data, size_t length, const char **problem) {
  if (length < 24 || le32(data) != TABLE_MAGIC || le32(data + 4) != TABLE_VERSION) {
    *problem = "not a table of this version";
    return 0;
  }
  uint32_t networks = le32(data + 8), view_count = le32(data + 12), slot_count = le32(data + 16);
  if (networks > 65535 || view_count > (1u << 24) || slot_count > (1u << 24) || le32(data + 20) > (1u << 26)) {
    *problem = "counts out of range";
    return 0;
  }
  const uint8_t *q = data + 24, *end = data + length;
  for (uint32_t v = 0; v < view_count; v++) {
    if (end - q < 8) {
      *problem = "views truncated";
      return 0;
    }
    uint32_t count = le32(q + 4);
    if (count > networks || (size_t)(end - q - 8) < (size_t)count * 4) {
      *problem = "view truncated";
      return 0;
    }
    q += 8 + (size_t)count * 4;
  }
  if ((size_t)(end - q) < (size_t)slot_count * 4) {
    *problem = "slots truncated";
    return 0;
  }
  return (size_t)(q - data) + (size_t)slot_count * 4;
}

cnm_dns_table *cnm_dns_table_assemble(const uint8_t *head, size_t length, cnm_dns_network *const *nets, uint32_t net_count, const char **problem) {
  *problem = NULL;
  size_t used_length = head_length(head, length, problem);
  if (used_length == 0) return NULL;
  if (used_length != length) {
    *problem = "the head has bytes after its slots";
    return NULL;
  }
  cnm_dns_table *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->networks = le32(head + 8);
  t->view_count = le32(head + 12);
  t->slot_count = le32(head + 16);
  if (t->networks != net_count) {
    t->networks = 0;
    return fail(t, problem, "the head counts other networks than given");
  }
  t->nets = calloc(net_count + 1, sizeof *t->nets);
  t->head = malloc(length);
  if (t->nets == NULL || t->head == NULL) {
    t->networks = 0;
    return fail(t, problem, "out of memory");
  }
  for (uint32_t i = 0; i < net_count; i++) {
    if (nets[i] == NULL) {
      t->networks = i;
      return fail(t, problem, "a network was released");
    }
    cnm_dns_network_ref(nets[i]);
    t->nets[i] = nets[i];
  }
  memcpy(t->head, head, length);
  const uint8_t *p = t->head + 24;

  /* Views: counted first, so that their network lists take one small allocation. */
  size_t words = 0;
  {
    const uint8_t *q = p;
    for (uint32_t v = 0; v < t->view_count; v++) {
      uint32_t count = le32(q + 4);
      words += count;
      q += 8 + (size_t)count * 4;
    }
  }
  t->views = calloc(t->view_count + 1, sizeof *t->views);
  t->views_data = calloc(words + 1, sizeof *t->views_data);
  if (t->views == NULL || t->views_data == NULL) return fail(t, problem, "out of memory");
  size_t used = 0;
  for (uint32_t v = 0; v < t->view_count; v++) {
    uint32_t flags = le32(p), count = le32(p + 4);
    p += 8;
    t->views[v].flags = flags;
    t->views[v].count = count;
    t->views[v].networks = t->views_data + used;
    for (uint32_t i = 0; i < count; i++, p += 4) {
      uint32_t network = le32(p);
      if (network >= t->networks) return fail(t, problem, "view names an unknown network");
      t->views_data[used++] = network;
    }
  }
  t->slot_views = p;
  for (uint32_t s = 0; s < t->slot_count; s++, p += 4) {
    int32_t v = (int32_t)le32(p);
    if (v < -1 || v >= (int32_t)t->view_count) return fail(t, problem, "slot names an unknown view");
  }
  return t;
}

cnm_dns_table *cnm_dns_table_build(const uint8_t *data, size_t length, const char **problem) {
  *problem = NULL;
  size_t head = head_length(data, length, problem);
  if (head == 0) return NULL;
  uint32_t networks = le32(data + 8), entries = le32(data + 20), seen = 0;
  cnm_dns_network **nets = calloc(networks + 1, sizeof *nets);
  if (nets == NULL) return NULL;
  cnm_dns_table *t = NULL;
  const uint8_t *p = data + head, *end = data + length;
  uint32_t built = 0;
  for (; built < networks; built++) {
    if (end - p < 4) {
      *problem = "network truncated";
      break;
    }
    uint32_t count = le32(p);
    p += 4;
    const uint8_t *start = p;
    uint32_t i = 0;
    for (; i < count && i <= entries; i++) {
      size_t size = entry_size(p, end, KIND_REVERSE);
      if (size == 0) break;
      p += size;
    }
    if (i != count || (seen += count) > entries) {
      *problem = i != count ? "bad entry" : "more entries than announced";
      break;
    }
    nets[built] = cnm_dns_network_build(start, (size_t)(p - start), count, problem);
    if (nets[built] == NULL) break;
  }
  if (*problem == NULL && built == networks) {
    if (seen != entries || p != end) *problem = "entries do not fill the table";
    else t = cnm_dns_table_assemble(data, head, nets, networks, problem);
  }
  for (uint32_t i = 0; i < built; i++) cnm_dns_network_unref(nets[i]);
  free(nets);
  if (t == NULL && *problem == NULL) *problem = "out of memory";
  return t;
}

int cnm_dns_view_of(const cnm_dns_table *t, uint32_t slot) {
  if (t == NULL || slot >= t->slot_count) return -1;
  return (int32_t)le32(t->slot_views + 4 * (size_t)slot);
}

static int find(const cnm_dns_table *t, uint32_t network, uint32_t kind, const uint8_t *key, size_t length, entry *e) {
  const uint8_t **cell = index_find(t->nets[network], kind, key, length);
  if (cell == NULL) return 0;
  read_entry(*cell, e);
  return 1;
}

/* The parts of a query the answer needs: parseQuery's Query, without the key string. */
typedef struct {
  uint16_t id, flags, qtype, qclass;
  size_t question_end;
  uint32_t labels;
  int edns;
  uint32_t udp_payload;
  int dnssec_ok;
  uint8_t key[256];
  size_t key_length;
} query;

/* wire.ts skipName: offset after a possibly compressed name, -1 when malformed. */
static long skip_name(const uint8_t *msg, size_t length, size_t pos) {
  for (;;) {
    if (pos >= length) return -1;
    uint8_t len = msg[pos];
    if (len == 0) return (long)pos + 1;
    if ((len & 0xc0) == 0xc0) return pos + 2 <= length && (size_t)(be16(msg + pos) & 0x3fff) < pos ? (long)pos + 2 : -1;
    if (len > 63) return -1;
    pos += 1 + (size_t)len;
  }
}

/* wire.ts parseQuery + readRecords; 1 only for the verdict Answer (everything else: JS). */
static int parse(const uint8_t *msg, size_t length, query *q) {
  if (length < HEADER || length > CNM_DNS_MAX_QUERY) return 0;
  uint16_t flags = be16(msg + 2);
  if ((flags & 0x8000) != 0 || ((flags >> 11) & 0xf) != 0 || be16(msg + 4) != 1) return 0;
  q->id = be16(msg);
  q->flags = flags;
  size_t pos = HEADER, out = 0;
  uint32_t labels = 0;
  for (;;) {
    if (pos >= length) return 0;
    uint8_t len = msg[pos++];
    q->key[out++] = len;
    if (len == 0) break;
    if (len > 63 || pos + len > length || out + len > 255) return 0;
    for (size_t e = pos + len; pos < e; pos++) {
      uint8_t c = msg[pos];
      q->key[out++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    labels++;
  }
  if (pos + 4 > length) return 0;
  q->qtype = be16(msg + pos);
  q->qclass = be16(msg + pos + 2);
  q->question_end = pos + 4;
  q->labels = labels;
  q->key_length = out;
  q->edns = 0;
  q->udp_payload = CLASSIC_UDP;
  q->dnssec_ok = 0;
  uint32_t additional = be16(msg + 10);
  uint32_t records = be16(msg + 6) + be16(msg + 8) + additional;
  uint32_t first_additional = records - additional;
  uint32_t version = 0;
  pos = q->question_end;
  for (uint32_t i = 0; i < records; i++) {
    size_t name_start = pos;
    long next = skip_name(msg, length, pos);
    if (next < 0 || (size_t)next + 10 > length) return 0;
    pos = (size_t)next;
    uint16_t type = be16(msg + pos);
    uint16_t rdlength = be16(msg + pos + 8);
    if (type == TYPE_OPT) {
      if (i < first_additional || q->edns || pos != name_start + 1) return 0;
      size_t start = pos + 10, end = start + rdlength;
      if (end > length) return 0;
      size_t o = start;
      while (o + 4 <= end) o += 4 + (size_t)be16(msg + o + 2);
      if (o != end) return 0;
      q->edns = 1;
      uint16_t payload = be16(msg + pos + 2);
      q->udp_payload = payload > CLASSIC_UDP ? payload : CLASSIC_UDP;
      version = msg[pos + 5];
      q->dnssec_ok = (be16(msg + pos + 6) & 0x8000) != 0;
    }
    pos += 10 + (size_t)rdlength;
    if (pos > length) return 0;
  }
  return !(q->edns && version != 0);
}

/* wire.ts writeHeader + the question as sent, then `record`, then writeOpt (no EDE). */
static size_t reply(const uint8_t *msg, const query *q, const uint8_t *record, size_t record_length, uint8_t *out) {
  size_t limit = q->edns ? (q->udp_payload < MAX_UDP ? q->udp_payload : MAX_UDP) : CLASSIC_UDP;
  size_t total = q->question_end + record_length + (q->edns ? OPT_BYTES : 0);
  /* Too large: the TypeScript path truncates (TC). Cannot happen for one record under 512
   * bytes except with the longest names; left to it all the same. */
  if (total > limit || total > CNM_DNS_MAX_REPLY) return 0;
  uint16_t flags = (uint16_t)(0x8000 | (q->flags & (0x0100 | 0x0010)) | 0x0080);
  out[0] = (uint8_t)(q->id >> 8);
  out[1] = (uint8_t)q->id;
  out[2] = (uint8_t)(flags >> 8);
  out[3] = (uint8_t)flags;
  out[4] = 0;
  out[5] = 1;
  out[6] = 0;
  out[7] = record_length > 0 ? 1 : 0;
  out[8] = 0;
  out[9] = 0;
  out[10] = 0;
  out[11] = q->edns ? 1 : 0;
  memcpy(out + HEADER, msg + HEADER, q->question_end - HEADER);
  size_t pos = q->question_end;
  if (record_length > 0) memcpy(out + pos, record, record_length);
  pos += record_length;
  if (q->edns) {
    static const uint8_t opt[OPT_BYTES] = {0, 0, TYPE_OPT, 1232 >> 8, 1232 & 0xff, 0, 0, 0, 0, 0, 0};
    memcpy(out + pos, opt, OPT_BYTES);
    if (q->dnssec_ok) out[pos + 7] = 0x80;
    pos += OPT_BYTES;
  }
  return pos;
}

size_t cnm_dns_answer(const cnm_dns_table *t, int view_index, const uint8_t *msg, size_t length, uint8_t *out, uint16_t *qtype) {
  if (t == NULL || view_index < 0 || (uint32_t)view_index >= t->view_count) return 0;
  query q;
  if (!parse(msg, length, &q) || q.qclass != CLASS_IN || q.qtype == TYPE_ANY) return 0;
  const view *v = &t->views[view_index];
  *qtype = q.qtype;
  int owned = 0;
  for (uint32_t i = 0; i < v->count; i++) {
    uint32_t network = v->networks[i];
    entry names, reverse;
    int has_names = find(t, network, KIND_NAMES, q.key, q.key_length, &names);
    int has_reverse = find(t, network, KIND_REVERSE, q.key, q.key_length, &reverse);
    owned |= has_names || has_reverse;
    switch (q.qtype) {
      case TYPE_A:
        if (has_names && names.a_length != 0) return names.a_length == 16 ? reply(msg, &q, names.a, 16, out) : 0;
        break;
      case TYPE_AAAA:
        if (has_names && names.aaaa_length != 0) return names.aaaa_length == 28 ? reply(msg, &q, names.aaaa, 28, out) : 0;
        break;
      case TYPE_PTR:
        if (has_reverse && reverse.ptr_length != 0) return reply(msg, &q, reverse.ptr, reverse.ptr_length, out);
        break;
    }
  }
  /* local.ts: an owned name, or (ndots set) an unknown single label asked for an address: NODATA. */
  if (owned || ((v->flags & 1) && q.labels == 1 && (q.qtype == TYPE_A || q.qtype == TYPE_AAAA))) return reply(msg, &q, NULL, 0, out);
  return 0;
}
