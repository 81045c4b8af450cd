/* The native answer code on its own, for valgrind: builds the table in TABLE (written by
 * native-dump.js), then answers every message of MESSAGES (u32 length + bytes each) for every
 * slot, and prints how many were answered. Memory errors or leaks show in valgrind's report:
 *   gcc -O1 -g -Isrc/native bench/dns/answer-check.c src/native/dns_answer.c -o /tmp/answer-check
 *   valgrind --error-exitcode=1 --leak-check=full /tmp/answer-check TABLE MESSAGES */
#include <stdio.h>
#include <stdlib.h>

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
  cnm_dns_table_free(table);
  free(table_bytes);
  free(messages);
  return 0;
}
