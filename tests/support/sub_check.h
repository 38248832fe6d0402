/* tests/support/sub_check.h - driving the independent Python subscribers of the transport
 * tests (tests/ext/TRANSPORT/TRANSPORT_sub.py, checker tests/ext/common/wire_check.py). */
#ifndef KVBM_TEST_SUB_CHECK_H
#define KVBM_TEST_SUB_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "kvbm/publisher.h"
#include "support/proc.h"

/* The subscriber's RESULT line. */
typedef struct sub_result {
    long unique, dups, vectors, bad, inorder, max, total;
    char err[128];
} sub_result;

/* Send @end_cmd (e.g. "END\n") and parse the RESULT line that answers it (30 s at most). */
bool sub_result_read(test_proc *sub, const char *end_cmd, sub_result *r);

/* Publish the spec's three vectors (if @vectors) and generated messages [from, to) (every
 * @stride-th from @from). Returns the number of publish calls that failed. */
int publish_range(kvbm_publisher *p, const char *subject, uint64_t from, uint64_t to, uint64_t stride,
                  bool vectors);

/* Publish generated messages [0, threads * per_thread) from @threads threads (thread t the
 * messages i with i % threads == t, ascending) while the calling thread runs @probe(@p) 50
 * times (counter reads, short flushes racing the publishers). Returns the number of failed
 * publish calls, or -1 if a thread could not be started. */
int publish_concurrently(kvbm_publisher *p, const char *subject, int threads, int per_thread,
                         void (*probe)(kvbm_publisher *p));

#endif
