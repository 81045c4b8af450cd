/* The native answer code on its own, for valgrind: builds the table in TABLE (written by
 * native-dump.js), then answers every message of MESSAGES (u32 length + bytes each) for every
 * slot, and prints how many were answered; then derives networks change by change (random
 * entries, deletions, and each delta cut short or with a byte flipped, which must be refused)
 * and checks every key's lookup against what was last sent for it. Memory errors or leaks
 * show in valgrind's report:
 *   gcc -O1 -g -Isrc/native bench/dns/answer-check.c src/native/dns_answer.c -o /tmp/answer-check
 *   valgrind --error-exitcode=1 --leak-check=full /tmp/answer-check TABLE MESSAGES */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_answer.h"

static unsigned char *slurp(const char *path, size_t *length) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
  *length = fread(data, 1, (size_t)size, f);
  fclose(f);
  return data;
}

/* A name entry for key number k (kind 0 or 1), with an A record or none; returns its size. */
static size_t put_entry(unsigned char *out, unsigned kind, unsigned k, int with_record) {
  /* The key as records.ts makes it: the wire name, here the one label "k<k>". */
  char label[16];
  int length = snprintf(label, sizeof label, "k%u", k) + 2;
  out[0] = (unsigned char)kind;
  out[1] = (unsigned char)length;
  out[2] = (unsigned char)(length - 2);
  memcpy(out + 3, label, (size_t)length - 2);
  out[1 + length] = 0;
  unsigned char *lengths = out + 2 + length;
  memset(lengths, 0, 6);
  if (!with_record || kind >= 2) return 8 + (size_t)length;
  if (kind == 0) {
    lengths[0] = 16;
    memset(lengths + 6, (int)(k & 0xff), 16);
    return 8 + (size_t)length + 16;
  }
  lengths[4] = 13;
  memset(lengths + 6, (int)(k & 0xff), 13);
  return 8 + (size_t)length + 13;
}

/* Derived networks answer as the deltas said: 2,000 steps over 500 keys of both kinds. */
static int check_derive(void) {
  enum { KEYS = 500 };
  static int expected[2][KEYS]; /* 0 absent, 1 present */
  unsigned char delta[64 * 64];
  const char *problem;
  unsigned seed = 7;
  cnm_dns_network *net = cnm_dns_network_build(delta, 0, 0, &problem);
  if (net == NULL) return fprintf(stderr, "empty network refused: %s\n", problem), 1;
  for (int step = 0; step < 2000; step++) {
    size_t length = 0;
    unsigned count = 1 + (seed = seed * 1103515245u + 12345u) % 40;
    for (unsigned i = 0; i < count; i++) {
      seed = seed * 1103515245u + 12345u;
      unsigned k = (seed >> 8) % KEYS, kind = (seed >> 20) & 1, remove = ((seed >> 24) % 3) == 0;
      length += put_entry(delta + length, kind + (remove ? 2 : 0), k, 1);
      expected[kind][k] = !remove;
    }
    /* A cut or corrupted delta is refused, and leaves net as it was. */
    cnm_dns_network *bad = cnm_dns_network_derive(net, delta, length - 1, count, &problem);
    if (bad != NULL) return fprintf(stderr, "a cut delta was accepted at step %d\n", step), 1;
    unsigned char saved = delta[0];
    delta[0] = 9;
    bad = cnm_dns_network_derive(net, delta, length, count, &problem);
    delta[0] = saved;
    if (bad != NULL) return fprintf(stderr, "a delta of kind 9 was accepted at step %d\n", step), 1;
    cnm_dns_network *next = cnm_dns_network_derive(net, delta, length, count, &problem);
    if (next == NULL) return fprintf(stderr, "step %d: %s\n", step, problem ? problem : "out of memory"), 1;
    cnm_dns_network_unref(net);
    net = next;
  }
  /* Every key, through a one-network table. */
  unsigned char head[40] = {0x43, 0x4e, 0x4d, 0x54, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                            0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  cnm_dns_table *table = cnm_dns_table_assemble(head, 40, &net, 1, &problem);
  cnm_dns_network_unref(net);
  if (table == NULL) return fprintf(stderr, "assemble: %s\n", problem), 1;
  int wrong = 0;
  for (unsigned kind = 0; kind < 2; kind++) {
    for (unsigned k = 0; k < KEYS; k++) {
      /* "k<k>" asked for A (kind 0) or PTR (kind 1): answered with one record exactly when the
       * last delta naming that key and kind carried it. */
      unsigned char msg[64] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
      char label[16];
      int length = snprintf(label, sizeof label, "k%u", k);
      msg[12] = (unsigned char)length;
      memcpy(msg + 13, label, (size_t)length);
      unsigned char *tail = msg + 13 + length;
      tail[0] = 0;
      tail[1] = 0;
      tail[2] = kind == 0 ? 1 : 12;
      tail[3] = 0;
      tail[4] = 1;
      unsigned char out[CNM_DNS_MAX_REPLY];
      unsigned short qtype;
      size_t reply = cnm_dns_answer(table, 0, msg, (size_t)(tail + 5 - msg), out, &qtype);
      int answered = reply > 0 && out[7] == 1;
      if (answered != expected[kind][k]) {
        if (wrong++ < 5) fprintf(stderr, "key k%u kind %u: answered %d, expected %d\n", k, kind, answered, expected[kind][k]);
      }
    }
  }
  cnm_dns_table_free(table);
  return wrong;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  size_t table_length, messages_length;
  unsigned char *table_bytes = slurp(argv[1], &table_length);
  unsigned char *messages = slurp(argv[2], &messages_length);
  if (table_bytes == NULL || messages == NULL) return 2;
  const char *problem;
  cnm_dns_table *table = cnm_dns_table_build(table_bytes, table_length, &problem);
  if (table == NULL) {
    fprintf(stderr, "table: %s\n", problem);
    return 1;
  }
  /* Every truncation of the table must be refused without reading past it. */
  for (size_t cut = 0; cut < table_length; cut += 1 + cut / 8) {
    cnm_dns_table *partial = cnm_dns_table_build(table_bytes, cut, &problem);
    if (partial != NULL) {
      fprintf(stderr, "a table cut at %zu bytes was accepted\n", cut);
      return 1;
    }
  }
  unsigned long count = 0, answered = 0;
  unsigned char out[CNM_DNS_MAX_REPLY];
  for (size_t pos = 0; pos + 4 <= messages_length;) {
    size_t length = messages[pos] | messages[pos + 1] << 8 | messages[pos + 2] << 16 | (size_t)messages[pos + 3] << 24;
    pos += 4;
    if (pos + length > messages_length) break;
    /* Its own allocation, so that a read past the message is a read past a block. */
    unsigned char *msg = malloc(length ? length : 1);
    for (size_t i = 0; i < length; i++) msg[i] = messages[pos + i];
    for (int slot = 0; slot < 5; slot++) {
      unsigned short qtype;
      int view = cnm_dns_view_of(table, (unsigned)slot);
      if (view >= 0 && cnm_dns_answer(table, view, msg, length, out, &qtype) > 0) answered++;
    }
    free(msg);
    count++;
    pos += length;
  }
  printf("%lu messages, %lu native answers over 5 slots\n", count, answered);
  if (check_derive() != 0) return 1;
  printf("2000 derived networks answer as their deltas said\n");
  cnm_dns_table_free(table);
  free(table_bytes);
  free(messages);
  return 0;
}
