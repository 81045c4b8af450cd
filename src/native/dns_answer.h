/* The native resolver's table (compiled by src/resolver/native-table.ts, format described
 * there) and the answer function shared by the responder thread, the differential test's
 * entry point and the C fuzz harness. Plain C, no Node: testable under valgrind on its own. */
#ifndef CNM_DNS_ANSWER_H
#define CNM_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#define CNM_DNS_MAX_QUERY 4096
/* Header + the longest question (256-byte name, type, class) + the longest record + OPT. */
#define CNM_DNS_MAX_REPLY 1024
#define CNM_DNS_BUCKETS 32

typedef struct cnm_dns_table cnm_dns_table;
typedef struct cnm_dns_network cnm_dns_network;

/* A network's entries (the part of a table after its count), copied and indexed; reference
 * count 1. NULL (and *problem, unless out of memory) when malformed. */
cnm_dns_network *cnm_dns_network_build(const uint8_t *entries, size_t length, uint32_t count, const char **problem);
/* A new network: base with the delta's entries applied. Each delta entry replaces base's entry
 * of the same kind and key (kinds 0 and 1), or removes it (kinds 2 and 3: names and reverse,
 * no records). base is not changed: readers may still hold it. */
cnm_dns_network *cnm_dns_network_derive(const cnm_dns_network *base, const uint8_t *delta, size_t length, uint32_t count, const char **problem);
/* Reference counts change on one thread only (the addon's: JavaScript's). */
void cnm_dns_network_unref(cnm_dns_network *network);
/* Bytes held by every network alive (to tell the JavaScript engine). */
size_t cnm_dns_live_bytes(void);

/* A table from its head (magic up to the slots, as in the compiled format) and its networks,
 * each referenced by the table until it is freed. */
cnm_dns_table *cnm_dns_table_assemble(const uint8_t *head, size_t length, cnm_dns_network *const *networks, uint32_t count, const char **problem);
/* A whole compiled table, copied and indexed; NULL (and *problem) when it is malformed. */
cnm_dns_table *cnm_dns_table_build(const uint8_t *data, size_t length, const char **problem);
void cnm_dns_table_free(cnm_dns_table *table);

/* The view of a listener's slot, or -1 (no table, unknown slot: JavaScript answers). */
int cnm_dns_view_of(const cnm_dns_table *table, uint32_t slot);

/* Writes the reply to msg into out (CNM_DNS_MAX_REPLY bytes) and returns its length, or 0 when
 * the TypeScript path must answer. *qtype gets the question's type when answered. */
size_t cnm_dns_answer(const cnm_dns_table *table, int view, const uint8_t *msg, size_t length, uint8_t *out, uint16_t *qtype);

#endif
