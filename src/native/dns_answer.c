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

typedef struct {
  uint32_t offset; /* of the entry in data, + 1 (0 = empty) */
  uint32_t network;
} slot_ref;

struct cnm_dns_table {
  const uint8_t *data; /* the caller's: it outlives the table */
  size_t length;
  uint32_t networks, view_count, slot_count, entry_count;
  view *views;
  uint32_t *views_data;
  const uint8_t *slot_views; /* slot_count × i32 LE, in data */
  uint32_t index_mask;
  slot_ref *index;
};

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

static uint32_t hash_of(uint32_t network, uint32_t kind, const uint8_t *key, size_t length) {
  uint32_t h = 2166136261u ^ (network * 2u + kind);
  for (size_t i = 0; i < length; i++) h = (h ^ key[i]) * 16777619u;
  return h ^ (h >> 15);
}

/* Reads the entry at p (validated when the table was built). */
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

void cnm_dns_table_free(cnm_dns_table *t) {
  if (t == NULL) return;
  free(t->views);
  free(t->views_data);
  free(t->index);
  free(t);
}

static cnm_dns_table *fail(cnm_dns_table *t, const char **problem, const char *why) {
  *problem = why;
  cnm_dns_table_free(t);
  return NULL;
}

cnm_dns_table *cnm_dns_table_build(const uint8_t *data, size_t length, const char **problem) {
  *problem = NULL;
  if (length < 24 || le32(data) != TABLE_MAGIC || le32(data + 4) != TABLE_VERSION) {
    *problem = "not a table of this version";
    return NULL;
  }
  cnm_dns_table *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->data = data;
  t->length = length;
  const uint8_t *p = data + 8, *end = data + length;
  t->networks = le32(p);
  t->view_count = le32(p + 4);
  t->slot_count = le32(p + 8);
  t->entry_count = le32(p + 12);
  p += 16;
  if (t->networks > 65535 || t->view_count > (1u << 24) || t->slot_count > (1u << 24) || t->entry_count > (1u << 26))
    return fail(t, problem, "counts out of range");

  /* Views: counted first, so that their network lists take one small allocation. */
  size_t words = 0;
  const uint8_t *q = p;
  for (uint32_t v = 0; v < t->view_count; v++) {
    if (end - q < 8) return fail(t, problem, "views truncated");
    uint32_t count = le32(q + 4);
    if (count > t->networks || (size_t)(end - q - 8) < (size_t)count * 4) return fail(t, problem, "view truncated");
    words += count;
    q += 8 + (size_t)count * 4;
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

  if ((size_t)(end - p) < (size_t)t->slot_count * 4) return fail(t, problem, "slots truncated");
  t->slot_views = p;
  for (uint32_t s = 0; s < t->slot_count; s++, p += 4) {
    int32_t v = (int32_t)le32(p);
    if (v < -1 || v >= (int32_t)t->view_count) return fail(t, problem, "slot names an unknown view");
  }

  uint32_t capacity = 16;
  while (capacity < t->entry_count * 2u) capacity *= 2;
  t->index_mask = capacity - 1;
  t->index = calloc(capacity, sizeof *t->index);
  if (t->index == NULL) return fail(t, problem, "out of memory");
  uint32_t seen = 0;
  for (uint32_t network = 0; network < t->networks; network++) {
    if (end - p < 4) return fail(t, problem, "network truncated");
    uint32_t count = le32(p);
    p += 4;
    for (uint32_t i = 0; i < count; i++) {
      if (++seen > t->entry_count) return fail(t, problem, "more entries than announced");
      if (end - p < 8 || p[0] > KIND_REVERSE || p[1] == 0 || end - p < 8 + p[1]) return fail(t, problem, "bad entry header");
      const uint8_t *lengths = p + 2 + p[1];
      uint16_t a = le16(lengths), aaaa = le16(lengths + 2), ptr = le16(lengths + 4);
      if ((a != 0 && a != 16 && a != SEVERAL) || (aaaa != 0 && aaaa != 28 && aaaa != SEVERAL) || (ptr != 0 && (ptr < 13 || ptr > 12 + 255)))
        return fail(t, problem, "bad record lengths");
      size_t bytes = (a == 16 ? 16u : 0u) + (aaaa == 28 ? 28u : 0u) + ptr;
      if ((size_t)(end - lengths - 6) < bytes) return fail(t, problem, "records truncated");
      uint32_t at = hash_of(network, p[0], p + 2, p[1]) & t->index_mask;
      while (t->index[at].offset != 0) at = (at + 1) & t->index_mask;
      t->index[at].offset = (uint32_t)(p - data) + 1;
      t->index[at].network = network;
      p = lengths + 6 + bytes;
    }
  }
  if (seen != t->entry_count || p != end) return fail(t, problem, "entries do not fill the table");
  return t;
}

int cnm_dns_view_of(const cnm_dns_table *t, uint32_t slot) {
  if (t == NULL || slot >= t->slot_count) return -1;
  return (int32_t)le32(t->slot_views + 4 * (size_t)slot);
}

static int find(const cnm_dns_table *t, uint32_t network, uint32_t kind, const uint8_t *key, size_t length, entry *e) {
  uint32_t at = hash_of(network, kind, key, length) & t->index_mask;
  for (;;) {
    const slot_ref *ref = &t->index[at];
    if (ref->offset == 0) return 0;
    const uint8_t *p = t->data + ref->offset - 1;
    if (ref->network == network && p[0] == kind && p[1] == length && memcmp(p + 2, key, length) == 0) {
      read_entry(p, e);
      return 1;
    }
    at = (at + 1) & t->index_mask;
  }
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
