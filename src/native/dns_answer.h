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

/* Copies and indexes a compiled table; NULL (and *problem) when it is malformed. */
cnm_dns_table *cnm_dns_table_build(const uint8_t *data, size_t length, const char **problem);
void cnm_dns_table_free(cnm_dns_table *table);

/* The view of a listener's slot, or -1 (no table, unknown slot: JavaScript answers). */
int cnm_dns_view_of(const cnm_dns_table *table, uint32_t slot);

/* Writes the reply to msg into out (CNM_DNS_MAX_REPLY bytes) and returns its length, or 0 when
 * the TypeScript path must answer. *qtype gets the question's type when answered. */
size_t cnm_dns_answer(const cnm_dns_table *table, int view, const uint8_t *msg, size_t length, uint8_t *out, uint16_t *qtype);

#endif
